"""Held-out accuracy of the shipped model against forced ``Wait``s: ``python -m tinymodel.evaluate``.

Runs s1's reference procedure (``bench.s1_reference``) on the real vLLM engine,
greedy, for 0, 1, 2 forced Waits, and prints accuracy, well-formed share and mean
thinking tokens per setting (also as JSON with ``--json``). With ``--skills``, the rates
of the other skills instead (tool calls, tool results, JSON answers: ``tinymodel.skills``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.s1_reference import Budget, ForcingTokens, run_reference
from server.ops.settings import SHIPPED_MODEL
from tinymodel.task import held_out_problems, is_well_formed, parse_answer


def evaluate(model: str, problems: int, waits: list[int]) -> list[dict[str, float]]:
    from vllm import LLM

    started = time.monotonic()
    llm = LLM(model, gpu_memory_utilization=0.2, enforce_eager=True, seed=0)
    print(f"engine ready in {time.monotonic() - started:.1f}s", flush=True)
    tokenizer = llm.get_tokenizer()
    tokens = ForcingTokens.from_tokenizer(tokenizer)
    held_out = held_out_problems(problems)
    prompts = [
        tokenizer.encode(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p.question}], tokenize=False, add_generation_prompt=True
            ),
            add_special_tokens=False,
        )
        for p in held_out
    ]
    rows = []
    for n in waits:
        traces = run_reference(llm, prompts, Budget(min_waits=n), tokens)
        texts = [tokenizer.decode(t.output_ids, skip_special_tokens=True) for t in traces]
        correct = sum(parse_answer(text) == p.answer for text, p in zip(texts, held_out, strict=True))
        well_formed = sum(is_well_formed(text) for text in texts)
        thinking = sum(len(t.thinking) for t in traces) / len(traces)
        row = {
            "forced_waits": n,
            "accuracy": correct / len(held_out),
            "well_formed": well_formed / len(held_out),
            "mean_thinking_tokens": thinking,
        }
        accuracy, formed = row["accuracy"], row["well_formed"]
        print(f"waits={n}  accuracy={accuracy:.1%}  well-formed={formed:.1%}  thinking={thinking:.1f}", flush=True)
        rows.append(row)
    return rows


def skills(model: str, problems: int) -> dict[str, float]:
    from vllm import LLM

    from tinymodel.skills import evaluate_skills

    rates = evaluate_skills(LLM(model, gpu_memory_utilization=0.2, enforce_eager=True, seed=0), problems)
    for name, rate in rates.items():
        print(f"{rate:7.1%}  {name}", flush=True)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHIPPED_MODEL))
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--waits", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path, help="Also write the rows here.")
    parser.add_argument("--skills", action="store_true", help="Tool-call and JSON rates instead.")
    args = parser.parse_args()
    if args.skills:
        rows = skills(args.model, args.problems)
    else:
        rows = evaluate(args.model, args.problems, args.waits)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
