"""Cost of budget forcing inside the decode: ``python -m bench.forcing_cost``.

One batch of ``--concurrency`` greedy requests, each decoding exactly ``--tokens``
tokens (``ignore_eos``: every kind does the same work), on two engines in one
process:

- ``unregistered``: an engine without our logits processor (vLLM as shipped);
- ``plain``: our engine (processor registered), requests without a budget;
- ``max-never-binds``: a maximum far above ``--tokens``: the processor replays
  every row and guards EOS at every step;
- ``waits-always``: a minimum that never lets go: the guard path at every step
  (argmax test, end tokens masked, a ``Wait`` forced at each attempt to end).

Rounds run every kind once, in a rotating order; each kind's throughput is
divided by ``unregistered``'s of the same round and the median over rounds is
reported, with the per-step time (wall / tokens: the inter-token latency of a
full batch). Machines are noisy: trust ratios from one run, not absolute numbers.

``--kernel``: the budget kernel alone (no engine), one decode step at each batch size of
``--batches`` over Qwen3's vocabulary (151,936), every row budgeted and on the guard
path; against the sampling of the same batch (:mod:`bench.kernel_timing`). Median of
``--repeats`` steps, greedy and sampled. ``python -m bench.kernel_cuda`` is the same on a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.families import build_model
from bench.offline import budget_extra_args, chat_prompts, load_llm, timed_generate
from bench.report import RESULTS, markdown_table, ratio_bars, write_results

KINDS: dict[str, dict[str, int] | None] = {
    "unregistered": None,
    "plain": {},
    "max-never-binds": {"max_thinking_tokens": 1_000_000},
    "waits-always": {"min_thinking_waits": 1_000_000},
}


def params_for(llm: Any, fields: dict[str, int] | None, tokens: int) -> Any:
    from vllm import SamplingParams

    extra = budget_extra_args(llm, fields) if fields else None
    # No detokenizing: its cost depends on which tokens come out (a forced Wait detokenizes faster than random
    # multi-byte text), and on two cores it competes with the engine; the processor's cost is the question here.
    return SamplingParams(
        temperature=0.0, max_tokens=tokens, min_tokens=tokens, ignore_eos=True, extra_args=extra, detokenize=False
    )


def measure(concurrency: int, tokens: int, repeats: int, model: str = "") -> list[dict[str, Any]]:
    engines = {"unregistered": load_llm(processor=False, model=model), "ours": load_llm(processor=True, model=model)}
    prompts = chat_prompts(engines["ours"].get_tokenizer(), concurrency)
    names = list(KINDS)
    rates: dict[str, list[float]] = {name: [] for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm-up: first batches pay for allocation
        llm = engines["unregistered" if name == "unregistered" else "ours"]
        timed_generate(llm, prompts, params_for(llm, KINDS[name], tokens))
    for round_ in tqdm(range(repeats), desc="rounds"):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        walls = {}
        for name in order:
            llm = engines["unregistered" if name == "unregistered" else "ours"]
            wall, outputs = timed_generate(llm, prompts, params_for(llm, KINDS[name], tokens))
            assert all(len(o.outputs[0].token_ids) == tokens for o in outputs), name
            walls[name] = wall
        for name in names:
            rates[name].append(concurrency * tokens / walls[name])
            ratios[name].append(walls["unregistered"] / walls[name])
    return [
        {
            "kind": name,
            "tokens_per_s": statistics.median(rates[name]),
            "step_ms": 1000 * concurrency * tokens / statistics.median(rates[name]) / tokens,
            "throughput_vs_unregistered": statistics.median(ratios[name]),
        }
        for name in names
    ]


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Each kind's throughput against ``unregistered``'s, with the 0.97 target: the budget may cost at most 3%."""
    ratio_bars(
        path,
        [row["kind"] for row in rows],
        {"throughput vs no processor": [row["throughput_vs_unregistered"] for row in rows]},
        baseline="no processor (1.0\N{MULTIPLICATION SIGN})",
        target=(0.97, "target ≥ 0.97\N{MULTIPLICATION SIGN}"),
        title="Cost of budget forcing (throughput vs no processor)",
        ylabel="throughput / no processor's (higher is better)",
        ylim=(0.8, 1.1),
    )


