"""Anthropic's Messages reply: a plan's steps as one message, or as its stream of events.

The steps come from the one pipeline (:mod:`server.serving.generate`), as chat's do; this module only
renders them. Content is a ``thinking`` block first, then the answer's ``text`` and its ``tool_use`` blocks.
A thinking block's ``signature`` is a random opaque string: this server signs nothing, so it proves nothing
and cannot be verified (one sent back is accepted as is). Streamed, the thinking and the text go out as they
come; an answer that may hold a tool call is held from the call's opener on (:class:`CallHold`, as in chat),
and each call goes out whole, in one ``input_json_delta``, once the answer is complete.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from server.engine.types import FunctionCall
from server.protocol.common import BudgetReport, Usage
from server.protocol.messages_output import (
    Block,
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
    DeltaUsage,
    InputJSONDelta,
    Message,
    MessageDelta,
    MessageEvent,
    MessageStart,
    MessageStop,
    MessageUsage,
    OutputTokensDetails,
    SignatureDelta,
    StopDelta,
    StopReason,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
)
from server.serving.choice import Step
from server.serving.context import ServerContext
from server.serving.generate import Generation, collect, stream
from server.serving.messages import MessagesPlan
from server.serving.tool_output import CallHold
from server.serving.tools import ToolPlan


def signature() -> str:
    return f"thinkserve-{uuid.uuid4().hex}"  # opaque, as Anthropic's; nothing here can check it


def tool_use_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def stop_reason(finish: str | None, matched: str | int | None, called: bool) -> tuple[StopReason, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence``: a cut by ``max_tokens`` first, as vLLM maps it."""
    if finish == "length":
        return "max_tokens", None
    if called:
        return "tool_use", None
    if isinstance(matched, str):  # a stop string (an int is a stop token: a natural end)
        return "stop_sequence", matched
    return "end_turn", None


def _tool_uses(text: str, calls: list[FunctionCall]) -> tuple[str, list[ToolUseBlock]]:
    """The calls as ``tool_use`` blocks; one whose arguments are not a JSON object (a grammar's answer cut by
    ``max_tokens``) stays text, as ``input`` must be an object."""
    uses = []
    for call in calls:
        try:
            arguments = json.loads(call.arguments)
        except ValueError:
            arguments = None
        if isinstance(arguments, dict):
            uses.append(ToolUseBlock(id=tool_use_id(), name=call.name, input=arguments))
        else:
            text += call.arguments
    return text, uses


def _answer(tools: ToolPlan | None, answer: str) -> tuple[str, list[ToolUseBlock]]:
    if tools is None:
        return answer, []
    content, calls = tools.calls(answer)
    return _tool_uses(content or "", calls)


def _usage(totals: Usage) -> MessageUsage:
    details = OutputTokensDetails(thinking_tokens=totals.completion_tokens_details.reasoning_tokens)
    cached = totals.prompt_tokens_details.cached_tokens
    return MessageUsage(
        input_tokens=totals.prompt_tokens - cached, output_tokens=totals.completion_tokens,
        cache_read_input_tokens=cached, output_tokens_details=details,
    )  # fmt: skip


async def complete(planned: MessagesPlan, context: ServerContext) -> Message:
    plan = planned.plan
    generation = Generation(plan, context)
    steps = await collect(generation)  # one choice: a message is one answer
    step = steps[0] if steps else Step(finish_reason="stop")
    text, uses = _answer(plan.tools, step.content)
    content: list[Block] = []
    if step.reasoning:
        content.append(ThinkingBlock(thinking=step.reasoning if planned.show_thinking else "", signature=signature()))
    content += [TextBlock(text=text)] if text else []
    content += uses
    reason, sequence = stop_reason(step.finish_reason, step.stop_reason, bool(uses))
    return Message(
        id=plan.request_id, model=plan.model, content=content or [TextBlock(text="")],  # never an empty content
        stop_reason=reason, stop_sequence=sequence, usage=_usage(generation.usage()), thinking_budget=step.budget,
    )  # fmt: skip


