"""A planned Responses request as OpenAI's stream of events, in the order the SDK's stream helper reads them.

``response.created`` and ``response.in_progress`` go out with the engine's first output (as chat's role
chunk); then each item in turn: ``response.output_item.added``, ``response.content_part.added``, the text's
deltas (``response.reasoning_text.delta`` for the thinking, ``response.output_text.delta`` for the answer),
``….done``, ``response.content_part.done``, ``response.output_item.done``. Calls are held as on chat
completions (:class:`CallHold`) and each goes out whole once the choice ends: ``output_item.added``, one
``response.function_call_arguments.delta``, ``.done``, ``output_item.done``. Last, ``response.completed``
(or ``response.incomplete`` at the token cap) with the whole response, which is then stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from server.engine.types import FunctionCall
from server.protocol.chat import TokenLogprob
from server.protocol.common import BudgetReport, Usage
from server.protocol.errors import APIError
from server.protocol.responses_output import (
    ArgumentsEvent,
    ErrorEvent,
    ItemEvent,
    MessageItem,
    OutputItem,
    OutputText,
    PartEvent,
    ReasoningItem,
    ReasoningText,
    ResponseEvent,
    ResponseStateEvent,
    TextEvent,
)
from server.serving.choice import Step
from server.serving.context import ServerContext
from server.serving.generate import Generation, stream
from server.serving.responses import Turn
from server.serving.responses_render import (
    answer_logprobs,
    call_item,
    item_status,
    keep,
    new_id,
    response_object,
)
from server.serving.tool_output import CallHold

Kind = Literal["reasoning", "message"]


class EventWriter:
    """One response's events, numbered in the order they go out; the text item open now, the items done."""

    def __init__(self, turn: Turn, context: ServerContext) -> None:
        self.turn, self.context = turn, context
        self.sequence = 0
        self.items: list[OutputItem] = []
        self.open: ReasoningItem | MessageItem | None = None
        self.text = ""  # of the open item
        self.logprobs: list[TokenLogprob] | None = [] if turn.logprobs else None  # the answer's, so far
        self.answered = False  # a message item was opened
        self.finish: str | None = None
        self.budget: BudgetReport | None = None
        tools = turn.plan.tools
        self.hold = CallHold(tools) if tools and tools.shapes_answer else None

    def events(self) -> AsyncIterator[ResponseEvent]:
        return stream(Generation(self.turn.plan, self.context), self.opening(), self.render, self.final)

    def error(self, error: APIError) -> ResponseEvent:
        """A failure after the stream began: OpenAI's ``error`` event, the stream's last."""
        return self._numbered(ErrorEvent(code=error.code, message=error.message, param=error.param))

    def _numbered(self, event: ResponseEvent) -> ResponseEvent:
        event.sequence_number, self.sequence = self.sequence, self.sequence + 1
        return event

    def opening(self) -> list[ResponseEvent]:
        response = response_object(self.turn, [])
        return [self._numbered(ResponseStateEvent(type=f"response.{name}", response=response))
                for name in ("created", "in_progress")]  # fmt: skip

    def render(self, step: Step) -> list[ResponseEvent]:
        events = self._text("reasoning", step.reasoning) if step.reasoning else []
        content = self.hold.feed(step.content) if self.hold else step.content
        logprobs = answer_logprobs(self.turn, self.context, step)
        if self.logprobs is not None and logprobs:
            self.logprobs += logprobs
        if content:
            events += self._text("message", content, logprobs)
        if step.finish_reason is None:
            return events
        self.finish, self.budget = step.finish_reason, step.budget
        calls: list[FunctionCall] = []
        if self.hold is not None:
            rest, calls = self.hold.finish()
            if rest:
                events += self._text("message", rest)
        if not calls and not self.answered:  # no answer at all (a cut in the thinking): an empty message
            events += self._text("message", "")
        events += self._close()
        for call in calls:
            events += self._call(call)
        return events

    def final(self, totals: Usage) -> ResponseEvent:
        response = response_object(self.turn, self.items, totals, self.finish, self.budget)
        keep(self.turn, self.context, response)
        return self._numbered(ResponseStateEvent(type=f"response.{response.status}", response=response))

    def _text(self, kind: Kind, text: str, logprobs: list[TokenLogprob] | None = None) -> list[ResponseEvent]:
        events = self._close() if self.open is not None and self.open.type != kind else []
        if self.open is None:
            events += self._open(kind)
        assert self.open is not None
        self.text += text
        if text:
            name = "reasoning_text" if kind == "reasoning" else "output_text"
            shown = None if kind == "reasoning" else logprobs or []
            events.append(self._numbered(TextEvent(
                type=f"response.{name}.delta", item_id=self.open.id, output_index=len(self.items), delta=text,
                logprobs=shown,
            )))  # fmt: skip
        return events

    def _open(self, kind: Kind) -> list[ResponseEvent]:
        if kind == "reasoning":
            self.open, part = ReasoningItem(id=new_id("rs"), status="in_progress"), ReasoningText(text="")
        else:
            self.open, self.answered = MessageItem(id=new_id("msg"), status="in_progress"), True
            part = OutputText(text="")
        index, item, emit = len(self.items), self.open.model_copy(), self._numbered
        return [
            emit(ItemEvent(type="response.output_item.added", output_index=index, item=item)),
            emit(PartEvent(type="response.content_part.added", item_id=item.id, output_index=index, part=part)),
        ]

    def _close(self) -> list[ResponseEvent]:
        item, self.open = self.open, None
        if item is None:
            return []
        index, text = len(self.items), self.text
        self.text = ""
        status = item_status(self.finish)
        part: OutputText | ReasoningText
        if isinstance(item, ReasoningItem):
            part, name, logprobs = ReasoningText(text=text), "reasoning_text", None
            done: OutputItem = item.model_copy(update={"content": [part], "status": status})
        else:
            part, name, logprobs = OutputText(text=text, logprobs=self.logprobs), "output_text", self.logprobs or []
            done = item.model_copy(update={"content": [part], "status": status})
        self.items.append(done)
        emit = self._numbered
        return [
            emit(TextEvent(type=f"response.{name}.done", item_id=item.id, output_index=index, text=text,
                           logprobs=logprobs)),
            emit(PartEvent(type="response.content_part.done", item_id=item.id, output_index=index, part=part)),
            emit(ItemEvent(type="response.output_item.done", output_index=index, item=done)),
        ]  # fmt: skip

    def _call(self, call: FunctionCall) -> list[ResponseEvent]:
        index, done = len(self.items), call_item(call)
        self.items.append(done)
        added = done.model_copy(update={"arguments": "", "status": "in_progress"})
        return [
            self._numbered(ItemEvent(type="response.output_item.added", output_index=index, item=added)),
            self._numbered(ArgumentsEvent(type="response.function_call_arguments.delta", item_id=done.id,
                                          output_index=index, delta=call.arguments)),
            self._numbered(ArgumentsEvent(type="response.function_call_arguments.done", item_id=done.id,
                                          output_index=index, name=done.name, arguments=done.arguments)),
            self._numbered(ItemEvent(type="response.output_item.done", output_index=index, item=done)),
        ]  # fmt: skip
