"""``cached_tokens``: the engine's prefix-cache hits in every API's usage, streamed and not (scripted engine)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from fastapi.testclient import TestClient

from tests.api.test_messages import stream as message_events
from tests.api.test_responses_stream import stream as response_events
from tests.fakes import FakeEngine

USER = [{"role": "user", "content": "What is 12 + 34?"}]


@pytest.fixture
def cached(engine: FakeEngine) -> FakeEngine:
    engine.cached_tokens = 3
    return engine


def last_usage(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = {**body, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", path, json=request) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: {")]
    usage: dict[str, Any] = json.loads(lines[-1].removeprefix("data: "))["usage"]
    return usage


def test_chat_reports_the_prefix_caches_hits(client: TestClient, cached: FakeEngine) -> None:
    usage = client.post("/v1/chat/completions", json={"messages": USER}).json()["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 3}
    assert openai.types.CompletionUsage.model_validate(usage).prompt_tokens_details.cached_tokens == 3  # type: ignore[union-attr]
    assert last_usage(client, "/v1/chat/completions", {"messages": USER}) == usage


def test_completions_count_each_prompts_hits_once(client: TestClient, cached: FakeEngine) -> None:
    """Per prompt, as prompt_tokens counts each prompt once: n choices share their prompt's hits."""
    body = {"prompt": ["12+34", "5+6"], "n": 2, "max_tokens": 3}
    usage = client.post("/v1/completions", json=body).json()["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 6}
    assert last_usage(client, "/v1/completions", body)["prompt_tokens_details"] == {"cached_tokens": 6}


def test_no_hits_is_zero_not_absent(client: TestClient) -> None:
    usage = client.post("/v1/completions", json={"prompt": "1", "max_tokens": 2}).json()["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}


def test_responses_report_them_as_input_tokens_details(client: TestClient, cached: FakeEngine) -> None:
    body = client.post("/v1/responses", json={"input": "What is 12 + 34?"}).json()
    assert body["usage"]["input_tokens_details"]["cached_tokens"] == 3
    final = response_events(client)[-1]["response"]["usage"]
    assert final["input_tokens_details"]["cached_tokens"] == 3


def test_messages_read_them_as_anthropic_does(client: TestClient, cached: FakeEngine) -> None:
    """Anthropic's ``input_tokens`` leaves out the tokens read from the cache; together they are the prompt."""
    prompt_fields = {"model": "tiny-reasoner", "messages": USER}
    usage = client.post("/v1/messages", json={**prompt_fields, "max_tokens": 50}).json()["usage"]
    prompt = client.post("/v1/messages/count_tokens", json=prompt_fields).json()["input_tokens"]
    assert (usage["input_tokens"], usage["cache_read_input_tokens"]) == (prompt - 3, 3)
    assert anthropic.types.Usage.model_validate(usage).cache_read_input_tokens == 3
    delta = next(e for e in message_events(client, messages=USER) if e["type"] == "message_delta")["usage"]
    assert (delta["input_tokens"], delta["cache_read_input_tokens"]) == (usage["input_tokens"], 3)
    assert anthropic.types.MessageDeltaUsage.model_validate(delta).cache_read_input_tokens == 3
