"""Anthropic's Messages API over the scripted engine: the translation of every field onto chat's pipeline, the
refusals (a 400 naming the field, in Anthropic's error shape), the message and its stream of named events, the
tool_use round trip, token counting, and the gates (keys, body size, admission, drain) on the new routes."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from server import Settings, create_app
from server.api.app import Lifecycle
from server.engine.types import EngineOutput, EngineRequest
from server.ops.gate import AdmissionState
from server.protocol.errors import APIError, speaks_anthropic
from server.protocol.messages import MessagesInput, MessagesRequest
from server.protocol.tools import NamedToolChoice
from server.serving.limits import Limits
from server.serving.messages import to_chat
from tests.fakes import FakeEngine

MESSAGES, COUNT = "/v1/messages", "/v1/messages/count_tokens"
USER = {"role": "user", "content": "What is 482 + 397?"}
BASE: dict[str, Any] = {"model": "tiny-reasoner", "max_tokens": 200, "messages": [USER]}
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
ADD = {"name": "add", "description": "Add two integers.", "input_schema": SCHEMA}
CALL = '<tool_call>{"name": "add", "arguments": {"a": 482, "b": 397}}</tool_call>'
THINKING = "Quick guess: 900.\n</think>\n\n"
LIMITS = Limits.of(Settings(), 1024)


def post(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(MESSAGES, json={**BASE, **body})
    assert response.status_code == 200, response.text
    return response.json()


def stream(client: TestClient, **body: Any) -> list[dict[str, Any]]:
    """The events, each checked to be named as Anthropic names them: ``event:`` is the data's ``type``."""
    with client.stream("POST", MESSAGES, json={**BASE, "stream": True, **body}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    events = []
    for frame in text.strip("\n").split("\n\n"):
        name, data = frame.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}", frame
        events.append(event)
    return events


