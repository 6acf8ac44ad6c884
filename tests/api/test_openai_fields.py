"""Every field of OpenAI's chat and text completions requests is honoured, or refused with a 400 naming it.

The field lists come from the installed ``openai`` package, so a field the SDK gains fails
here until it is given a row. Each row sends one value and checks what became of it: the
engine request it reached (honoured), a 400 naming the field (refused), or a 200 for a field
that asks nothing of an inference server (accepted; README "API" says why).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai.types import completion_create_params as text_params
from openai.types.chat import completion_create_params as chat_params

from server.engine.types import Constraint, Sampling
from tests.fakes import FakeEngine

USER = [{"role": "user", "content": "What is 12 + 34?"}]
Check = Callable[[Sampling, dict[str, Any]], bool]
REFUSED = "refused"
ACCEPTED: Check = lambda sampling, body: "choices" in body  # noqa: E731
TOOL = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}


def budget(sampling: Sampling) -> dict[str, Any]:
    return (sampling.extra_args or {})["thinking_budget"]


# field -> [(value, what must happen)]; rows may add fields the value needs (stream for stream_options).
CHAT: dict[str, list[tuple[Any, Check | str]]] = {
    "messages": [(USER, lambda s, b: len(b["choices"]) == 1)],
    "model": [("tiny-reasoner", lambda s, b: b["model"] == "tiny-reasoner")],
    "audio": [({"voice": "alloy", "format": "wav"}, REFUSED)],
    "frequency_penalty": [(0.5, lambda s, b: s.frequency_penalty == 0.5)],
    "presence_penalty": [(-0.5, lambda s, b: s.presence_penalty == -0.5)],
    "function_call": [("none", ACCEPTED), ("auto", REFUSED)],  # refused without functions to choose from
    "functions": [([TOOL["function"]], lambda s, b: s.constraint is None and "choices" in b)],
    "logit_bias": [({"5": -100}, lambda s, b: s.logit_bias == {5: -100.0}), ({"x": 1}, REFUSED)],
    "logprobs": [(True, lambda s, b: s.logprobs == 0 and b["choices"][0]["logprobs"] is not None)],
    "top_logprobs": [(2, lambda s, b: s.logprobs == 2)],
    "max_completion_tokens": [(7, lambda s, b: s.max_tokens == 7)],
    "max_tokens": [(9, lambda s, b: s.max_tokens == 9)],
    "metadata": [({"team": "a"}, ACCEPTED)],
    "modalities": [(["text"], ACCEPTED), (["text", "audio"], REFUSED)],
    "moderation": [({"type": "auto"}, REFUSED)],
    "n": [(2, lambda s, b: s.n == 2 and len(b["choices"]) == 2)],
    "parallel_tool_calls": [(False, ACCEPTED)],
    "prediction": [({"type": "content", "content": "46"}, REFUSED)],
    "prompt_cache_key": [("user-7", ACCEPTED)],
    "prompt_cache_options": [({}, ACCEPTED)],
    "prompt_cache_retention": [("24h", ACCEPTED)],
    "reasoning_effort": [("low", lambda s, b: budget(s)["max_tokens"] == 512), ("huge", REFUSED)],
    "response_format": [
        ({"type": "text"}, lambda s, b: s.constraint is None),
        ({"type": "json_object"}, lambda s, b: s.constraint == Constraint("json_object", True)),
    ],
    "safety_identifier": [("hashed-user", ACCEPTED)],
    "seed": [(3, lambda s, b: s.seed == 3)],
    "service_tier": [("auto", ACCEPTED), ("flex", REFUSED)],
    "stop": [(["6"], lambda s, b: b["choices"][0]["message"]["content"] == "4")],
    "store": [(False, ACCEPTED), (True, REFUSED)],
    "stream": [(True, lambda s, b: s.deltas and b["streamed"])],
    "stream_options": [({"include_usage": True}, lambda s, b: b["usage"] is not None)],
    "temperature": [(0.3, lambda s, b: s.temperature == 0.3)],
    "tool_choice": [("none", ACCEPTED), ("required", REFUSED)],  # refused without tools to choose from
    "tools": [([TOOL], lambda s, b: s.constraint is None and "choices" in b)],  # "auto": the parser reads calls
    "top_p": [(0.5, lambda s, b: s.top_p == 0.5)],
    "user": [("u-1", ACCEPTED)],
    "verbosity": [("low", REFUSED)],
    "web_search_options": [({}, REFUSED)],
}
TEXT: dict[str, list[tuple[Any, Check | str]]] = {
    "prompt": [("12+34", lambda s, b: len(b["choices"]) == 1)],
    "model": [("tiny-reasoner", lambda s, b: b["model"] == "tiny-reasoner")],
    "best_of": [(1, ACCEPTED), (3, REFUSED)],
    "echo": [(True, lambda s, b: b["choices"][0]["text"].startswith("12+34"))],
    "frequency_penalty": [(0.5, lambda s, b: s.frequency_penalty == 0.5)],
    "presence_penalty": [(-0.5, lambda s, b: s.presence_penalty == -0.5)],
    "logit_bias": [({"5": 3}, lambda s, b: s.logit_bias == {5: 3.0}), ({"5": 101}, REFUSED)],
    "logprobs": [(2, lambda s, b: s.logprobs == 2 and b["choices"][0]["logprobs"] is not None)],
    "max_tokens": [(5, lambda s, b: s.max_tokens == 5)],
    "n": [(2, lambda s, b: s.n == 2 and len(b["choices"]) == 2)],
    "seed": [(3, lambda s, b: s.seed == 3)],
    "stop": [(["k"], lambda s, b: b["choices"][0]["text"] == "Quic")],
    "stream": [(True, lambda s, b: s.deltas and b["streamed"])],
    "stream_options": [({"include_usage": True}, lambda s, b: b["usage"] is not None)],
    "suffix": [("", ACCEPTED), ("!", REFUSED)],
    "temperature": [(0.3, lambda s, b: s.temperature == 0.3)],
    "top_p": [(0.5, lambda s, b: s.top_p == 0.5)],
    "user": [("u-1", ACCEPTED)],
}
NEEDS = {"stream_options": {"stream": True}, "top_logprobs": {"logprobs": True}, "n": {"temperature": 1.0}}


def test_every_chat_field_of_the_sdk_has_a_row() -> None:
    assert set(CHAT) == set(chat_params.CompletionCreateParamsBase.__annotations__) | {"stream"}


def test_every_text_completions_field_of_the_sdk_has_a_row() -> None:
    assert set(TEXT) == set(text_params.CompletionCreateParamsBase.__annotations__) | {"stream"}


def _send(client: TestClient, path: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if not request.get("stream"):
        response = client.post(path, json=request)
        return response.status_code, response.json()
    with client.stream("POST", path, json=request) as response:
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: {")]
    chunks = [json.loads(line) for line in lines]
    usage = next((c["usage"] for c in chunks if c.get("usage")), None)
    return response.status_code, {"streamed": True, "choices": chunks[0]["choices"], "usage": usage}


CASES = [("/v1/chat/completions", {"messages": USER}, f, v, e) for f, rows in CHAT.items() for v, e in rows]
TEXT_BASE = {"prompt": "12+34", "max_tokens": 8}
CASES += [("/v1/completions", TEXT_BASE, f, v, e) for f, rows in TEXT.items() for v, e in rows]


@pytest.mark.parametrize(("path", "base", "field", "value", "expected"), CASES, ids=lambda x: str(x)[:30])
def test_a_field_is_honoured_or_refused_by_name(
    client: TestClient, engine: FakeEngine, path: str, base: dict[str, Any], field: str, value: Any, expected: Any
) -> None:
    status, body = _send(client, path, {**base, **NEEDS.get(field, {}), field: value})
    if expected == REFUSED:
        assert status == 400, body
        assert body["error"]["param"] == field and field in body["error"]["message"]
        assert engine.requests == []  # nothing reached the engine
    else:
        assert status == 200, body
        assert expected(engine.requests[-1][1], body)
