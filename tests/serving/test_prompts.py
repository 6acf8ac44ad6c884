"""Messages as chat templates read them: tool calls with object arguments (as vLLM passes them), legacy roles."""

from __future__ import annotations

from server.protocol.chat import ChatMessage
from server.serving.prompts import _message


def test_tool_call_arguments_become_objects_and_results_keep_their_call_id() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    assistant = _message(ChatMessage(role="assistant", content=None, tool_calls=[call]))
    assert assistant["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": 1}}}
    ]
    assert assistant["content"] == ""
    assert _message(ChatMessage(role="tool", content="3", tool_call_id="c1")) == {
        "role": "tool", "content": "3", "tool_call_id": "c1"
    }  # fmt: skip


def test_arguments_that_are_not_a_json_object_stay_text() -> None:
    call = {"function": {"name": "f", "arguments": "not json"}}
    assert _message(ChatMessage(role="assistant", tool_calls=[call]))["tool_calls"][0]["function"]["arguments"] == (
        "not json"
    )


def test_legacy_function_messages_become_tool_messages_and_calls() -> None:
    assert _message(ChatMessage(role="function", name="add", content="3"))["role"] == "tool"
    legacy = _message(ChatMessage(role="assistant", function_call={"name": "add", "arguments": "{}"}))
    assert legacy["tool_calls"][0]["function"] == {"name": "add", "arguments": {}}


def test_an_assistant_messages_thinking_reaches_the_template_as_reasoning_content() -> None:
    sent_back = ChatMessage(role="assistant", content="3", reasoning_content="1+2")  # the openai SDK's message
    assert _message(sent_back)["reasoning_content"] == "1+2"
    assert _message(ChatMessage(role="assistant", content="3", reasoning="1+2"))["reasoning_content"] == "1+2"