def anthropic_error(response: Response, status: int, kind: str, *named: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and set(body) == {"type", "error"}, body
    assert set(body["error"]) == {"type", "message"} and body["error"]["type"] == kind, body
    message: str = body["error"]["message"]
    assert all(name in message for name in named), message
    return message


def chat(**body: Any) -> Any:
    return to_chat(MessagesRequest.model_validate({**BASE, **body}), LIMITS)


# Translation: each field as the chat request it becomes.


def test_content_blocks_become_chat_messages() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2 + 3?"}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Add them.", "signature": "anything"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Let me call add."},
            {"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 2, "b": 3}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "5"}]},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": True},
            {"type": "text", "text": "Thanks."}]},
    ]  # fmt: skip
    request = chat(system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
                   messages=history)  # fmt: skip
    said = [m.model_dump(exclude_none=True) for m in request.messages]
    assert said[0] == {"role": "system", "content": "Be brief."}
    assert said[1] == {"role": "user", "content": "What is 2 + 3?"}
    call = {"id": "toolu_1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}
    assert said[2] == {"role": "assistant", "content": "Let me call add.", "tool_calls": [call],
                       "reasoning_content": "Add them."}  # fmt: skip
    assert said[3:] == [
        {"role": "tool", "content": "5", "tool_call_id": "toolu_1"},
        {"role": "tool", "content": "Error: boom", "tool_call_id": "toolu_2"},
        {"role": "user", "content": "Thanks."},
    ]


def test_sampling_stop_and_budget_fields_map_to_chats() -> None:
    request = chat(stop_sequences=["\n\n"], temperature=0.5, top_p=0.9, top_k=5, stream=True, min_thinking_waits=1,
                   thinking_wait_string="Hmm", metadata={"user_id": "u1"}, service_tier="auto")  # fmt: skip
    assert (request.max_tokens, request.stop, request.temperature, request.top_p, request.top_k, request.stream) == (
        200, ["\n\n"], 0.5, 0.9, 5, True)  # fmt: skip
    assert (request.min_thinking_waits, request.thinking_wait_string) == (1, "Hmm")
    assert request.metadata is None and request.service_tier is None  # informational: nothing to pass on


@pytest.mark.parametrize(
    ("thinking", "expected", "kwargs"),
    [
        ({"type": "enabled", "budget_tokens": 64}, {"type": "enabled", "budget_tokens": 64}, None),
        (
            {"type": "disabled"},
            {"type": "disabled", "budget_tokens": None},
            {"enable_thinking": False, "thinking": False},
        ),
        ({"type": "adaptive"}, None, None),
    ],
)
def test_thinking_maps_to_chats_budget_and_template_switches(thinking: Any, expected: Any, kwargs: Any) -> None:
    request = chat(thinking=thinking)
    assert (request.thinking.model_dump() if request.thinking else None) == expected
    assert request.chat_template_kwargs == kwargs


def test_tools_and_tool_choices_map_to_function_tools() -> None:
    request = chat(tools=[ADD], tool_choice={"type": "any", "disable_parallel_tool_use": True})
    function = {"name": "add", "description": "Add two integers.", "parameters": SCHEMA}
    assert request.tools[0].model_dump(exclude_none=True) == {"type": "function", "function": function}
    assert (request.tool_choice, request.parallel_tool_calls) == ("required", False)
    named = chat(tools=[ADD], tool_choice={"type": "tool", "name": "add"}).tool_choice
    assert isinstance(named, NamedToolChoice) and named.function.name == "add"
    for kind in ("auto", "none"):
        assert chat(tools=[ADD], tool_choice={"type": kind}).tool_choice == kind


def test_output_config_maps_to_effort_and_response_format() -> None:
    request = chat(output_config={"effort": "max", "format": {"type": "json_schema", "schema": SCHEMA}})
    assert request.reasoning_effort == "xhigh"
    assert request.response_format.type == "json_schema" and request.response_format.json_schema.json_schema == SCHEMA


def test_count_tokens_takes_the_prompts_fields_only() -> None:
    body = MessagesInput.model_validate({"model": "tiny-reasoner", "messages": [USER], "tools": [ADD]})
    assert to_chat(body, LIMITS).max_tokens is None


# Over HTTP.


def test_a_message_thinking_first_then_text(client: TestClient, engine: FakeEngine) -> None:
    message = post(client)
    thinking, text = message["content"]
    assert message["id"].startswith("msg_") and (message["type"], message["role"]) == ("message", "assistant")
    assert (
        thinking["type"] == "thinking" and thinking["thinking"].startswith("Quick guess: 46.") and thinking["signature"]
    )
    assert text == {"type": "text", "text": "46"}
    assert (message["stop_reason"], message["stop_sequence"], message["model"]) == ("end_turn", None, "tiny-reasoner")
    usage = message["usage"]
    assert usage["input_tokens"] == len(engine.requests[0][0]) and usage["output_tokens"] > 0
    assert 0 < usage["output_tokens_details"]["thinking_tokens"] < usage["output_tokens"]
    assert message["thinking_budget"] is None


def test_sampling_and_the_budget_reach_the_engine(client: TestClient, engine: FakeEngine) -> None:
    message = post(client, temperature=0, top_p=0.5, top_k=3, thinking={"type": "enabled", "budget_tokens": 100},
                   min_thinking_waits=1)  # fmt: skip
    _, params = engine.requests[0]
    assert (params.max_tokens, params.temperature, params.top_p, params.top_k) == (200, 0, 0.5, 3)
    budget = params.extra_args["thinking_budget"]
    assert (budget["max_tokens"], budget["min_waits"]) == (100, 1)
    report = message["thinking_budget"]
    assert report["thinking_tokens"] == message["usage"]["output_tokens_details"]["thinking_tokens"]


def test_thinking_disabled_is_a_maximum_of_zero_here(client: TestClient, engine: FakeEngine) -> None:
    post(client, thinking={"type": "disabled"})  # the shipped template has no switch: the budget ends the thinking
    assert engine.requests[0][1].extra_args["thinking_budget"]["max_tokens"] == 0


def test_display_omitted_keeps_the_block_without_its_text(client: TestClient) -> None:
    thinking = post(client, thinking={"type": "enabled", "budget_tokens": 100, "display": "omitted"})["content"][0]
    assert thinking["type"] == "thinking" and thinking["thinking"] == "" and thinking["signature"]


def test_a_stop_sequence_stops_the_answer(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + "The sum is 879. Done."
    message = post(client, stop_sequences=["879"])
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "879")
    assert message["content"][-1]["text"] == "The sum is "
    assert post(client, max_tokens=3)["stop_reason"] == "max_tokens"


def test_tool_use_round_trip(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + CALL
    first = post(client, tools=[ADD])
    thinking, use = first["content"]
    assert first["stop_reason"] == "tool_use" and thinking["type"] == "thinking"
    assert use["type"] == "tool_use" and use["id"].startswith("toolu_") and use["name"] == "add"
    assert use["input"] == {"a": 482, "b": 397}
    engine.script = THINKING + "879"
    result = {"type": "tool_result", "tool_use_id": use["id"], "content": "879"}
    history = [USER, {"role": "assistant", "content": first["content"]}, {"role": "user", "content": [result]}]
    second = post(client, messages=history, tools=[ADD])
    assert second["stop_reason"] == "end_turn" and second["content"][-1] == {"type": "text", "text": "879"}
    prompt = engine.tokenizer.decode(engine.requests[-1][0])
    assert "add(a, b)" in prompt and CALL in prompt and "<tool_response>\n879\n</tool_response>" in prompt


def test_tool_choice_tool_is_a_grammar_of_its_input(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + '{"a": 1, "b": 2}'
    message = post(client, tools=[ADD], tool_choice={"type": "tool", "name": "add"})
    assert engine.requests[0][1].constraint.value == SCHEMA
    assert message["stop_reason"] == "tool_use" and message["content"][-1]["input"] == {"a": 1, "b": 2}


def test_the_stream_sends_anthropics_events_in_order(client: TestClient) -> None:
    events = stream(client)
    names = [e["type"] for e in events]
    squeezed = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
    assert squeezed == ["message_start", "content_block_start", "content_block_delta", "content_block_stop",
                        "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
                        "message_stop"]  # fmt: skip
    start = events[0]["message"]
    assert start["id"].startswith("msg_") and start["content"] == [] and start["usage"]["output_tokens"] == 0
    blocks = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert blocks == [{"type": "thinking", "thinking": "", "signature": ""}, {"type": "text", "text": ""}]
    deltas = [(e["index"], e["delta"]) for e in events if e["type"] == "content_block_delta"]
    thinking = "".join(d.get("thinking", "") for i, d in deltas if i == 0)
    whole = post(client)
    assert (
        thinking == whole["content"][0]["thinking"]
        and [d["type"] for i, d in deltas if i == 0][-1] == "signature_delta"
    )
    assert "".join(d["text"] for i, d in deltas if i == 1) == "46"
    end = events[-2]
    assert end["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert end["usage"]["output_tokens"] == whole["usage"]["output_tokens"]


def test_a_streamed_tool_call_goes_out_whole_after_the_text(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + "Let me add." + CALL
    events = stream(client, tools=[ADD])
    blocks = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [b["type"] for b in blocks] == ["thinking", "text", "tool_use"]
    assert blocks[2]["input"] == {} and blocks[2]["id"].startswith("toolu_") and blocks[2]["name"] == "add"
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta" and e["index"] == 2]
    assert [d["type"] for d in deltas] == ["input_json_delta"]
    assert json.loads(deltas[0]["partial_json"]) == {"a": 482, "b": 397}
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta" and e["index"] == 1)
    assert text == "Let me add." and events[-2]["delta"]["stop_reason"] == "tool_use"


def test_a_streamed_omitted_thinking_sends_only_its_signature(client: TestClient) -> None:
    events = stream(client, thinking={"type": "adaptive", "display": "omitted"})
    zero = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0]
    assert zero == ["signature_delta"]


class BrokenEngine(FakeEngine):
    async def generate(self, request: EngineRequest) -> AsyncIterator[EngineOutput]:
        async for output in super().generate(request):
            yield output
            raise RuntimeError("the engine fell over")


def test_a_failure_mid_stream_is_an_error_event() -> None:
    with TestClient(create_app(Settings(), BrokenEngine().lifetime)) as client:
        events = stream(client)
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "api_error" and "fell over" not in events[-1]["error"]["message"]


def test_count_tokens_counts_the_prompt_messages_renders(client: TestClient, engine: FakeEngine) -> None:
    body = {"model": "tiny-reasoner", "messages": [USER], "tools": [ADD], "system": "Be brief."}
    counted = client.post(COUNT, json=body)
    assert counted.status_code == 200, counted.text
    assert counted.json() == {"input_tokens": post(client, **body)["usage"]["input_tokens"]}
    assert counted.json()["input_tokens"] == len(engine.requests[0][0])
    anthropic_error(client.post(COUNT, json={**body, "max_tokens": 5}), 400, "invalid_request_error", "max_tokens")


# Refusals: a 400 in Anthropic's shape whose message names the field; nothing reaches the engine.

FORMAT = {"type": "json_schema", "schema": SCHEMA}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
REFUSED = [
    ({"messages": [{"role": "user", "content": [IMAGE]}]}, "messages.0.content.0", "text only"),
    ({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}, "messages.0.content.0", ""),
    (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "a", "foo": 1}]}]},
        "messages.0.content.0.foo",
        "",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "add", "input": {}}]}]},
        "messages.0.content.0",
        "user message",
    ),
    (
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "a", "citations": [{}]}]}]},
        "messages.0.content.0.citations",
        "",
    ),
    ({"messages": [USER, {"role": "assistant", "content": "The answer is"}]}, "messages.1", "prefill"),
    ({"max_tokens": 0}, "max_tokens", ""),
    ({"max_tokens": None}, "max_tokens", ""),
    ({"thinking": {"type": "enabled", "budget_tokens": 200}}, "thinking.budget_tokens", "max_tokens"),
    ({"thinking": {"type": "enabled"}}, "thinking", "budget_tokens"),
    ({"thinking": {"type": "between_tools"}}, "thinking.type", ""),
    ({"thinking": {"type": "enabled", "budget_tokens": 9}, "max_thinking_tokens": 5}, "max_thinking_tokens", ""),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0", "web_search_20250305"),
    ({"tools": [ADD], "tool_choice": {"type": "tool"}}, "tool_choice", ""),
    ({"tools": [ADD], "tool_choice": {"type": "tool", "name": "mul"}}, "tool_choice", "mul"),
    ({"tool_choice": {"type": "any"}}, "tool_choice", ""),
    ({"tools": [ADD], "tool_choice": {"type": "any"}, "output_config": {"format": FORMAT}}, "tool_choice", "format"),
    ({"stop_sequences": [""]}, "stop_sequences", ""),
    ({"container": "c1"}, "container", ""),
    ({"diagnostics": {"previous_message_id": "m"}}, "diagnostics", ""),
    ({"inference_geo": "eu"}, "inference_geo", ""),
    ({"speed": "fast"}, "speed", ""),
    ({"frequency_penalty": 1}, "frequency_penalty", ""),
    ({"output_config": {"effort": "low"}, "reasoning_effort": "high"}, "output_config.effort", ""),
]