@dataclass
class _Blocks:
    """A streamed message's content blocks: the one open, and its index (blocks never interleave)."""

    index: int = -1
    kind: str | None = None

    def open(self, block: Block) -> list[MessageEvent]:
        out = self.close()
        self.index, self.kind = self.index + 1, block.type
        return [*out, ContentBlockStart(index=self.index, content_block=block)]

    def delta(self, delta: TextDelta | ThinkingDelta | SignatureDelta | InputJSONDelta) -> ContentBlockDelta:
        return ContentBlockDelta(index=self.index, delta=delta)

    def text(self, text: str) -> list[MessageEvent]:
        if not text:
            return []
        opened = [] if self.kind == "text" else self.open(TextBlock(text=""))
        return [*opened, self.delta(TextDelta(text=text))]

    def close(self) -> list[MessageEvent]:
        """The open block's stop; a thinking block gets its signature first, as Anthropic sends it."""
        if self.kind is None:
            return []
        signed = [self.delta(SignatureDelta(signature=signature()))] if self.kind == "thinking" else []
        self.kind = None
        return [*signed, ContentBlockStop(index=self.index)]


@dataclass
class _Ending:
    delta: StopDelta = field(default_factory=lambda: StopDelta(stop_reason="end_turn"))
    budget: BudgetReport | None = None


def events(planned: MessagesPlan, context: ServerContext) -> AsyncIterator[MessageEvent]:
    """``message_start`` (with the engine's first output), the blocks' events, ``message_delta``, ``message_stop``."""
    plan, tools = planned.plan, planned.plan.tools
    hold = CallHold(tools) if tools and tools.shapes_answer else None
    blocks, ending = _Blocks(), _Ending()

    def render(step: Step) -> list[MessageEvent]:
        out: list[MessageEvent] = []
        if step.reasoning:
            out += [] if blocks.kind == "thinking" else blocks.open(ThinkingBlock(thinking="", signature=""))
            out += [blocks.delta(ThinkingDelta(thinking=step.reasoning))] if planned.show_thinking else []
        out += blocks.text(hold.feed(step.content) if hold else step.content)
        if step.finish_reason is None:
            return out
        uses: list[ToolUseBlock] = []
        if hold is not None:
            rest, calls = hold.finish()
            rest, uses = _tool_uses(rest, calls)
            out += blocks.text(rest)
        for use in uses:
            out += blocks.open(use.model_copy(update={"input": {}}))  # the input follows whole, as JSON text
            out.append(blocks.delta(InputJSONDelta(partial_json=json.dumps(use.input, ensure_ascii=False))))
        out += blocks.open(TextBlock(text="")) if blocks.index < 0 else []  # never an empty content
        out += blocks.close()
        reason, sequence = stop_reason(step.finish_reason, step.stop_reason, bool(uses))
        ending.delta, ending.budget = StopDelta(stop_reason=reason, stop_sequence=sequence), step.budget
        return out

    def message_delta(totals: Usage) -> MessageEvent:
        counted = DeltaUsage(**dict(_usage(totals)))
        return MessageDelta(delta=ending.delta, usage=counted, thinking_budget=ending.budget)

    started = MessageUsage(input_tokens=len(plan.prompts[0]), output_tokens=0)
    start = MessageStart(message=Message(id=plan.request_id, model=plan.model, content=[], usage=started))
    return _then_stop(stream(Generation(plan, context), [start], render, message_delta))


async def _then_stop(events: AsyncIterator[MessageEvent]) -> AsyncIterator[MessageEvent]:
    """``message_stop`` after the rest; closing this closes the events (and aborts the engine request)."""
    async with aclosing(events) as running:  # type: ignore[type-var]
        async for event in running:
            yield event
    yield MessageStop()
