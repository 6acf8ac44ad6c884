"""Anthropic's Messages request as a chat completion request: a translation onto the one pipeline.

:func:`to_chat` turns a ``/v1/messages`` (or ``count_tokens``) request into a
:class:`ChatCompletionRequest`, which is then planned, checked and generated exactly as a chat
completion (:func:`server.serving.plan.plan_chat`): one set of rules for budgets, tools, limits and
stop strings. Each field is honoured or refused with a 400 naming it:

- ``system`` and the messages' blocks: ``text`` → content; ``thinking`` → the assistant's
  ``reasoning_content``; ``tool_use`` → its ``tool_calls``; ``tool_result`` → ``tool`` messages, before the
  user's text; ``redacted_thinking`` is Anthropic's encrypted thinking, which no other model can read: left
  out, as vLLM does. Other block types (``image``, ``document``, server tools' blocks) are refused.
- ``thinking``: ``enabled`` → chat's ``thinking`` (``budget_tokens`` is the maximum, enforced; below
  ``max_tokens``, as vLLM and Anthropic require, without Anthropic's 1024 floor); ``disabled`` → the chat
  template's switches off (``enable_thinking``, ``thinking``) and a maximum of 0 for templates without one;
  ``adaptive`` → no maximum. ``output_config.effort`` → ``reasoning_effort``, ``output_config.format`` →
  ``response_format``.
- ``tool_choice``: ``auto``, ``none``; ``any`` → ``required``; ``tool`` → the named function;
  ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from server.protocol.chat import ChatCompletionRequest, ChatMessage
from server.protocol.common import ThinkingConfig
from server.protocol.errors import APIError
from server.protocol.messages import BUDGET_FIELDS, ContentBlock, MessageIn, MessagesInput, MessagesRequest
from server.protocol.tools import (
    FunctionCallIn,
    FunctionDefinition,
    FunctionName,
    JSONSchemaFormat,
    NamedToolChoice,
    ResponseFormat,
    Tool,
    ToolCallIn,
)
from server.serving.context import ServerContext
from server.serving.fields import Refusals, check_refused
from server.serving.limits import Limits, check_message_count
from server.serving.plan import Plan, plan_chat
from server.serving.prompts import render_chat, template_kwargs
from server.serving.tools import plan_tools

# the fields that ask for nothing pass
REFUSED: Refusals = {
    "container": (lambda v: v is None, "this server runs no code-execution containers"),
    "diagnostics": (lambda v: v is None, "this server keeps no earlier messages to compare with"),
    "inference_geo": (lambda v: v is None, "this server runs where it is deployed"),
    "speed": (lambda v: v in (None, "standard"), 'this server has one speed, "standard"'),
}
# The block types taken, with the fields each may carry and those it needs.
BLOCK_FIELDS = {
    "text": ({"text", "cache_control", "citations"}, ("text",)),
    "thinking": ({"thinking", "signature"}, ("thinking",)),
    "redacted_thinking": ({"data"}, ("data",)),
    "tool_use": ({"id", "name", "input", "cache_control"}, ("id", "name", "input")),
    "tool_result": ({"tool_use_id", "content", "is_error", "cache_control"}, ("tool_use_id",)),
}
ROLE_BLOCKS = {
    "user": ("text", "tool_result"),
    "assistant": ("text", "thinking", "redacted_thinking", "tool_use"),
    "system": ("text",),
}
TEMPLATE_THINKING_OFF = {"enable_thinking": False, "thinking": False}  # Qwen3/GLM's switch, DeepSeek's
EFFORTS = {"max": "xhigh"}  # Anthropic's efforts are the server's reasoning_effort names, but for "max"


@dataclass(frozen=True)
class MessagesPlan:
    plan: Plan
    show_thinking: bool  # thinking.display "omitted": the thinking block goes out without its text


async def plan_messages(body: MessagesRequest, context: ServerContext) -> MessagesPlan:
    plan = await plan_chat(to_chat(body, context.limits), context)
    message_id = "msg_" + plan.request_id.removeprefix("chatcmpl-")  # the engine's id, in Anthropic's spelling
    show = body.thinking is None or body.thinking.display != "omitted"
    return MessagesPlan(replace(plan, request_id=message_id), show)


async def count_tokens(body: MessagesInput, context: ServerContext) -> int:
    """The prompt's tokens as :func:`plan_messages` renders it (the same template, kwargs and tools)."""
    request = to_chat(body, context.limits)
    context.resolve_model(request.model)
    check_message_count(len(request.messages), context.limits)
    tools = plan_tools(request, context.tool_parser)
    kwargs = template_kwargs(request.chat_template_kwargs, request.reasoning_effort, context.template_defaults)
    template_tools = tools.tools if tools else None
    prompt = await run_in_threadpool(render_chat, context.tokenizer, request.messages, kwargs, template_tools)
    return len(prompt)


