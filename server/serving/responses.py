"""The Responses API as a translation onto chat completions: one request pipeline, two wire formats.

A ``/v1/responses`` request is checked for what only it can get wrong (fields this server refuses, items
and tools of kinds it does not take), then becomes a :class:`ChatCompletionRequest`: ``instructions`` a
system message first, the stored conversation of ``previous_response_id`` next, then ``input`` (read by
:mod:`server.serving.responses_input`: ``function_call`` items an assistant's ``tool_calls``,
``function_call_output`` items ``tool`` messages, ``reasoning`` items its ``reasoning_content``);
``reasoning.effort`` is chat's ``reasoning_effort``, ``max_output_tokens`` its ``max_completion_tokens``,
``text.format`` its ``response_format``, flat function tools its nested ones. :func:`plan_chat` checks and
plans the rest, and its errors name the Responses field (``max_output_tokens``, not ``max_completion_tokens``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from server.protocol.chat import ChatCompletionRequest
from server.protocol.errors import APIError
from server.protocol.responses import ResponsesRequest
from server.serving.context import ServerContext
from server.serving.fields import Refusals, check_refused, one_of
from server.serving.plan import Plan, plan_chat
from server.serving.responses_input import input_messages

LOGPROBS = "message.output_text.logprobs"
# `include` values: logprobs are honoured; the others ask for parts of items this server never makes (hosted
# tools and images are refused) or for an encrypted copy of the thinking, which the reasoning item carries in
# plain text: nothing to add.
INCLUDABLE = frozenset({
    LOGPROBS, "reasoning.encrypted_content", "file_search_call.results", "web_search_call.results",
    "web_search_call.action.sources", "code_interpreter_call.outputs", "computer_call_output.output.image_url",
    "message.input_image.image_url",
})  # fmt: skip


def _absent(value: Any) -> bool:
    return value is None or value == []


REFUSED: Refusals = {
    "background": (one_of(False), "responses are generated while you wait; only false"),
    "conversation": (_absent, "this server has no Conversations API; continue one with previous_response_id"),
    "context_management": (_absent, "this server never compacts a conversation"),
    "prompt": (_absent, "this server has no stored prompts; send instructions and input"),
    "moderation": (_absent, "this server does no moderation"),
    "service_tier": (one_of("auto", "default"), 'this server has one service tier: "auto" or "default"'),
    "truncation": (one_of("disabled"), 'only "disabled": an input too long for the context is a 400'),
}
# Chat completions' fields, sent here by mistake: each named with what the Responses API takes instead.
CHAT_ONLY: Refusals = {
    "messages": (_absent, "the Responses API takes input (and instructions)"),
    "max_tokens": (_absent, "the Responses API takes max_output_tokens"),
    "max_completion_tokens": (_absent, "the Responses API takes max_output_tokens"),
    "response_format": (_absent, "the Responses API takes text.format"),
    "functions": (_absent, "the Responses API takes tools"),
    "function_call": (_absent, "the Responses API takes tool_choice"),
    "logprobs": (one_of(False), f'the Responses API takes include: ["{LOGPROBS}"]'),
    "n": (one_of(1), "a response has one output; send one request per output"),
    "return_token_ids": (one_of(False), "a response has no place for token ids; use chat completions"),
}
# Chat's parameter names in errors from the pipeline, as this API spells them.
RENAMED = {"messages": "input", "max_completion_tokens": "max_output_tokens", "response_format": "text.format"}


@dataclass(frozen=True)
class Turn:
    """A Responses request planned on the chat pipeline, with what its response echoes and stores."""

    request: ResponsesRequest
    plan: Plan
    response_id: str
    history: list[dict[str, Any]]  # the chat messages before the output, instructions excepted
    logprobs: bool


async def plan_response(request: ResponsesRequest, context: ServerContext) -> Turn:
    check_fields(request, context)
    history: list[dict[str, Any]] = []
    if request.previous_response_id is not None:
        history = list(context.response_store.get(request.previous_response_id, "previous_response_id").conversation)
    history += input_messages(request.input, history)
    system = [{"role": "system", "content": request.instructions}] if request.instructions is not None else []
    if not history:
        raise APIError("input is empty: send a message (or previous_response_id and input).", param="input")
    effort_param = "reasoning.effort" if request.reasoning and request.reasoning.effort else "reasoning_effort"
    try:
        plan = await plan_chat(chat_request(request, system + history), context)
    except APIError as error:
        raise _renamed(error, {**RENAMED, "reasoning_effort": effort_param}) from None
    logprobs = LOGPROBS in (request.include or [])
    return Turn(request, plan, f"resp_{plan.request_id.split('-', 1)[-1]}", history, logprobs)


def check_fields(request: ResponsesRequest, context: ServerContext) -> None:
    """What only a Responses request can get wrong; the chat pipeline checks the rest."""
    declared, extra = type(request).model_fields, request.model_extra or {}
    for table in (REFUSED, CHAT_ONLY):
        check_refused(table, {name: getattr(request, name) if name in declared else extra.get(name) for name in table})
    if request.stream_options is not None and not request.stream:
        raise APIError("stream_options is only allowed when stream is true.", param="stream_options")
    if request.stream_options is not None and request.stream_options.include_obfuscation:
        raise APIError(
            "this server adds no obfuscation padding; only false.", param="stream_options.include_obfuscation"
        )
    if request.text is not None and request.text.verbosity is not None:
        raise APIError("verbosity is not supported; bound the answer with max_output_tokens.", param="text.verbosity")
    _check_reasoning(request, context)
    _check_tools(request)
    for value in request.include or []:
        if value not in INCLUDABLE:
            raise APIError(f"include: {value[:100]!r} is not one of {', '.join(sorted(INCLUDABLE))}.", param="include")
    if request.top_logprobs and LOGPROBS not in (request.include or []):
        raise APIError(f'top_logprobs needs include: ["{LOGPROBS}"].', param="top_logprobs")


def _check_reasoning(request: ResponsesRequest, context: ServerContext) -> None:
    reasoning = request.reasoning
    if reasoning is None:
        return
    if reasoning.effort is not None and reasoning.effort not in context.budget_defaults.effort_budgets:
        known = ", ".join(context.budget_defaults.effort_budgets)
        raise APIError(f"reasoning.effort must be one of {known}.", param="reasoning.effort")
    if reasoning.effort is not None and request.reasoning_effort not in (None, reasoning.effort):
        raise APIError("reasoning.effort and reasoning_effort differ; send one.", param="reasoning.effort")
    if reasoning.context not in (None, "auto"):
        raise APIError('reasoning.context: only "auto": the chat template decides which thinking it keeps.',
                       param="reasoning.context")  # fmt: skip
    if reasoning.mode not in (None, "standard"):
        raise APIError('reasoning.mode: only "standard".', param="reasoning.mode")


def _check_tools(request: ResponsesRequest) -> None:
    for i, tool in enumerate(request.tools or []):
        if tool.type != "function":
            raise APIError(f"tools.{i}: `{tool.type[:64]}` tools are not supported; this server calls functions only.",
                           param="tools", code="unsupported_parameter")  # fmt: skip
        if tool.name is None:
            raise APIError(f"tools.{i}.name: a function tool needs its name.", param=f"tools.{i}.name")
        if tool.defer_loading:
            raise APIError(f"tools.{i}.defer_loading: every tool is loaded here; only false.",
                           param=f"tools.{i}.defer_loading")  # fmt: skip
        if tool.allowed_callers is not None and "direct" not in tool.allowed_callers:
            raise APIError(f'tools.{i}.allowed_callers: only the model calls tools here; include "direct".',
                           param=f"tools.{i}.allowed_callers")  # fmt: skip
        for name in tool.model_extra or {}:
            raise APIError(f"tools.{i}.{name[:64]}: not a field of a function tool.", param=f"tools.{i}.{name[:64]}")
    choice = request.tool_choice
    if choice is not None and not isinstance(choice, str) and (choice.type != "function" or choice.name is None):
        raise APIError('tool_choice: "none", "auto", "required" or {"type": "function", "name": …}; '
                       f"`{choice.type[:64]}` choices are not supported.", param="tool_choice")  # fmt: skip


def chat_request(request: ResponsesRequest, messages: list[dict[str, Any]]) -> ChatCompletionRequest:
    """The chat request underneath; extra fields ride along (vLLM's extensions, checked there)."""
    body: dict[str, Any] = dict(request.model_extra or {})
    body.update({name: value for name, value in request.budget_fields().items() if value is not None})
    if request.reasoning and request.reasoning.effort is not None:
        body["reasoning_effort"] = request.reasoning.effort
    optional = {
        "model": request.model, "temperature": request.temperature, "top_p": request.top_p,
        "max_completion_tokens": request.max_output_tokens, "parallel_tool_calls": request.parallel_tool_calls,
    }  # fmt: skip
    body.update({name: value for name, value in optional.items() if value is not None})
    body.update(messages=messages, stream=request.stream)
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": tool.model_dump(include={"name", "description", "parameters", "strict"},
                                                             exclude_none=True)}
            for tool in request.tools
        ]  # fmt: skip
    choice = request.tool_choice
    if choice is not None:
        body["tool_choice"] = (
            choice if isinstance(choice, str) else {"type": "function", "function": {"name": choice.name}}
        )
    text_format = request.text.format if request.text else None
    if text_format is not None and text_format.type == "json_schema":
        schema = text_format.model_dump(include={"name", "description", "json_schema", "strict"}, by_alias=True,
                                        exclude_none=True)  # fmt: skip
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif text_format is not None:
        body["response_format"] = {"type": text_format.type}
    if LOGPROBS in (request.include or []):
        body.update(logprobs=True, top_logprobs=request.top_logprobs or 0)
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:  # an extension field's value, checked by the chat request
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"])
        raise APIError(f"{param}: {first['msg']}", param=RENAMED.get(param, param)) from None


def _renamed(error: APIError, names: dict[str, str]) -> APIError:
    """A pipeline error with chat's field names as the Responses API spells them (``messages.3.content``: input)."""

    def rename(param: str) -> str:
        return "input" if param.split(".")[0] == "messages" else names.get(param, param)

    param = ",".join(rename(part) for part in error.param.split(",")) if error.param is not None else None
    pattern = r"\b(max_completion_tokens|response_format|reasoning_effort)\b"
    message = re.sub(pattern, lambda match: names.get(match.group(1), match.group(1)), error.message)
    return APIError(message, status=error.status, param=param, code=error.code)