@pytest.mark.parametrize(("body", "field", "why"), REFUSED, ids=[f"{i}-{f}" for i, (_, f, _) in enumerate(REFUSED)])
def test_what_cannot_be_honoured_is_a_400_naming_it(
    client: TestClient, engine: FakeEngine, body: dict[str, Any], field: str, why: str
) -> None:
    request = {name: value for name, value in {**BASE, **body}.items() if value is not None}
    anthropic_error(client.post(MESSAGES, json=request), 400, "invalid_request_error", field, why)
    assert engine.requests == []


def test_errors_on_anthropics_routes_are_anthropic_shaped(client: TestClient) -> None:
    anthropic_error(client.post(MESSAGES, json={**BASE, "model": "claude-x"}), 404, "not_found_error", "claude-x")
    malformed = client.post(MESSAGES, content=b"{not json", headers={"content-type": "application/json"})
    anthropic_error(malformed, 400, "invalid_request_error", "JSON")
    anthropic_error(client.get(MESSAGES), 405, "invalid_request_error", "GET")
    unnamed = client.post(MESSAGES, json={name: value for name, value in BASE.items() if name != "model"})
    assert unnamed.status_code == 200 and unnamed.json()["model"] == "tiny-reasoner"  # the first, as chat does
    assert set(client.post("/v1/chat/completions", json={"messages": []}).json()) == {"error"}  # OpenAI's elsewhere