def to_chat(body: MessagesInput, limits: Limits) -> ChatCompletionRequest:
    check_refused(REFUSED, {name: getattr(body, name) for name in body.model_fields_set & REFUSED.keys()})
    fields: dict[str, Any] = {"model": body.model, "messages": _messages(body)}
    if isinstance(body, MessagesRequest):
        fields |= _sampling(body, limits) | {name: getattr(body, name) for name in BUDGET_FIELDS}
        _check_budget_below_max_tokens(body)
        _check_effort(body)
    fields |= _tools(body) | _thinking(body) | _output_config(body)
    try:  # only what is set: chat's checks read which fields a request sent
        return ChatCompletionRequest(**{name: value for name, value in fields.items() if value is not None})
    except ValidationError as exc:  # the checks above mirror chat's; should one slip, it is the client's 400
        first = exc.errors()[0]
        raise APIError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}", param=None) from None


def _messages(body: MessagesInput) -> list[ChatMessage]:
    out = []
    if body.system is not None:
        out.append(ChatMessage(role="system", content=_text(body.system, "system", "the system prompt")))
    for i, message in enumerate(body.messages):
        out += _message(message, f"messages.{i}")
    last = len(body.messages) - 1
    if body.messages[last].role == "assistant":
        raise APIError(
            f"messages.{last}: the last message is the assistant's; continuing it (prefill) is not supported: end "
            "with a user message.",
            param=f"messages.{last}",
        )
    return out


def _message(message: MessageIn, where: str) -> list[ChatMessage]:
    text, thinking, calls, results = [], [], [], []
    for j, block in enumerate(message.content):
        at = f"{where}.content.{j}"
        _check_block(block, at, ROLE_BLOCKS[message.role], f"a {message.role} message")
        if block.type == "text":
            text.append(block.text or "")
        elif block.type == "thinking":
            thinking.append(block.thinking or "")
        elif block.type == "tool_use":
            call = FunctionCallIn(name=block.name or "", arguments=block.input or {})
            calls.append(ToolCallIn(id=block.id, function=call))
        elif block.type == "tool_result":
            results.append(ChatMessage(role="tool", tool_call_id=block.tool_use_id, content=_result(block, at)))
    if message.role == "assistant":
        reasoning = "".join(thinking) if thinking else None
        return [ChatMessage(role="assistant", content="".join(text), tool_calls=calls or None,
                            reasoning_content=reasoning)]  # fmt: skip
    return results + ([ChatMessage(role=message.role, content="".join(text))] if text or not results else [])


def _check_block(block: ContentBlock, at: str, taken: tuple[str, ...], holder: str) -> None:
    if block.type not in BLOCK_FIELDS:
        why = "this model takes text only" if block.type in ("image", "document") else "not offered by this server"
        raise APIError(f"{at}: `{block.type}` blocks are not supported: {why}.", param=at)
    if block.type not in taken:
        raise APIError(f"{at}: {holder} cannot hold `{block.type}` blocks.", param=at)
    allowed, required = BLOCK_FIELDS[block.type]
    declared = block.model_fields_set & ContentBlock.model_fields.keys()
    given = {name for name in declared if getattr(block, name) is not None}
    given |= {name for name, value in (block.model_extra or {}).items() if value is not None}
    for name in sorted(given - allowed - {"type"}):
        raise APIError(f"{at}.{name}: a `{block.type}` block has no such field here.", param=f"{at}.{name}")
    for name in required:
        if getattr(block, name) is None:
            raise APIError(f"{at}.{name}: a `{block.type}` block needs its {name}.", param=f"{at}.{name}")
    if block.citations:
        raise APIError(f"{at}.citations: this server reads no citations; send none.", param=f"{at}.citations")


