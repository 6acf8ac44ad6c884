"""``POST /v1/responses`` with ``stream: true`` over the scripted engine: each event one of the ``openai`` SDK's
types, named on its ``event:`` line, numbered, in the order OpenAI sends them; the SDK's own stream helper reads
it to the end; a client that leaves aborts the engine request."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

import openai
from fastapi.testclient import TestClient
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from server.protocol.errors import APIError
from tests.api.test_responses import ADD, CALL, QUESTION, RESPONSES, THINKING, validated
from tests.fakes import FakeEngine

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
TEXT_ITEM = ["response.output_item.added", "response.content_part.added"]
TEXT_DONE = ["response.content_part.done", "response.output_item.done"]


def stream(client: TestClient, **body: Any) -> list[dict[str, Any]]:
    """The events, each checked: its ``event:`` line names its type, the SDK's union reads it, numbers count up."""
    request = {"input": QUESTION, "temperature": 0, "stream": True, **body}
    with client.stream("POST", RESPONSES, json=request) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        blocks = response.read().decode().split("\n\n")
    assert blocks[-1] == "" and "[DONE]" not in blocks[-2]  # OpenAI's Responses stream ends with its last event
    events = []
    for block in blocks[:-1]:
        name, data = block.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        EVENTS.validate_python(event)
        events.append(event)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    return events


def kinds(events: list[dict[str, Any]]) -> list[str]:
    """The event types, a run of deltas as one."""
    return [kind for kind, _ in groupby(event["type"] for event in events)]


def test_thinking_then_answer_in_openai_order(client: TestClient) -> None:
    events = stream(client)
    assert kinds(events) == [
        "response.created", "response.in_progress",
        *TEXT_ITEM, "response.reasoning_text.delta", "response.reasoning_text.done", *TEXT_DONE,
        *TEXT_ITEM, "response.output_text.delta", "response.output_text.done", *TEXT_DONE,
        "response.completed",
    ]  # fmt: skip
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    reasoning = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_text.delta")
    answer = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    done = {e["type"]: e for e in events}
    assert done["response.reasoning_text.done"]["text"] == reasoning and reasoning.startswith("Quick guess")
    assert done["response.output_text.done"]["text"] == answer == "46"
    final = validated(events[-1]["response"])
    assert final.status == "completed" and final.output_text == "46" and final.usage is not None
    reasoning_item, message = final.output
    assert reasoning_item.content is not None and reasoning_item.content[0].text == reasoning  # type: ignore[union-attr]
    items = [e["item"]["id"] for e in events if e["type"] == "response.output_item.added"]
    assert items == [reasoning_item.id, message.id]
    assert {e["output_index"] for e in events if e["type"] == "response.output_text.delta"} == {1}


def test_a_call_goes_out_whole_after_the_thinking(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + "Let me add." + CALL
    events = stream(client, tools=[ADD])
    assert kinds(events)[-8:] == [
        "response.output_text.done", *TEXT_DONE,
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done", "response.completed",
    ]  # fmt: skip
    answer = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert answer == "Let me add."  # nothing of the call shown as text
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["name"] == "add" and json.loads(done["arguments"]) == {"a": 482, "b": 397}
    final = validated(events[-1]["response"])
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
    assert final.output[2].id == done["item_id"]  # type: ignore[union-attr]


def test_the_token_cap_ends_with_response_incomplete(client: TestClient) -> None:
    events = stream(client, max_output_tokens=5)
    assert events[-1]["type"] == "response.incomplete"
    final = validated(events[-1]["response"])
    assert final.incomplete_details is not None and final.incomplete_details.reason == "max_output_tokens"


def test_the_sdk_stream_helper_reads_it_to_the_end(client: TestClient, engine: FakeEngine) -> None:
    sdk = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client, max_retries=0)
    with sdk.responses.stream(model="tiny-reasoner", input=QUESTION, reasoning={"effort": "low"}) as events:
        seen = [event.type for event in events]
        final = events.get_final_response()
    assert seen[0] == "response.created" and seen[-1] == "response.completed"
    assert final.output_text == "46" and final.output[0].type == "reasoning"
    engine.script = THINKING + CALL
    with sdk.responses.stream(model="tiny-reasoner", input=QUESTION, tools=[ADD]) as events:  # type: ignore[list-item]
        call = events.get_final_response().output[-1]
    assert call.type == "function_call" and json.loads(call.arguments) == {"a": 482, "b": 397}


def test_an_error_after_the_start_is_an_error_event(client: TestClient, engine: FakeEngine, monkeypatch: Any) -> None:
    async def failing(request: Any) -> Any:
        yield await failing_output()

    async def failing_output() -> Any:
        raise APIError("the engine is gone", status=503)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "generate", failing)
    with client.stream("POST", RESPONSES, json={"input": QUESTION, "stream": True}) as response:
        blocks = [b for b in response.read().decode().split("\n\n") if b]
    name, data = blocks[-1].split("\n")
    error = json.loads(data.removeprefix("data: "))
    assert name == "event: error" and error["type"] == "error" and error["message"] == "the engine is gone"
    EVENTS.validate_python(error)


def test_logprobs_go_with_the_answers_deltas(client: TestClient) -> None:
    events = stream(client, include=["message.output_text.logprobs"], top_logprobs=1)
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert [lp["token"] for e in deltas for lp in e["logprobs"]] == ["4", "6"]
    done = next(e for e in events if e["type"] == "response.output_text.done")
    assert [lp["token"] for lp in done["logprobs"]] == ["4", "6"]
    assert all("logprobs" not in e for e in events if e["type"].startswith("response.reasoning_text"))
    final = validated(events[-1]["response"])
    assert [lp.token for lp in final.output[1].content[0].logprobs or []] == ["4", "6"]  # type: ignore[union-attr]