def measure_kernel(batches: list[int], repeats: int) -> list[dict[str, Any]]:
    import torch

    from bench.kernel_timing import budgeted_batch, cpu_seconds

    rows = []
    with torch.inference_mode():  # as vLLM's engine runs the sampler
        for batch in tqdm(batches, desc="batch sizes"):
            row: dict[str, Any] = {"batch": batch}
            for mode, temperature in (("greedy", 0.0), ("sampled", 1.0)):
                setup = budgeted_batch(batch, "cpu", temperature)
                row[f"{mode}_kernel_us"] = 1e6 * cpu_seconds(setup.step, repeats)
                row[f"{mode}_sampling_us"] = 1e6 * cpu_seconds(setup.sample, repeats)
                row[f"{mode}_kernel_vs_sampling"] = row[f"{mode}_kernel_us"] / row[f"{mode}_sampling_us"]
                guarded = budgeted_batch(batch, "cpu", temperature, guard=True)  # the loop guard on every row too
                row[f"{mode}_guarded_us"] = 1e6 * cpu_seconds(guarded.step, repeats)
                row[f"{mode}_guarded_vs_sampling"] = row[f"{mode}_guarded_us"] / row[f"{mode}_sampling_us"]
            rows.append(row)
    return rows


def kernel_main(args: argparse.Namespace) -> None:
    rows = measure_kernel(args.batches, args.repeats)
    columns = list(rows[0])
    table = markdown_table(rows, columns)
    print(table)
    name = args.out_name or "forcing_cost-kernel"
    notes = (
        "One step of the budget kernel (state update from each row's new token, decision, logits edit) with every "
        "row budgeted and guarding its end, vocabulary 151,936, on this machine's CPU; against the same batch's "
        f"sampling (greedy: argmax; sampled: softmax + exponential race). Median of {args.repeats} steps each. "
        "guarded: the same batch with the loop guard on every row (its watch and both loop rules every step)."
    )
    settings = {"batches": args.batches, "repeats": args.repeats, "vocab": 151_936}
    write_results(name, {"settings": settings, "rows": rows}, table, title="Cost of the budget kernel", notes=notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=256, help="Tokens decoded per request.")
    parser.add_argument("--repeats", type=int, help="Rounds (default 5), or --kernel: steps (default 50).")
    parser.add_argument("--quick", action="store_true", help="A smoke run (CI): 16 requests, 32 tokens, 1 round.")
    parser.add_argument("--out-name", help="Results name under bench/results (default forcing_cost[-quick|-kernel]).")
    parser.add_argument("--kernel", action="store_true", help="The kernel alone, no engine (see above).")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64, 128, 256])
    parser.add_argument(
        "--family",
        help="A random model with a real vocabulary instead of the shipped one (bench.families: qwen3 has "
        "151,936 logits per row); its lm_head and sampling dominate a step, so this is the processor's cost at "
        "its largest share.",
    )
    args = parser.parse_args()
    if args.kernel:
        args.repeats = args.repeats or 50
        if args.quick:
            args.batches, args.repeats = [1, 8], 3
        return kernel_main(args)
    args.repeats = args.repeats or 5
    if args.quick:
        args.concurrency, args.tokens, args.repeats = 16, 32, 1
    with tempfile.TemporaryDirectory() as scratch:
        model = str(build_model(args.family, Path(scratch))) if args.family else ""
        rows = measure(args.concurrency, args.tokens, args.repeats, model)
    plain = next(r for r in rows if r["kind"] == "plain")
    for row in rows:
        row["throughput_vs_plain"] = row["tokens_per_s"] / plain["tokens_per_s"]
    columns = ["kind", "tokens_per_s", "step_ms", "throughput_vs_unregistered", "throughput_vs_plain"]
    table = markdown_table(rows, columns)
    print(table)
    name = args.out_name or ("forcing_cost-quick" if args.quick else "forcing_cost")
    settings = {"concurrency": args.concurrency, "tokens": args.tokens, "repeats": args.repeats, "family": args.family}
    model = f"the random {args.family} model (bench.families)" if args.family else "the shipped model"
    notes = (
        f"{model}; {args.concurrency} concurrent greedy requests, {args.tokens} tokens each (ignore_eos), median of "
        f"{args.repeats} rounds; ratios are per round against `unregistered` (an engine without the processor)."
    )
    table += f"\n\n![throughput against no processor, per kind]({name}.png)"
    write_results(name, {"settings": settings, "rows": rows}, table, title="Cost of budget forcing", notes=notes)
    plot(rows, RESULTS / f"{name}.png")


if __name__ == "__main__":
    main()
