"""Serving throughput of ``python -m server``: ``python -m bench.throughput``.

Starts the server (or uses ``--base-url``), then for each concurrency level sends
``--requests`` greedy chat requests through the OpenAI SDK with that many in flight,
and reports engine start time, completion tokens/s and latency. Machines are noisy:
compare numbers from one run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from contextlib import nullcontext

import openai

from bench.server_process import running_server
from tinymodel.task import held_out_problems


async def measure(base_url: str, concurrency: int, requests: int, max_tokens: int) -> dict[str, float]:
    client = openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=600)
    problems = held_out_problems(requests, seed=99)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(question: str) -> int:
        async with gate:
            started = time.perf_counter()
            completion = await client.chat.completions.create(
                model="tiny-reasoner",
                messages=[{"role": "user", "content": question}],
                temperature=0,
                max_tokens=max_tokens,
            )
            latencies.append(time.perf_counter() - started)
            return completion.usage.completion_tokens if completion.usage else 0

    started = time.perf_counter()
    tokens = sum(await asyncio.gather(*(one(p.question) for p in problems)))
    wall = time.perf_counter() - started
    await client.close()
    return {
        "concurrency": concurrency,
        "requests": requests,
        "completion_tokens": tokens,
        "wall_s": round(wall, 3),
        "tokens_per_s": round(tokens / wall, 1),
        "latency_p50_s": round(statistics.median(latencies), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="A running server; default: start one here.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    started = time.perf_counter()
    with nullcontext(args.base_url) if args.base_url else running_server() as base_url:
        if not args.base_url:
            print(f"server ready in {time.perf_counter() - started:.1f}s (process start to /health 200)", flush=True)
        for level in args.concurrency:
            row = asyncio.run(measure(base_url, level, max(args.requests, level), args.max_tokens))
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
