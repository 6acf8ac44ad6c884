"""Prompts to token ids: chat messages through the model's chat template, raw text or ids as given.

Tokenizing can take a while for long prompts, so callers run these in a worker
thread (``starlette.concurrency.run_in_threadpool``), off the event loop.
"""

from __future__ import annotations

from typing import Any

from server.protocol.chat import ChatMessage
from server.protocol.errors import APIError


def render_chat(tokenizer: Any, messages: list[ChatMessage]) -> list[int]:
    conversation = [{"role": message.role, "content": message.text()} for message in messages]
    try:
        # Render to text, then encode: transformers 5 returns a BatchEncoding for tokenize=True.
        text = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # jinja2 errors raised by the template itself
        raise APIError(f"The chat template rejected the messages: {exc}", param="messages") from exc
    ids: list[int] = tokenizer.encode(text, add_special_tokens=False)
    return ids


def encode_prompts(tokenizer: Any, prompt: str | list[str] | list[int] | list[list[int]]) -> list[list[int]]:
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
        ids = tokenizer.encode(item, add_special_tokens=True) if isinstance(item, str) else list(item)
        if not ids:
            raise APIError("prompt must not be empty.", param="prompt")
        if any(not 0 <= token < vocab for token in ids):
            raise APIError(f"prompt holds token ids outside the vocabulary [0, {vocab}).", param="prompt")
        encoded.append(ids)
    return encoded
