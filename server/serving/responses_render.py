"""A planned Responses request's output: items, usage and the Response object; stored unless ``store: false``.

The thinking is a ``reasoning`` item (whole, in ``content``), the answer a ``message`` item (left out when the
answer is only calls), each call a ``function_call`` item. A choice cut by the token cap is ``incomplete``
with ``incomplete_details.reason: "max_output_tokens"``, as OpenAI's API says it.
"""

from __future__ import annotations

import uuid
from typing import Any

from server.engine.types import FunctionCall
from server.protocol.chat import TokenLogprob
from server.protocol.common import BudgetReport, Usage, now
from server.protocol.responses import ResponsesRequest
from server.protocol.responses_output import (
    FunctionCallItem,
    IncompleteDetails,
    InputTokensDetails,
    ItemStatus,
    MessageItem,
    OutputItem,
    OutputText,
    OutputTokensDetails,
    ReasoningItem,
    ReasoningText,
    ResponseObject,
    ResponseUsage,
)
from server.serving.choice import Step
from server.serving.context import ServerContext
from server.serving.generate import Generation, collect
from server.serving.logprobs import chat_logprobs
from server.serving.responses import Turn

TEXT = {"type": "text"}  # OpenAI's default text.format, echoed when none was sent


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def call_item(call: FunctionCall, status: ItemStatus = "completed", arguments: str | None = None) -> FunctionCallItem:
    """A call as an item; a parser's own id is kept when the model's format carries one (not vLLM's random one)."""
    call_id = call.id if call.id and not call.id.startswith("chatcmpl-tool-") else new_id("call")
    arguments = call.arguments if arguments is None else arguments
    return FunctionCallItem(id=new_id("fc"), call_id=call_id, name=call.name, arguments=arguments, status=status)


def item_status(finish_reason: str | None) -> ItemStatus:
    return "incomplete" if finish_reason == "length" else "completed"


def answer_logprobs(turn: Turn, context: ServerContext, step: Step) -> list[TokenLogprob] | None:
    if not turn.logprobs:
        return None
    return chat_logprobs(context.tokenizer, step.answer_logprobs, turn.plan.top_logprobs) or []


def response_usage(totals: Usage) -> ResponseUsage:
    details = OutputTokensDetails(reasoning_tokens=totals.completion_tokens_details.reasoning_tokens)
    cached = InputTokensDetails(cached_tokens=totals.prompt_tokens_details.cached_tokens)
    return ResponseUsage(
        input_tokens=totals.prompt_tokens, input_tokens_details=cached, output_tokens=totals.completion_tokens,
        output_tokens_details=details, total_tokens=totals.total_tokens,
    )  # fmt: skip


def echo(request: ResponsesRequest) -> dict[str, Any]:
    """The request fields a Response repeats, as OpenAI's API fills them in (defaults included)."""
    reasoning = request.reasoning.model_dump(exclude_none=True) if request.reasoning else None
    if reasoning is None and request.reasoning_effort is not None:
        reasoning = {"effort": request.reasoning_effort}
    text_format = request.text.format if request.text and request.text.format else None
    choice = request.tool_choice
    return {
        "instructions": request.instructions, "metadata": request.metadata,
        "max_output_tokens": request.max_output_tokens, "max_tool_calls": request.max_tool_calls,
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "previous_response_id": request.previous_response_id, "reasoning": reasoning,
        "temperature": request.temperature, "top_p": request.top_p, "top_logprobs": request.top_logprobs,
        "text": {"format": text_format.model_dump(by_alias=True, exclude_none=True) if text_format else TEXT},
        "tool_choice": choice.model_dump(exclude_none=True) if choice is not None and not isinstance(choice, str)
        else choice or "auto",
        "tools": [tool.model_dump(exclude_none=True) for tool in request.tools or []],
        "truncation": request.truncation or "disabled", "user": request.user,
        "safety_identifier": request.safety_identifier, "prompt_cache_key": request.prompt_cache_key,
        "prompt_cache_retention": request.prompt_cache_retention, "service_tier": request.service_tier,
        "background": request.background,
    }  # fmt: skip


def response_object(
    turn: Turn,
    output: list[OutputItem],
    totals: Usage | None = None,
    finish_reason: str | None = None,
    budget: BudgetReport | None = None,
) -> ResponseObject:
    """The Response: ``in_progress`` until the usage is known, then completed or incomplete."""
    if totals is None:
        status = "in_progress"
    else:
        status = "incomplete" if finish_reason == "length" else "completed"
    return ResponseObject(
        id=turn.response_id, status=status, model=turn.plan.model, output=output,
        usage=response_usage(totals) if totals is not None else None,
        completed_at=now() if status == "completed" else None,
        incomplete_details=IncompleteDetails() if status == "incomplete" else None,
        thinking_budget=budget, **echo(turn.request),
    )  # fmt: skip


def conversation(turn: Turn, output: list[OutputItem]) -> list[dict[str, Any]]:
    """The chat messages a continuation starts from: the history, then this output as one assistant turn."""
    assistant: dict[str, Any] = {"role": "assistant", "content": None}
    for item in output:
        if isinstance(item, ReasoningItem):
            assistant["reasoning_content"] = "".join(part.text for part in item.content)
        elif isinstance(item, MessageItem):
            assistant["content"] = "".join(part.text for part in item.content)
        else:
            function = {"name": item.name, "arguments": item.arguments}
            assistant.setdefault("tool_calls", []).append(
                {"id": item.call_id, "type": "function", "function": function}
            )
    return [*turn.history, assistant]


def keep(turn: Turn, context: ServerContext, response: ResponseObject) -> None:
    """OpenAI's default is ``store: true``; only ``false`` keeps nothing."""
    if turn.request.store is not False:
        context.response_store.put(response, conversation(turn, response.output))


def output_items(turn: Turn, context: ServerContext, step: Step) -> list[OutputItem]:
    tools = turn.plan.tools
    content, calls = tools.calls(step.content) if tools else (step.content, [])
    status = item_status(step.finish_reason)
    items: list[OutputItem] = []
    if step.reasoning:
        thinking_status: ItemStatus = "incomplete" if status == "incomplete" and not (content or calls) else "completed"
        items.append(
            ReasoningItem(id=new_id("rs"), content=[ReasoningText(text=step.reasoning)], status=thinking_status)
        )
    if content or not calls:
        text = OutputText(text=content or "", logprobs=answer_logprobs(turn, context, step))
        items.append(MessageItem(id=new_id("msg"), status=status, content=[text]))
    items += [call_item(call) for call in calls]
    return items


async def complete(turn: Turn, context: ServerContext) -> ResponseObject:
    generation = Generation(turn.plan, context)
    steps = await collect(generation)
    step = steps[0] if steps else Step(finish_reason="stop")
    response = response_object(turn, output_items(turn, context, step), generation.usage(), step.finish_reason,
                               step.budget)  # fmt: skip
    keep(turn, context, response)
    return response
