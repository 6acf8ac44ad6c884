"""The budget kernel on a CUDA GPU: ``python -m bench.kernel_cuda`` (torch only: no vLLM needed).

At batch 256 x 151,936 (Qwen3's vocabulary), every row budgeted and guarding its end:

1. **No host sync**: a step runs under ``torch.cuda.set_sync_debug_mode("error")`` (any
   synchronizing call raises), and is captured into a CUDA graph (capture fails on a sync or a
   host read of a device value).
2. **Time**: CUDA events around ``--steps`` steps, eager (as Model Runner V2 runs it) and as a
   replayed graph; the batch's sampling (argmax / softmax + exponential race) for reference.
3. **Share of a decode step**: the matmuls of one decode step of a Qwen3-8B-shaped model at the
   same batch (36 layers of QKV, O, gate-up and down projections, then the LM head; bf16), timed
   the same way. Target: the eager kernel ≤ 1% of it.

Prints a table and writes ``kernel_cuda.json`` / ``.md`` under ``bench/results`` (or ``$OUT``).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from bench.kernel_timing import VOCAB, budgeted_batch

HIDDEN, INTERMEDIATE, KV, LAYERS = 4096, 12288, 1024, 36  # Qwen3-8B


def cuda_ms(fn: Callable[[], object], steps: int) -> float:
    """Mean milliseconds per call, by CUDA events around ``steps`` calls (after a warm-up)."""
    for _ in range(3):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    start.record()
    for _ in range(steps):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / steps


def decode_step(batch: int) -> Callable[[], object]:
    """The matmuls of one decode step of a Qwen3-8B-shaped model (weights of one layer reused: 0.4 GB > L2)."""
    dev, dt = "cuda", torch.bfloat16
    x = torch.randn(batch, HIDDEN, device=dev, dtype=dt)
    qkv = torch.randn(HIDDEN, HIDDEN + 2 * KV, device=dev, dtype=dt)
    o = torch.randn(HIDDEN, HIDDEN, device=dev, dtype=dt)
    up = torch.randn(HIDDEN, 2 * INTERMEDIATE, device=dev, dtype=dt)
    down = torch.randn(INTERMEDIATE, HIDDEN, device=dev, dtype=dt)
    head = torch.randn(HIDDEN, VOCAB, device=dev, dtype=dt)

    def run() -> torch.Tensor:
        h = x
        for _ in range(LAYERS):
            h = (h @ qkv)[:, :HIDDEN] @ o
            h = (h @ up)[:, :INTERMEDIATE] @ down
        return h @ head

    return run


def no_sync(step: Callable[[], object]) -> torch.cuda.CUDAGraph:
    """Run a step with sync detection on, then capture it in a CUDA graph; the graph's replay is returned."""
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench.kernel_cuda needs a CUDA GPU (torch.cuda.is_available() is False here)")
    rows = []
    matmuls = cuda_ms(decode_step(args.batch), 20)
    for mode, temperature in (("greedy", 0.0), ("sampled", 1.0)):
        batch = budgeted_batch(args.batch, "cuda", temperature)
        graph = no_sync(batch.step)  # raises if the step syncs or cannot be captured
        eager = cuda_ms(batch.step, args.steps)
        replay = cuda_ms(graph.replay, args.steps)
        sampling = cuda_ms(batch.sample, args.steps)
        rows.append({
            "mode": mode, "batch": args.batch, "vocab": VOCAB, "host_syncs": 0, "kernel_ms": eager,
            "kernel_graph_ms": replay, "sampling_ms": sampling, "decode_matmuls_ms": matmuls,
            "kernel_share_of_decode": eager / matmuls, "graph_share_of_decode": replay / matmuls,
        })  # fmt: skip
    columns = list(rows[0])
    table = "\n".join(
        ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
        + ["| " + " | ".join(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in columns) + " |"
           for row in rows]
    )  # fmt: skip
    device = torch.cuda.get_device_name()
    print(table, f"\n\n{device}, torch {torch.__version__}")
    out = Path(os.environ.get("OUT") or Path(__file__).parent / "results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "kernel_cuda.json").write_text(json.dumps({"device": device, "torch": torch.__version__, "rows": rows}))
    (out / "kernel_cuda.md").write_text(
        f"# The budget kernel on {device}\n\n{table}\n\nCommand: `python -m bench.kernel_cuda`\n"
    )


if __name__ == "__main__":
    main()
