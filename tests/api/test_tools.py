"""Tools over HTTP (the scripted engine): calls read from the answer, streamed whole, the grammar of a required
or named choice, legacy functions, budgets that leave calls alone, and a 400 for every bad combination."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server import Settings, create_app
from tests.fakes import FakeEngine

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "What is 482 + 397?"}]
PARAMETERS = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
ADD = {"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": PARAMETERS}}
CALL = '<tool_call>{"name": "add", "arguments": {"a": 482, "b": 397}}</tool_call>'
THINKING = "Quick guess: 900.\n</think>\n\n"


def _chat(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(CHAT, json={"messages": USER, "temperature": 0, **body})
    assert response.status_code == 200, response.text
    return response.json()


def _stream(client: TestClient, **body: Any) -> list[dict[str, Any]]:
    request = {"messages": USER, "temperature": 0, "stream": True, **body}
    with client.stream("POST", CHAT, json=request) as response:
        assert response.status_code == 200
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]


def test_auto_reads_the_call_from_the_answer(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + CALL
    choice = _chat(client, tools=[ADD])["choices"][0]
    call = choice["message"]["tool_calls"][0]
    assert call["id"].startswith("chatcmpl-tool-") and call["type"] == "function"
    assert call["function"]["name"] == "add" and json.loads(call["function"]["arguments"]) == {"a": 482, "b": 397}
    assert choice["message"]["content"] is None and choice["finish_reason"] == "tool_calls"
    assert choice["message"]["reasoning_content"] == "Quick guess: 900.\n"


def test_an_answer_without_a_call_is_plain_content(client: TestClient, engine: FakeEngine) -> None:
    choice = _chat(client, tools=[ADD])["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": "46",
        "reasoning_content": choice["message"]["reasoning_content"],
    }
    assert choice["finish_reason"] == "stop"


def test_streamed_text_goes_out_until_the_call_then_the_call_whole(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + "Let me add." + CALL
    chunks = _stream(client, tools=[ADD])
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    content = "".join(d.get("content") or "" for d in deltas)
    assert content == "Let me add."  # nothing of the opener, not even "<" while it might have been text
    calls = [call for d in deltas for call in d.get("tool_calls") or []]
    assert len(calls) == 1 and calls[0]["index"] == 0 and calls[0]["function"]["name"] == "add"
    assert json.loads(calls[0]["function"]["arguments"]) == {"a": 482, "b": 397}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_lone_angle_bracket_is_sent_once_it_cannot_open_a_call(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + "1 < 2 and <tool> is not a call"
    deltas = [c["choices"][0]["delta"] for c in _stream(client, tools=[ADD]) if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "1 < 2 and <tool> is not a call"


def test_required_is_a_grammar_of_calls(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + '[{"name": "add", "parameters": {"a": 1, "b": 2}}]'
    choice = _chat(client, tools=[ADD], tool_choice="required", parallel_tool_calls=False)["choices"][0]
    constraint = engine.requests[-1][1].constraint
    assert constraint is not None and constraint.kind == "json"
    assert constraint.value["type"] == "array" and constraint.value["maxItems"] == 1
    assert constraint.value["items"]["anyOf"][0]["properties"]["parameters"] == PARAMETERS
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"a": 1, "b": 2}
    assert choice["finish_reason"] == "tool_calls"


def test_a_named_function_is_a_grammar_of_its_arguments(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + '{"a": 1, "b": 2}'
    named = {"type": "function", "function": {"name": "add"}}
    chunks = _stream(client, tools=[ADD], tool_choice=named)
    assert engine.requests[-1][1].constraint.value == PARAMETERS
    calls = [call for c in chunks if c["choices"] for call in c["choices"][0]["delta"].get("tool_calls") or []]
    assert [c["function"] for c in calls] == [{"name": "add", "arguments": '{"a": 1, "b": 2}'}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"  # OpenAI's for a forced function


def test_legacy_functions_are_answered_with_function_call(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + CALL
    choice = _chat(client, functions=[ADD["function"]])["choices"][0]
    assert choice["message"]["function_call"]["name"] == "add" and "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "function_call"


def test_parallel_tool_calls_false_keeps_the_first_call(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + CALL + CALL.replace("482", "1")
    assert len(_chat(client, tools=[ADD])["choices"][0]["message"]["tool_calls"]) == 2
    assert len(_chat(client, tools=[ADD], parallel_tool_calls=False)["choices"][0]["message"]["tool_calls"]) == 1


def _tool_open(engine: FakeEngine) -> int | None:
    ids = engine.tokenizer.encode("<tool_call>", add_special_tokens=False)
    return ids[0] if len(ids) == 1 else None


@pytest.mark.parametrize("shape", [{"tools": [ADD]}, {"response_format": {"type": "json_object"}}])
def test_a_forced_end_carries_no_answer_prefix_before_a_call_or_a_grammar(
    client: TestClient, engine: FakeEngine, shape: dict[str, Any]
) -> None:
    _chat(client, max_thinking_tokens=4, **shape)
    budget = engine.requests[-1][1].extra_args["thinking_budget"]
    end = engine.tokenizer.convert_tokens_to_ids("</think>")
    assert budget["closing"] == [end]
    assert budget.get("tool_open") == (_tool_open(engine) if "tools" in shape else None)


def test_without_tools_the_forced_end_keeps_its_answer_prefix(client: TestClient, engine: FakeEngine) -> None:
    _chat(client, max_thinking_tokens=4)
    assert len(engine.requests[-1][1].extra_args["thinking_budget"]["closing"]) > 1


def test_the_history_of_calls_and_results_is_accepted(client: TestClient, engine: FakeEngine) -> None:
    history = [
        *USER,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 482, "b": 397}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "879"},
    ]  # fmt: skip
    response = client.post(CHAT, json={"messages": history, "tools": [ADD]})
    assert response.status_code == 200, response.text


BAD = [
    ({"tools": [ADD], "tool_choice": {"type": "function", "function": {"name": "mul"}}}, "tool_choice"),
    ({"tools": [ADD, ADD]}, "tools"),
    ({"tools": [ADD], "functions": [ADD["function"]]}, "functions"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [ADD], "tool_choice": "required", "response_format": {"type": "json_object"}}, "tool_choice"),
    ({"response_format": {"type": "json_object"}, "structured_outputs": {"regex": "a"}}, "structured_outputs"),
    ({"structured_outputs": {"regex": "a", "choice": ["b"]}}, "structured_outputs"),
    ({"guided_json": {"type": "object"}}, "guided_json"),
    ({"tools": [ADD], "max_thinking_tokens": 4, "thinking_answer_prefix": "Answer:"}, "thinking_answer_prefix"),
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools.0.function.name"),
]


@pytest.mark.parametrize(("body", "param"), BAD, ids=[param for _, param in BAD])
def test_bad_tool_requests_get_a_400_naming_the_field(
    client: TestClient, engine: FakeEngine, body: dict[str, Any], param: str
) -> None:
    response = client.post(CHAT, json={"messages": USER, **body})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert engine.requests == []


def test_auto_without_a_tool_parser_is_a_400_that_says_which_flags() -> None:
    engine = FakeEngine()
    with TestClient(create_app(Settings(), engine.lifetime)) as client:
        response = client.post(CHAT, json={"messages": USER, "tools": [ADD]})
        assert response.status_code == 400 and response.json()["error"]["param"] == "tools"
        assert "--enable-auto-tool-choice" in response.json()["error"]["message"]
        named = {"type": "function", "function": {"name": "add"}}
        assert client.post(CHAT, json={"messages": USER, "tools": [ADD], "tool_choice": named}).status_code == 200


def test_auto_tool_choice_without_a_parser_fails_startup_with_the_reason() -> None:
    from server.engine.tool_calls import ToolParserError

    app = create_app(Settings(enable_auto_tool_choice=True), FakeEngine().lifetime)
    with pytest.raises(ToolParserError, match="--tool-call-parser"), TestClient(app):
        pass


@pytest.mark.parametrize("budget", [{}, {"max_thinking_tokens": 30}])
def test_a_call_opened_inside_the_thinking_is_answer_and_parsed(
    client: TestClient, engine: FakeEngine, budget: dict[str, Any]
) -> None:
    assert _tool_open(engine) is not None  # the shipped vocabulary has <tool_call> as one token
    engine.script = "Quick guess: 900.\n" + CALL  # no </think>: the call ends the thinking (Qwen3.5 does this)
    choice = _chat(client, tools=[ADD], **budget)["choices"][0]
    assert choice["message"]["reasoning_content"] == "Quick guess: 900.\n"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"a": 482, "b": 397}
    assert choice["finish_reason"] == "tool_calls"