def _text(blocks: list[ContentBlock], where: str, holder: str) -> str:
    """Text blocks only (the system prompt, a tool's result), joined."""
    for j, block in enumerate(blocks):
        _check_block(block, f"{where}.{j}", ("text",), holder)
    return "".join(block.text or "" for block in blocks)


def _result(block: ContentBlock, at: str) -> str:
    """A tool's result as the text the template shows; an error result says so, as the model cannot see a flag."""
    text = _text(block.content or [], f"{at}.content", "a tool_result")
    return f"Error: {text}" if block.is_error else text


def _tools(body: MessagesInput) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if body.tools is not None:
        out["tools"] = [
            Tool(type="function", function=FunctionDefinition(
                name=tool.name, description=tool.description, parameters=tool.input_schema, strict=tool.strict))
            for tool in body.tools
        ]  # fmt: skip
    choice = body.tool_choice
    if choice is not None:
        modes = {"auto": "auto", "any": "required", "none": "none"}
        named = NamedToolChoice(type="function", function=FunctionName(name=choice.name or ""))
        out["tool_choice"] = modes.get(choice.type, named)
        out["parallel_tool_calls"] = False if choice.disable_parallel_tool_use else None
        if body.output_config and body.output_config.format and choice.type in ("any", "tool"):
            raise APIError(
                f'tool_choice "{choice.type}" and output_config.format both constrain the answer; send one.',
                param="tool_choice",
            )
    return out


def _thinking(body: MessagesInput) -> dict[str, Any]:
    thinking, kwargs = body.thinking, body.chat_template_kwargs
    if thinking is None or thinking.type == "adaptive":  # the model decides how long it thinks
        return {"chat_template_kwargs": kwargs}
    if thinking.type == "disabled":  # off in the template where it has a switch, a maximum of 0 everywhere
        off = ThinkingConfig(type="disabled")
        return {"thinking": off, "chat_template_kwargs": TEMPLATE_THINKING_OFF | (kwargs or {})}
    enabled = ThinkingConfig(type="enabled", budget_tokens=thinking.budget_tokens)
    return {"thinking": enabled, "chat_template_kwargs": kwargs}


def _output_config(body: MessagesInput) -> dict[str, Any]:
    config = body.output_config
    if config is None:
        return {}
    out: dict[str, Any] = {}
    if config.effort is not None:
        out["reasoning_effort"] = EFFORTS.get(config.effort, config.effort)
    if config.format is not None:
        schema = JSONSchemaFormat(name="output", json_schema=config.format.json_schema)
        out["response_format"] = ResponseFormat(type="json_schema", json_schema=schema)
    return out


def _sampling(body: MessagesRequest, limits: Limits) -> dict[str, Any]:
    stops = body.stop_sequences or []
    if len(stops) > limits.max_stop_sequences:
        raise APIError(f"stop_sequences has {len(stops)} sequences; at most {limits.max_stop_sequences} are allowed.",
                       param="stop_sequences")  # fmt: skip
    if any(not stop for stop in stops):
        raise APIError("stop_sequences must not hold empty strings.", param="stop_sequences")
    return {
        "max_tokens": body.max_tokens, "stop": stops or None, "stream": body.stream or None,
        "temperature": body.temperature, "top_p": body.top_p, "top_k": body.top_k,
        "stop_in_thinking": body.stop_in_thinking or None, "include_answer_prefix": body.include_answer_prefix,
    }  # fmt: skip


def _check_budget_below_max_tokens(body: MessagesRequest) -> None:
    budget = body.thinking.budget_tokens if body.thinking else None
    if budget is not None and budget >= body.max_tokens:
        raise APIError(
            f"thinking.budget_tokens ({budget}) must be less than max_tokens ({body.max_tokens}), which caps "
            "thinking and answer together (as in Anthropic's API and vLLM).",
            param="thinking.budget_tokens",
        )


def _check_effort(body: MessagesRequest) -> None:
    """``output_config.effort`` and this server's ``reasoning_effort`` are one setting: two values are a 400."""
    effort = body.output_config.effort if body.output_config else None
    if effort is not None and body.reasoning_effort not in (None, EFFORTS.get(effort, effort)):
        raise APIError("output_config.effort and reasoning_effort disagree; send one.",
                       param="output_config.effort,reasoning_effort", code="conflicting_parameters")  # fmt: skip
