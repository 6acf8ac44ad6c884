"""CallHold: a streamed answer goes out until a call could begin, then waits for the parser at the end."""

from __future__ import annotations

from typing import Any

from server.engine.types import FunctionCall
from server.serving.tool_output import CallHold, finish_reason
from server.serving.tools import ToolPlan

TOOLS = [{"type": "function", "function": {"name": "add"}}]


class Parser:
    """Hermes-like: calls are ``<tool_call>NAME</tool_call>``; the text before the first call stays."""

    name, start_marker = "fake", "<tool_call>"

    def parse(self, text: str, tools: list[dict[str, Any]]) -> tuple[str | None, list[FunctionCall]]:
        head, _, rest = text.partition(self.start_marker)
        if not rest:
            return text, []
        return head or None, [FunctionCall(rest.split("</tool_call>")[0], "{}")]


def _run(plan: ToolPlan, pieces: list[str]) -> tuple[list[str], str, list[FunctionCall]]:
    hold = CallHold(plan)
    sent = [hold.feed(piece) for piece in pieces]
    rest, calls = hold.finish()
    return sent, rest, calls


def test_text_streams_and_a_partial_opener_waits_until_it_is_not_one() -> None:
    sent, rest, calls = _run(ToolPlan(TOOLS, "auto", parser=Parser()), ["a <", "tool", "> b"])
    assert sent == ["a ", "", "<tool> b"] and rest == "" and calls == []


def test_from_the_opener_on_everything_waits_for_the_end() -> None:
    sent, rest, calls = _run(ToolPlan(TOOLS, "auto", parser=Parser()), ["hi <tool_", "call>add</tool_call>", " x"])
    assert sent == ["hi ", "", ""] and rest == "" and calls == [FunctionCall("add", "{}")]


def test_text_left_unsent_comes_out_at_the_end() -> None:
    sent, rest, _ = _run(ToolPlan(TOOLS, "auto", parser=Parser()), ["done <tool_c"])
    assert sent == ["done "] and rest == "<tool_c"  # never a call: the held tail is text after all


def test_a_required_choice_holds_everything() -> None:
    sent, rest, calls = _run(ToolPlan(TOOLS, "required"), ['[{"name": "add", ', '"parameters": {}}]'])
    assert sent == ["", ""] and rest == "" and calls == [FunctionCall("add", "{}")]


def test_finish_reasons() -> None:
    call = [FunctionCall("add", "{}")]
    assert finish_reason(ToolPlan(TOOLS, "auto"), "stop", call) == "tool_calls"
    assert finish_reason(ToolPlan(TOOLS, "named", "add"), "stop", call) == "stop"
    assert finish_reason(ToolPlan(TOOLS, "auto", legacy=True), "stop", call) == "function_call"
    assert finish_reason(ToolPlan(TOOLS, "auto"), "length", call) == "length"
    assert finish_reason(ToolPlan(TOOLS, "auto"), "stop", []) == "stop"
