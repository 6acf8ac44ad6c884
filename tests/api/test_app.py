"""The HTTP API over a scripted engine: wire format, reasoning split, errors, disconnects."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.app import create_app
from server.ops.settings import Settings
from tests.fakes import FakeEngine

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "What is 12 + 34?"}]


class SendHook:
    """ASGI middleware that passes every message the app sends through ``hook`` (to observe the order of events)."""

    def __init__(self, app: ASGIApp, hook: Callable[[Message, Send], Awaitable[None]]) -> None:
        self.app, self.hook = app, hook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def hooked(message: Message) -> None:
            await self.hook(message, send)

        await self.app(scope, receive, hooked)


def events(response) -> list[dict]:  # type: ignore[no-untyped-def]
    lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def test_chat_splits_reasoning_from_answer(client: TestClient, engine: FakeEngine) -> None:
    body = client.post(CHAT, json={"model": "tiny-reasoner", "messages": USER}).json()
    message = body["choices"][0]["message"]
    assert message["reasoning_content"].startswith("Quick guess: 46.\nWait")
    assert "reasoning" not in message  # --reasoning-field reasoning_content, the default
    assert message["content"] == "46"
    assert body["choices"][0]["finish_reason"] == "stop"
    ids = engine.tokenizer.encode(engine.script, add_special_tokens=False)
    end = ids.index(engine.tokenizer.convert_tokens_to_ids("</think>"))
    assert body["usage"]["completion_tokens"] == len(ids)
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == end
    prompt_ids, _ = engine.requests[0]
    assert body["usage"]["prompt_tokens"] == len(prompt_ids)
    assert engine.tokenizer.decode(prompt_ids).endswith("<|im_start|>assistant\n<think>\n")


def test_chat_stream_sends_role_reasoning_content_finish_usage(client: TestClient) -> None:
    request = {"messages": USER, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", CHAT, json=request) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = events(response)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = "".join(d.get("reasoning_content") or "" for d in deltas)
    assert not any("reasoning" in d for d in deltas)  # one field by default: clients reading both show it once
    content = "".join(d.get("content") or "" for d in deltas)
    assert reasoning.startswith("Quick guess") and reasoning.endswith("So 46.\n")
    assert content == "46"
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    assert not any(d.get("reasoning_content") for d in deltas[first_content:])
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_chat_stream_sends_nothing_before_the_engines_first_output(engine: FakeEngine) -> None:
    """The role chunk goes out with the first output (as OpenAI's and vLLM's do), so clients time TTFT on it."""
    log: list[str] = []
    generate = engine.generate

    async def logged_generate(*args: Any) -> AsyncIterator[Any]:
        async for output in generate(*args):
            log.append("engine output")
            yield output

    async def log_body(message: Message, send: Send) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            log.append("body")
        await send(message)

    engine.generate = logged_generate  # type: ignore[method-assign]
    app = create_app(Settings(), engine.lifetime)
    app.add_middleware(SendHook, hook=log_body)
    with TestClient(app) as client, client.stream("POST", CHAT, json={"messages": USER, "stream": True}) as response:
        chunks = events(response)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert log[:2] == ["engine output", "body"]


def test_startup_freezes_the_heap_so_collections_skip_it(engine: FakeEngine) -> None:
    gc.unfreeze()
    with TestClient(create_app(Settings(), engine.lifetime)):
        assert gc.get_freeze_count() > 0


def test_max_tokens_cuts_with_length(client: TestClient) -> None:
    body = client.post(CHAT, json={"messages": USER, "max_completion_tokens": 5}).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    assert body["choices"][0]["message"]["content"] is None


def test_n_choices_and_sampling_fields_reach_the_engine(client: TestClient, engine: FakeEngine) -> None:
    request = {
        "messages": USER,
        "n": 3,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["So"],
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "max_tokens": 40,
        "user": "u1",
    }
    body = client.post(CHAT, json=request).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    _, params = engine.requests[0]
    assert (params.n, params.temperature, params.top_p, params.seed) == (3, 0.7, 0.9, 7)
    assert (params.presence_penalty, params.frequency_penalty, params.max_tokens) == (0.5, -0.5, 40)
    # Stop strings apply to the answer: the front end matches them, the engine gets none and streams deltas.
    assert params.stop == () and params.deltas


def test_completions_raw_prompt_and_batch(client: TestClient) -> None:
    body = client.post("/v1/completions", json={"prompt": ["12+34", "5+6"], "max_tokens": 4, "n": 2}).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert all(c["text"] == "Quic" and c["finish_reason"] == "length" for c in body["choices"])
    assert body["usage"]["prompt_tokens"] == 5 + 3


def test_completions_stream_and_echo(client: TestClient) -> None:
    request = {"prompt": "12+34", "max_tokens": 3, "stream": True, "echo": True}
    with client.stream("POST", "/v1/completions", json=request) as response:
        text = "".join(c["choices"][0]["text"] for c in events(response))
    assert text == "12+34Qui"


def test_models_health_version(client: TestClient, engine: FakeEngine) -> None:
    assert client.get("/v1/models").json()["data"][0]["id"] == "tiny-reasoner"
    assert client.get("/v1/models/tiny-reasoner").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/version").json()["version"]
    engine.is_healthy = False
    assert client.get("/health").status_code == 503
    response = client.post(CHAT, json={"messages": USER})
    assert response.status_code == 503 and response.json()["error"]["type"] == "service_unavailable_error"


IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}


@pytest.mark.parametrize(
    ("request_body", "status", "param"),
    [
        ({"model": "gpt-4", "messages": USER}, 404, "model"),
        ({"messages": []}, 400, "messages"),
        ({"messages": "hi"}, 400, "messages"),
        ({"messages": [{"role": "", "content": "x"}]}, 400, "messages.0.role"),
        ({"messages": USER, "temperature": "hot"}, 400, "temperature"),
        ({"messages": USER, "temperature": 3}, 400, "temperature"),
        ({"messages": USER, "top_p": 0}, 400, "top_p"),
        ({"messages": USER, "n": 0}, 400, "n"),
        ({"messages": USER, "n": 1000}, 400, "n"),
        ({"messages": USER, "n": 2, "temperature": 0}, 400, "n"),
        ({"messages": USER, "max_tokens": 0}, 400, "max_tokens"),
        ({"messages": USER, "max_tokens": 5000}, 400, "max_tokens"),
        ({"messages": USER, "max_completion_tokens": 1.5}, 400, "max_completion_tokens"),
        ({"messages": USER, "stop": [""]}, 400, "stop"),
        ({"messages": USER, "stop": 3}, 400, "stop"),
        ({"messages": USER, "top_logprobs": 2}, 400, "top_logprobs"),
        ({"messages": USER, "stream_options": {"include_usage": True}}, 400, "stream_options"),
        ({"messages": [{"role": "user", "content": "9" * 2000}]}, 400, "messages"),
        ({"messages": [{"role": "user", "content": [IMAGE]}]}, 400, "messages.0.content.0"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, 400, "messages.0.content.0.text"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c1"}]}]}, 400, "messages.0.tool_calls.0.function"),
        ({"messages": USER, "tools": [{"type": "web_search"}]}, 400, "tools.0.type"),
        ({"messages": USER, "thinking": {"type": "enabled"}}, 400, "thinking"),
    ],
)
def test_bad_chat_input_gets_an_openai_error_naming_the_parameter(
    client: TestClient, request_body: dict, status: int, param: str | None
) -> None:
    response = client.post(CHAT, json=request_body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param and error["message"]


@pytest.mark.parametrize(
    ("request_body", "param"),
    [({"prompt": []}, "prompt"), ({"prompt": [999999]}, "prompt"), ({"prompt": "x", "logprobs": 50}, "logprobs")],
)
def test_bad_completion_input(client: TestClient, request_body: dict, param: str) -> None:
    response = client.post("/v1/completions", json=request_body)
    assert response.status_code == 400 and response.json()["error"]["param"] == param


def test_malformed_json_and_unknown_route(client: TestClient) -> None:
    response = client.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]["message"]
    assert client.get("/v1/nothing").json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CHAT, {"messages": USER, "stream": True}),
        ("/v1/completions", {"prompt": "12 + 34", "stream": True}),
        ("/v1/responses", {"input": "What is 12 + 34?", "stream": True}),
        ("/v1/messages", {"messages": USER, "max_tokens": 100, "stream": True}),
    ],
    ids=["chat", "completions", "responses", "messages"],
)
def test_streaming_client_disconnect_aborts_the_engine_request(
    client: TestClient, engine: FakeEngine, path: str, body: dict
) -> None:
    """The client hangs up while the server is writing (not awaiting the engine): the request is still aborted."""
    engine.step_delay = 0.05
    with client.stream("POST", path, json=body) as response:
        for _ in response.iter_lines():
            break  # read the first event, then hang up
    deadline = time.monotonic() + 5
    while not engine.aborted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(engine.aborted) == 1 and not engine.finished


def test_budget_fields_reach_the_engine_and_the_report_comes_back(client: TestClient, engine: FakeEngine) -> None:
    body = client.post(CHAT, json={"messages": USER, "min_thinking_waits": 1, "max_thinking_tokens": 100}).json()
    _, params = engine.requests[0]
    args = params.extra_args["thinking_budget"]
    tokenizer = engine.tokenizer
    assert args["wait"] == tokenizer.encode("Wait", add_special_tokens=False)
    assert args["closing"] == tokenizer.encode("</think>\n\nFinal Answer:", add_special_tokens=False)
    assert (args["min_waits"], args["max_tokens"], args["opens"]) == (1, 100, True)
    report = body["choices"][0]["thinking_budget"]
    assert report == {"thinking_tokens": body["usage"]["completion_tokens_details"]["reasoning_tokens"],
                      "waits": 1, "forced_end": False}  # fmt: skip


def test_plain_requests_carry_no_budget(client: TestClient, engine: FakeEngine) -> None:
    body = client.post(CHAT, json={"messages": USER}).json()
    assert engine.requests[0][1].extra_args is None and body["choices"][0]["thinking_budget"] is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"min_thinking_tokens": -1}, "min_thinking_tokens"),
        ({"max_thinking_tokens": 1.5}, "max_thinking_tokens"),
        ({"min_thinking_waits": "2"}, "min_thinking_waits"),
        ({"min_thinking_tokens": 9, "max_thinking_tokens": 3}, "min_thinking_tokens"),
        ({"min_thinking_tokens": 50, "max_tokens": 50}, "min_thinking_tokens"),
        ({"thinking_wait_string": ""}, "thinking_wait_string"),
        ({"thinking": {"type": "maybe"}}, "thinking.type"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"thinking_token_budget": 4, "max_thinking_tokens": 5}, "max_thinking_tokens,thinking_token_budget"),
        ({"thinking_token_budget": -2}, "thinking_token_budget"),  # -1 is vLLM's unlimited, below is an error
    ],
)
def test_bad_budget_input(client: TestClient, fields: dict, param: str) -> None:
    response = client.post(CHAT, json={"messages": USER, **fields})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_vllm_extension_fields_reach_the_engine(client: TestClient, engine: FakeEngine) -> None:
    extras = {"top_k": 5, "min_p": 0.1, "repetition_penalty": 1.2, "min_tokens": 3, "ignore_eos": True}
    assert client.post(CHAT, json={"messages": USER, "max_tokens": 10, **extras}).status_code == 200
    _, params = engine.requests[0]
    assert (params.top_k, params.min_p, params.repetition_penalty) == (5, 0.1, 1.2)
    assert (params.min_tokens, params.ignore_eos) == (3, True)
    too_many = client.post(CHAT, json={"messages": USER, "max_tokens": 2, "min_tokens": 3})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "min_tokens"
