"""vLLM's tokenizer endpoints: text, or chat messages through the chat endpoint's own template path, to
token ids; token ids back to text. Nothing reaches the engine; the tokenizer runs in a worker thread, as
the chat endpoint's rendering does, off the event loop."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from server.protocol.errors import APIError
from server.protocol.tokenize import CHAT_ONLY, DetokenizeRequest, DetokenizeResponse, TokenizeRequest, TokenizeResponse
from server.serving.chat_turn import check_chat_template
from server.serving.context import ServerContext
from server.serving.fields import Refusals, check_refused, check_text_parts
from server.serving.limits import check_message_count
from server.serving.prompts import check_token_ids, render_chat, template_kwargs

REFUSED: Refusals = {
    "media_io_kwargs": (lambda v: not v, "this server takes text only"),
    "mm_processor_kwargs": (lambda v: not v, "this server takes text only"),
}


async def tokenize(request: TokenizeRequest, context: ServerContext) -> TokenizeResponse:
    context.resolve_model(request.model)
    ids = await (_chat(request, context) if request.messages is not None else _text(request, context))
    spell = context.tokenizer.convert_ids_to_tokens
    strs: list[str] | None = await run_in_threadpool(spell, ids) if request.return_token_strs else None
    return TokenizeResponse(count=len(ids), max_model_len=context.engine.max_model_len, tokens=ids, token_strs=strs)


async def detokenize(request: DetokenizeRequest, context: ServerContext) -> DetokenizeResponse:
    """The ids as one text, special tokens kept (vLLM's ``/detokenize``); an id outside the vocabulary is a 400."""
    context.resolve_model(request.model)
    text: str = await run_in_threadpool(_decode, context.tokenizer, request.tokens, context.vocab_size)
    return DetokenizeResponse(prompt=text)


def _decode(tokenizer: Any, ids: list[int], vocab_size: int) -> str:
    check_token_ids(ids, vocab_size, "tokens")
    text: str = tokenizer.decode(ids)
    return text


async def _text(request: TokenizeRequest, context: ServerContext) -> list[int]:
    if request.prompt is None:
        raise APIError("send prompt (text) or messages (chat) to tokenize.", param="prompt")
    for name in CHAT_ONLY:
        if name in request.model_fields_set:
            raise APIError(f"{name} applies to the chat form (messages), not to prompt.", param=name)
    special = request.add_special_tokens is not False  # vLLM's default for text: true
    ids: list[int] = await run_in_threadpool(context.tokenizer.encode, request.prompt, add_special_tokens=special)
    return ids


async def _chat(request: TokenizeRequest, context: ServerContext) -> list[int]:
    """As the chat endpoint renders its prompt: the same template, kwargs, tools, checks."""
    messages = request.messages or []
    if request.prompt is not None:
        raise APIError("send prompt (text) or messages (chat), not both.", param="prompt")
    check_refused(REFUSED, {name: getattr(request, name) for name in REFUSED})
    check_chat_template(request.chat_template, context.settings.trust_request_chat_template)
    check_message_count(len(messages), context.limits)
    check_text_parts(messages)
    if request.continue_final_message and request.add_generation_prompt:
        raise APIError(
            "continue_final_message leaves the last message open; send add_generation_prompt: false with it.",
            param="continue_final_message",
        )
    kwargs = template_kwargs(request.chat_template_kwargs, None, context.template_defaults)
    tools: list[dict[str, Any]] | None = [t.model_dump(exclude_none=True) for t in request.tools or []] or None
    ids: list[int] = await run_in_threadpool(
        render_chat, context.tokenizer, messages, kwargs, tools,
        add_generation_prompt=request.add_generation_prompt,
        continue_final_message=request.continue_final_message,
        add_special_tokens=request.add_special_tokens is True,  # vLLM's default for chat: false
        chat_template=request.chat_template,
    )  # fmt: skip
    return ids
