"""Tools and structured outputs on the real engine and the shipped model, with budgets that never corrupt them.

The shipped model calls an ``add`` tool in the hermes format after its thinking, answers from a tool
result, answers ``{"answer": N}`` under a JSON grammar, and, told to "Call tools while thinking.",
opens its call inside the thinking as Qwen3.5 does. The budget must leave every call and every JSON
answer whole: a forced end is the delimiter alone, a call opened in the thinking ends it (the maximum
cannot cut it), and the minimum's Wait lands only in the thinking.
"""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest

pytestmark = pytest.mark.engine

PARAMETERS = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}
ADD = {"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": PARAMETERS}}
QUESTION = {"role": "user", "content": "What is 482 + 397?"}
INSIDE = {"role": "system", "content": "Call tools while thinking."}
ANSWER = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


def _chat(sdk: openai.OpenAI, messages: list[dict[str, Any]], **extra: Any) -> Any:
    return sdk.chat.completions.create(model="tiny-reasoner", messages=messages, temperature=0, extra_body=extra)


def _reasoning(message: Any) -> str:
    return (message.model_extra or {}).get("reasoning_content") or ""


def _report(choice: Any) -> dict[str, Any]:
    return (choice.model_extra or {})["thinking_budget"]


def _the_call(choice: Any) -> dict[str, Any]:
    """The one call to ``add``, its arguments valid JSON with two integers (the tiny model may miscopy a digit)."""
    assert choice.finish_reason == "tool_calls", choice
    (call,) = choice.message.tool_calls
    assert call.function.name == "add"
    arguments = json.loads(call.function.arguments)  # valid JSON, or this raises
    assert set(arguments) == {"a", "b"} and all(isinstance(v, int) for v in arguments.values()), arguments
    return arguments


def test_a_call_opened_inside_the_thinking_ends_it_and_the_maximum_cannot_cut_it(sdk: openai.OpenAI) -> None:
    # A maximum that never binds reports how many thinking tokens came before the call.
    probe = _chat(sdk, [INSIDE, QUESTION], tools=[ADD], max_thinking_tokens=1000).choices[0]
    arguments = _the_call(probe)
    thought = _report(probe)["thinking_tokens"]
    assert "tool_call" not in _reasoning(probe.message) and "</think>" not in (probe.message.content or "")
    # A maximum a few tokens past the opener falls inside the call's arguments: it must not bind there.
    cut = _chat(sdk, [INSIDE, QUESTION], tools=[ADD], max_thinking_tokens=thought + 3).choices[0]
    assert _the_call(cut) == arguments  # the same call, whole
    assert _report(cut) == {"thinking_tokens": thought, "waits": 0, "forced_end": False}


def test_below_the_minimum_a_call_in_the_thinking_becomes_a_wait(sdk: openai.OpenAI) -> None:
    choice = _chat(sdk, [INSIDE, QUESTION], tools=[ADD], min_thinking_waits=1).choices[0]
    assert _report(choice)["waits"] == 1 and "Wait" in _reasoning(choice.message)
    if choice.message.tool_calls:  # the model called after all: whole, and no Wait inside it
        assert "Wait" not in choice.message.tool_calls[0].function.arguments
        _the_call(choice)


@pytest.mark.parametrize("budget", [{"max_thinking_tokens": 4}, {"min_thinking_waits": 1}, {}])
def test_json_schema_answers_are_json_under_every_budget(sdk: openai.OpenAI, budget: dict[str, Any]) -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "Answer", "schema": ANSWER, "strict": True}}
    choice = _chat(sdk, [QUESTION], response_format=schema, **budget).choices[0]
    assert set(json.loads(choice.message.content)) == {"answer"}
    assert "Final Answer" not in choice.message.content
    if budget.get("min_thinking_waits"):
        assert _report(choice)["waits"] == 1 and "Wait" in _reasoning(choice.message)
    if budget.get("max_thinking_tokens"):
        assert _report(choice)["forced_end"] and _report(choice)["thinking_tokens"] == 4


def test_the_grammar_waits_for_the_end_of_thinking(sdk: openai.OpenAI) -> None:
    choice = _chat(sdk, [QUESTION], structured_outputs={"choice": ["yes", "no"]}).choices[0]
    assert choice.message.content in ("yes", "no")
    assert _reasoning(choice.message).startswith("Quick guess")  # the thinking was free text


def test_required_and_named_choices_call_under_a_forced_end(sdk: openai.OpenAI) -> None:
    named = {"type": "function", "function": {"name": "add"}}
    for tool_choice in ("required", named):
        choice = _chat(sdk, [QUESTION], tools=[ADD], tool_choice=tool_choice, max_thinking_tokens=4).choices[0]
        (call,) = choice.message.tool_calls
        assert call.function.name == "add" and set(json.loads(call.function.arguments)) == {"a", "b"}
        assert _report(choice)["forced_end"]


def test_a_round_trip_streamed_with_a_forced_end(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="tiny-reasoner", messages=[QUESTION], tools=[ADD], temperature=0, stream=True,
        extra_body={"max_thinking_tokens": 6},
    )  # fmt: skip
    calls: dict[int, dict[str, str]] = {}
    finish, content = None, ""
    for chunk in stream:
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] += call.id or ""
                slot["name"] += call.function.name or ""
                slot["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert finish == "tool_calls" and not re.search(r"tool_call|</think>", content)
    (call,) = calls.values()
    arguments = json.loads(call["arguments"])
    assert call["name"] == "add" and set(arguments) == {"a", "b"}
    history = [
        QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": "add", "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": str(arguments["a"] + arguments["b"])},
    ]  # fmt: skip
    final = _chat(sdk, history, tools=[ADD], max_thinking_tokens=6).choices[0]
    assert final.finish_reason == "stop" and re.fullmatch(r"\d+", final.message.content), final.message
