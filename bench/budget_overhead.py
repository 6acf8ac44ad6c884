"""Cost of budget forcing on one server: ``python -m bench.budget_overhead``.

Sends rounds of ``--concurrency`` greedy chat requests to one server, alternating
plain requests and budgeted ones, and reports completion tokens/s per kind and
the median paired ratio (budgeted / plain). ``max-1000`` is a budget that never
binds (same tokens as plain: the processor's pure overhead); ``waits-1`` forces a
Wait into every request. Ratios from one run on one engine; machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from contextlib import nullcontext

import httpx

from bench.server_process import running_server
from tinymodel.task import held_out_problems

KINDS: dict[str, dict[str, int]] = {
    "plain": {},
    "max-1000": {"max_thinking_tokens": 1000},
    "waits-1": {"min_thinking_waits": 1},
}


async def one_round(client: httpx.AsyncClient, questions: list[str], fields: dict[str, int]) -> float:
    async def one(question: str) -> int:
        body = {"messages": [{"role": "user", "content": question}], "temperature": 0, **fields}
        response = await client.post("/v1/chat/completions", json=body)
        response.raise_for_status()
        return int(response.json()["usage"]["completion_tokens"])

    started = time.perf_counter()
    tokens = sum(await asyncio.gather(*(one(q) for q in questions)))
    return tokens / (time.perf_counter() - started)


async def measure(base_url: str, concurrency: int, repeats: int) -> dict[str, object]:
    questions = [p.question for p in held_out_problems(concurrency, seed=3)]
    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
        await one_round(client, questions, {})  # warm-up
        for _ in range(repeats):
            for kind, fields in KINDS.items():
                rates[kind].append(await one_round(client, questions, fields))
    ratios = {
        kind: round(statistics.median(b / p for b, p in zip(rates[kind], rates["plain"], strict=True)), 3)
        for kind in KINDS
        if kind != "plain"
    }
    medians = {kind: round(statistics.median(values), 1) for kind, values in rates.items()}
    return {"concurrency": concurrency, "repeats": repeats, "tokens_per_s": medians, "ratio_vs_plain": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="A running server; default: start one here.")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with nullcontext(args.base_url) if args.base_url else running_server() as base_url:
        print(json.dumps(asyncio.run(measure(base_url, args.concurrency, args.repeats))), flush=True)


if __name__ == "__main__":
    main()
