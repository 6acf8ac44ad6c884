"""Prompts to token ids: chat messages through the model's chat template, raw text or ids as given.

Tokenizing can take a while for long prompts, so callers run these in a worker
thread (``starlette.concurrency.run_in_threadpool``), off the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from server.protocol.chat import ChatMessage
from server.protocol.errors import APIError
from server.protocol.tools import ToolCallIn

# Arguments ``apply_chat_template`` takes for itself: a request may not set them through the template's kwargs.
RESERVED_KWARGS = frozenset(
    {"conversation", "messages", "tools", "documents", "chat_template", "add_generation_prompt",
     "continue_final_message", "tokenize", "padding", "truncation", "max_length", "return_tensors", "return_dict",
     "return_assistant_tokens_mask", "tokenizer_kwargs"}
)  # fmt: skip


def template_kwargs(
    chat_template_kwargs: dict[str, Any] | None,
    reasoning_effort: str | None,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the template gets besides the messages: the request's kwargs, and ``reasoning_effort``
    (DeepSeek V4 and gpt-oss templates read it) unless the kwargs set it themselves; under both, the server's
    ``--default-chat-template-kwargs`` (vLLM's shallow merge: a key the request sets is the request's)."""
    kwargs = dict(chat_template_kwargs or {})
    for name in kwargs:
        if name in RESERVED_KWARGS:
            raise APIError(
                f"chat_template_kwargs.{name} is set by the server, not the request.",
                param=f"chat_template_kwargs.{name}",
            )
    if reasoning_effort is not None:
        kwargs.setdefault("reasoning_effort", reasoning_effort)
    return {**(defaults or {}), **kwargs}


def reserved_kwargs(kwargs: Mapping[str, Any]) -> list[str]:
    """The names in ``kwargs`` that ``apply_chat_template`` takes for itself (refused in the server's defaults)."""
    return sorted(RESERVED_KWARGS & kwargs.keys())


def render_chat(
    tokenizer: Any,
    messages: list[ChatMessage],
    kwargs: dict[str, Any] | None = None,
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
    add_special_tokens: bool = False,
    chat_template: str | None = None,
) -> list[int]:
    """The messages through the model's chat template (or the request's ``chat_template``); ``add_special_tokens``:
    the tokenizer's (BOS) on top of what the template writes, as vLLM's ``/tokenize`` takes it."""
    kwargs = {**(kwargs or {}), **({"continue_final_message": True} if continue_final_message else {})}
    text = _render(tokenizer, messages, kwargs, tools, add_generation_prompt, chat_template)
    ids: list[int] = tokenizer.encode(text, add_special_tokens=add_special_tokens)
    return ids


def final_message_ids(
    tokenizer: Any,
    messages: list[ChatMessage],
    kwargs: dict[str, Any],
    tools: list[dict[str, Any]] | None,
    chat_template: str | None,
    prompt: list[int],
) -> list[int] | None:
    """A continued final message's tokens in ``prompt``: what follows the messages before it, rendered alone;
    None when the template does not write those as the prompt's beginning (it then cannot tell)."""
    if len(messages) < 2:
        return prompt
    try:
        before = _render(tokenizer, messages[:-1], kwargs, tools, False, chat_template)
    except APIError:  # a template that takes no conversation ending there
        return None
    head: list[int] = tokenizer.encode(before, add_special_tokens=False)
    return prompt[len(head) :] if prompt[: len(head)] == head else None


def _render(
    tokenizer: Any,
    messages: list[ChatMessage],
    kwargs: dict[str, Any],
    tools: list[dict[str, Any]] | None,
    add_generation_prompt: bool,
    chat_template: str | None,
) -> str:
    conversation = [_message(message) for message in messages]
    template = {"chat_template": chat_template} if chat_template is not None else {}
    try:
        # Render to text, then encode: transformers 5 returns a BatchEncoding for tokenize=True.
        text: str = tokenizer.apply_chat_template(
            conversation, tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt,
            **template, **kwargs,
        )  # fmt: skip
    except Exception as exc:  # jinja2 errors raised by the template itself; a request's template that fails
        if chat_template is not None:
            raise APIError(f"The request's chat template failed: {exc}", param="chat_template") from exc
        raise APIError(f"The chat template rejected the messages: {exc}", param="messages") from exc
    return text


def _message(message: ChatMessage) -> dict[str, Any]:
    """A message as chat templates read it: tool calls with their arguments as objects (as vLLM passes them:
    templates write ``arguments | tojson``), a legacy ``function`` message as a ``tool`` message."""
    out: dict[str, Any] = {"role": "tool" if message.role == "function" else message.role, "content": message.text()}
    if message.name is not None:
        out["name"] = message.name
    calls = message.tool_calls or []
    if message.function_call is not None:
        calls = [*calls, ToolCallIn(function=message.function_call)]
    if calls:
        out["tool_calls"] = [
            {"id": call.id, "type": "function",
             "function": {"name": call.function.name, "arguments": _arguments(call.function.arguments)}}
            for call in calls
        ]  # fmt: skip
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    thinking = message.reasoning_content if message.reasoning_content is not None else message.reasoning
    if thinking is not None:  # Qwen3's template keeps the thinking of the turns since the last user message
        out["reasoning_content"] = thinking
    return out


def _arguments(arguments: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments  # not JSON: the template gets the text
    return parsed if isinstance(parsed, dict) else arguments


def encode_prompts(
    tokenizer: Any, prompt: str | list[str] | list[int] | list[list[int]], add_special_tokens: bool = True
) -> list[list[int]]:
    """One id list per prompt; token ids are checked against the vocabulary."""
    if isinstance(prompt, str):
        prompts: list[Any] = [prompt]
    elif prompt and all(isinstance(item, int) for item in prompt):
        prompts = [prompt]
    else:
        prompts = list(prompt)
    if not prompts:
        raise APIError("prompt must not be empty.", param="prompt")
    vocab = len(tokenizer)
    encoded: list[list[int]] = []
    for item in prompts:
        ids = tokenizer.encode(item, add_special_tokens=add_special_tokens) if isinstance(item, str) else list(item)
        if not ids:
            raise APIError("prompt must not be empty.", param="prompt")
        check_token_ids(ids, vocab, "prompt")
        encoded.append(ids)
    return encoded


def check_token_ids(ids: list[int], vocab_size: int, param: str) -> None:
    """A 400 naming ``param`` when an id is not a token of the vocabulary."""
    if any(not 0 <= token < vocab_size for token in ids):
        raise APIError(f"{param} holds token ids outside the vocabulary [0, {vocab_size}).", param=param)
