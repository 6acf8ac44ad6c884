"""The server's limits, and the checks that need a prompt's length or the context's size."""

from __future__ import annotations

from dataclasses import dataclass

from server.ops.settings import Settings
from server.protocol.errors import APIError


@dataclass(frozen=True)
class Limits:
    max_model_len: int
    max_n: int
    max_stop_sequences: int
    max_messages: int

    @classmethod
    def of(cls, settings: Settings, max_model_len: int) -> Limits:
        return cls(max_model_len, settings.max_n, settings.max_stop_sequences, settings.max_messages)


def check_message_count(count: int, limits: Limits) -> None:
    if count > limits.max_messages:
        raise APIError(
            f"messages has {count} entries; this server accepts at most {limits.max_messages}.", param="messages"
        )


def check_prompt_length(prompt_len: int, limits: Limits, param: str) -> None:
    if prompt_len >= limits.max_model_len:
        raise APIError(
            f"The prompt is {prompt_len} tokens; this model's context holds {limits.max_model_len} "
            "tokens, prompt and completion together.",
            param=param,
            code="context_length_exceeded",
        )


def resolve_max_tokens(requested: int | None, prompt_len: int, limits: Limits, param: str) -> int:
    """The completion's token cap: as asked, or what the context has left when unset."""
    room = limits.max_model_len - prompt_len
    if requested is None:
        return room
    if requested > room:
        raise APIError(
            f"{param} is {requested}, but the context holds {limits.max_model_len} tokens and the prompt "
            f"takes {prompt_len}: at most {room} remain.",
            param=param,
            code="context_length_exceeded",
        )
    return requested


def check_min_tokens(min_tokens: int, max_tokens: int) -> None:
    if min_tokens > max_tokens:
        raise APIError(f"min_tokens ({min_tokens}) is above the token cap ({max_tokens}).", param="min_tokens")