def test_keys_body_limit_admission_and_drain_cover_the_messages_routes(engine: FakeEngine) -> None:
    with TestClient(create_app(Settings(api_key="k1"), engine.lifetime)) as client:
        anthropic_error(client.post(MESSAGES, json=BASE), 401, "authentication_error", "x-api-key")
        anthropic_error(client.post(COUNT, json=BASE, headers={"x-api-key": "nope"}), 401, "authentication_error")
        assert client.post(MESSAGES, json=BASE, headers={"x-api-key": "k1"}).status_code == 200
        assert client.post(MESSAGES, json=BASE, headers={"Authorization": "Bearer k1"}).status_code == 200
        chat = client.post("/v1/chat/completions", json={"messages": [USER]}, headers={"x-api-key": "k1"})
        assert chat.status_code == 200  # the header is accepted on every route
    with TestClient(create_app(Settings(max_request_bytes=1024), engine.lifetime)) as client:
        big = {**BASE, "messages": [{"role": "user", "content": "9" * 2000}]}
        anthropic_error(client.post(MESSAGES, json=big), 413, "request_too_large", "1024")
    for state, status, kind in [(AdmissionState(1, active=1), 429, "rate_limit_error"),
                                (AdmissionState(8, draining=True), 503, "overloaded_error")]:  # fmt: skip
        with TestClient(create_app(Settings(), engine.lifetime, Lifecycle(state))) as client:
            anthropic_error(client.post(MESSAGES, json=BASE), status, kind)
            counted = client.post(COUNT, json={"model": "tiny-reasoner", "messages": [USER]})
            assert counted.status_code == 200  # counting generates nothing: no admission, as /v1/models


