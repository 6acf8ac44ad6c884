"""Tool calls on the way out: in a message, in a stream, and the finish reason they make.

Streamed, an answer goes out as it comes until a call could begin (the parser's opener, such as
``<tool_call>``, or a prefix of it at the end of the text); from there it is held, and when the
choice finishes vLLM's parser reads the whole answer and each call goes out whole, in one delta.
A required or named choice's answer is all call: it is held from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.engine.types import FunctionCall
from server.protocol.tools import DeltaFunctionCall, DeltaToolCall, FunctionCallOut, ToolCallOut
from server.serving.tools import ToolPlan, call_id
from server.thinking.reasoning import partial_suffix


@dataclass
class CallHold:
    """One streamed choice's answer while it may hold calls."""

    plan: ToolPlan
    answer: str = ""
    sent: int = 0  # characters of ``answer`` already sent
    holding: bool = False  # a call has begun: the rest waits for the end

    def feed(self, content: str) -> str:
        """What of the answer can go out now."""
        self.answer += content
        marker = self.plan.parser.start_marker if self.plan.parser is not None else None
        if self.holding or marker is None:  # required / named, or an opener this server cannot see
            return ""
        begins = self.answer.find(marker, max(0, self.sent - len(marker)))
        self.holding = begins >= 0
        upto = begins if self.holding else len(self.answer) - partial_suffix(self.answer, marker)
        out, self.sent = self.answer[self.sent : upto], max(self.sent, upto)
        return out

    def finish(self) -> tuple[str, list[FunctionCall]]:
        """The answer's text not sent yet, and the calls."""
        content, calls = self.plan.calls(self.answer)
        if not calls:
            return self.answer[self.sent :], []
        text = content or ""
        return (text[self.sent :] if text.startswith(self.answer[: self.sent]) else ""), calls


def message_fields(plan: ToolPlan, calls: list[FunctionCall]) -> dict[str, Any]:
    """An assistant message's ``tool_calls`` (or, asked with legacy ``functions``, its ``function_call``)."""
    if not calls:
        return {}
    if plan.legacy:
        return {"function_call": FunctionCallOut(name=calls[0].name, arguments=calls[0].arguments)}
    return {"tool_calls": [
        ToolCallOut(id=c.id or call_id(), function=FunctionCallOut(name=c.name, arguments=c.arguments)) for c in calls
    ]}  # fmt: skip


def delta_fields(plan: ToolPlan, calls: list[FunctionCall]) -> dict[str, Any]:
    """A stream delta carrying every call whole."""
    if not calls:
        return {}
    if plan.legacy:
        return {"function_call": DeltaFunctionCall(name=calls[0].name, arguments=calls[0].arguments)}
    deltas = [
        DeltaToolCall(index=i, id=c.id or call_id(), type="function",
                      function=DeltaFunctionCall(name=c.name, arguments=c.arguments))
        for i, c in enumerate(calls)
    ]  # fmt: skip
    return {"tool_calls": deltas}


def finish_reason(plan: ToolPlan | None, reason: str | None, calls: list[FunctionCall]) -> str | None:
    """OpenAI's: ``tool_calls`` when the model called (``function_call`` for legacy functions); a named
    choice's forced call finishes with ``stop``, as OpenAI's API does."""
    if plan is None or not calls or reason != "stop":
        return reason
    if plan.legacy:
        return "function_call"
    return "stop" if plan.mode == "named" else "tool_calls"
