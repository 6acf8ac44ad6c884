"""``/metrics`` on the real engine: vLLM's metrics and ours, moved by exactly the traffic sent."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from bench.server_process import running_server
from tests.deploy.test_dashboards import dashboard_metrics
from tests.scrape import Samples, names, parse, value

pytestmark = pytest.mark.engine
QUESTION = [{"role": "user", "content": "What is 482 + 397?"}]
BUDGETS = [
    {"min_thinking_waits": 1},
    {"min_thinking_waits": 2},
    {"max_thinking_tokens": 5},
    {"max_thinking_tokens": 0},
    {"min_thinking_tokens": 120},
    {"max_thinking_tokens": 1000, "n": 2, "seed": 3, "temperature": 1.0},
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_server() as url:
        yield url


def scrape(base_url: str) -> Samples:
    return parse(httpx.get(f"{base_url}/metrics").text)


async def traffic(base_url: str) -> list[dict]:
    """Budgeted and plain chats at once, one of them streamed; the responses' usage and budget reports."""
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:

        async def plain(extra: dict) -> dict:
            body = {"messages": QUESTION, "temperature": 0, **extra}
            response = await client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text
            return response.json()

        async def streamed() -> dict:
            body = {"messages": QUESTION, "temperature": 0, "stream": True, "min_thinking_waits": 1,
                    "stream_options": {"include_usage": True}}  # fmt: skip
            reply: dict = {"choices": []}
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {"):
                        chunk = json.loads(line.removeprefix("data: "))
                        reply["choices"] += [c for c in chunk["choices"] if c.get("thinking_budget")]
                        reply["usage"] = chunk.get("usage") or reply.get("usage")
            return reply

        unbudgeted = [plain({}), plain({"n": 2, "seed": 1, "temperature": 1.0})]
        return await asyncio.gather(*(plain(b) for b in BUDGETS), *unbudgeted, streamed())


def settled(base_url: str, done: int, before: Samples) -> Samples:
    """A scrape once vLLM has recorded ``done`` more finished choices (it records as outputs are processed)."""
    for _ in range(50):
        after = scrape(base_url)
        if value(after, "vllm:request_success_total") - value(before, "vllm:request_success_total") >= done:
            return after
        time.sleep(0.1)
    return after


def test_counters_move_by_the_traffic_sent(base_url: str) -> None:
    before = scrape(base_url)
    replies = asyncio.run(traffic(base_url))
    assert httpx.post(f"{base_url}/v1/chat/completions", json={"messages": QUESTION, "n": 0}).status_code == 400
    choices = [c for r in replies for c in r["choices"]]
    reports = [c["thinking_budget"] for c in choices if c.get("thinking_budget")]
    after = settled(base_url, len(choices), before)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    model = {"model": "tiny-reasoner"}
    assert moved("thinkserve_budget_requests_total", **model) == len(BUDGETS) + 1
    assert moved("thinkserve_budget_waits_inserted_total", **model) == sum(r["waits"] for r in reports) >= 5
    assert moved("thinkserve_budget_forced_ends_total", **model) == sum(r["forced_end"] for r in reports) == 2
    assert moved("thinkserve_budget_max_choices_total", **model) == 4
    assert moved("thinkserve_thinking_tokens_count", **model) == len(choices) == 11  # every choice
    reasoning = sum(r["usage"]["completion_tokens_details"]["reasoning_tokens"] for r in replies)
    assert moved("thinkserve_thinking_tokens_sum", **model) == reasoning
    assert moved("thinkserve_time_to_first_token_seconds_count", **model) == 1
    chat = {"handler": "/v1/chat/completions"}
    assert moved("thinkserve_http_requests_total", **chat, status="200") == len(replies)
    assert moved("thinkserve_http_requests_total", **chat, status="400") == 1
    assert moved("thinkserve_rejected_requests_total", reason="invalid_request") == 1
    # vLLM's engine metrics, from the same process and the same scrape.
    assert moved("vllm:request_success_total", model_name="tiny-reasoner") == len(choices)  # vLLM counts choices
    generated = sum(r["usage"]["completion_tokens"] for r in replies)
    assert moved("vllm:generation_tokens_total", model_name="tiny-reasoner") == generated
    assert moved("vllm:e2e_request_latency_seconds_count") == len(choices)
    assert value(after, "vllm:num_requests_running") == 0


def test_every_metric_a_dashboard_queries_is_in_a_live_scrape(base_url: str) -> None:
    """vLLM's habit: the dashboards may only query what the server really exposes (after some traffic)."""
    asyncio.run(traffic(base_url))  # budgeted (with maxima), plain and streamed requests
    httpx.post(f"{base_url}/v1/chat/completions", json={"messages": QUESTION, "n": 0})  # a rejection
    exposed = names(scrape(base_url))
    assert dashboard_metrics() - exposed == set()