def test_metrics_and_the_access_log_see_the_messages_routes(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.access")
    post(client)
    client.post(COUNT, json={"model": "tiny-reasoner", "messages": [USER]})
    metrics = client.get("/metrics").text
    assert 'handler="/v1/messages"' in metrics and 'handler="/v1/messages/count_tokens"' in metrics
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "server.access"]
    logged = next(line for line in lines if line["path"] == MESSAGES)
    assert logged["status"] == 200 and logged["model"] == "tiny-reasoner" and logged["reasoning_tokens"] > 0


def test_anthropics_error_shape_names_the_field_in_its_message() -> None:
    """Anthropic's shape has no ``param``: a message that does not name the field gets it in front."""
    body = APIError("must not be empty.", param="stop_sequences").anthropic_body()
    assert body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "stop_sequences: must not be empty."},
    }
    named = APIError("tool_choice needs tools.", status=HTTPStatus.SERVICE_UNAVAILABLE, param="tool_choice")
    assert named.anthropic_body()["error"] == {"type": "overloaded_error", "message": "tool_choice needs tools."}
    assert speaks_anthropic("/v1/messages") and speaks_anthropic("/v1/messages/count_tokens")
    assert not speaks_anthropic("/v1/messagesx") and not speaks_anthropic("/v1/chat/completions")
