"""The benchmark harness keeps working: quick runs of the offline benchmarks, their plots, and the report writer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import forcing_cost, vs_reference
from bench.report import RESULTS, markdown_table, write_results

PNG = b"\x89PNG\r\n\x1a\n"


def test_markdown_table_formats_numbers_and_blanks() -> None:
    table = markdown_table([{"a": 1.23456, "b": None}, {"a": 12345.6, "b": True}], ["a", "b"])
    assert table.splitlines() == ["| a | b |", "| --- | --- |", "| 1.23 |  |", "| 12,346 | True |"]


def test_results_record_the_command_and_the_machine() -> None:
    path = write_results("report-test", {"rows": [1]}, "| x |", title="T", notes="n")
    data = json.loads((RESULTS / "report-test.json").read_text())
    assert data["rows"] == [1] and data["command"].startswith("python -m ")
    assert {"cpu", "cores", "python", "torch", "vllm", "commit", "date"} <= set(data["machine"])
    assert path.read_text().startswith("# T\n\n| x |\n\nn\n\nCommand: `python -m ")


def test_forcing_cost_plot_writes_a_png(tmp_path: Path) -> None:
    kinds = {"unregistered": 1.0, "plain": 1.02, "max-never-binds": 1.01, "waits-always": 0.6}  # 0.6: below the zoom
    rows = [{"kind": kind, "throughput_vs_unregistered": ratio} for kind, ratio in kinds.items()]
    forcing_cost.plot(rows, tmp_path / "forcing_cost.png")
    data = (tmp_path / "forcing_cost.png").read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000


def test_vs_reference_plot_writes_a_png(tmp_path: Path) -> None:
    rows = [
        {"budget": "waits-1", "reference_vs_ideal": 1.24, "ours_vs_ideal": 1.06},
        {"budget": "waits-1 (+400 prompt tokens)", "reference_vs_ideal": 1.05, "ours_vs_ideal": 0.99},
    ]
    vs_reference.plot(rows, tmp_path / "vs_reference.png")
    data = (tmp_path / "vs_reference.png").read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000


def run_quick(module: str) -> dict:
    name = f"{module}-test"
    subprocess.run([sys.executable, "-m", f"bench.{module}", "--quick", "--out-name", name], check=True, timeout=600)
    return json.loads((RESULTS / f"{name}.json").read_text())


@pytest.mark.engine
def test_forcing_cost_quick_run() -> None:
    rows = {row["kind"]: row for row in run_quick("forcing_cost")["rows"]}
    assert set(rows) == {"unregistered", "plain", "max-never-binds", "waits-always"}
    assert all(row["tokens_per_s"] > 0 for row in rows.values())


@pytest.mark.engine
def test_vs_reference_quick_run_gives_the_reference_s_tokens() -> None:
    rows = run_quick("vs_reference")["rows"]
    assert rows and all(row["same_tokens"] for row in rows)
    assert all(row["thinking_tokens"] > 0 and row["ideal_s"] > 0 for row in rows)


def test_forcing_cost_kernel_mode_times_kernel_and_sampling() -> None:
    name = "forcing_cost-kernel-test"
    command = [sys.executable, "-m", "bench.forcing_cost", "--kernel", "--quick", "--out-name", name]
    subprocess.run(command, check=True, timeout=600)
    rows = json.loads((RESULTS / f"{name}.json").read_text())["rows"]
    assert [row["batch"] for row in rows] == [1, 8]
    assert all(
        row[f"{mode}_kernel_us"] > 0 and row[f"{mode}_sampling_us"] > 0
        for row in rows
        for mode in ("greedy", "sampled")
    )
