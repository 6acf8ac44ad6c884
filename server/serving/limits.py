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


def check_truncation(keep: int | None, limits: Limits) -> None:
    """``truncate_prompt_tokens``' bounds, as vLLM checks them before the prompt is rendered."""
    if keep is not None and keep > limits.max_model_len:
        raise APIError(
            f"truncate_prompt_tokens is {keep}; it cannot be greater than max_model_len = {limits.max_model_len}.",
            param="truncate_prompt_tokens",
        )
    if keep == 0:
        raise APIError("truncate_prompt_tokens is 0: the prompt would be empty.", param="truncate_prompt_tokens")


def truncate_prompt(prompt: list[int], keep: int | None, side: str | None, limits: Limits) -> list[int]:
    """vLLM's ``truncate_prompt_tokens``: the prompt's last ``keep`` tokens, its first with side ``right``.

    -1 keeps as many as the context holds with room for one token out (vLLM's for a request with a token cap).
    Left is vLLM's side for generative models (its tokenizer's ``truncation_side``): the end of a chat prompt,
    where the answer starts, stays. Done before the length checks, which then see the truncated prompt.
    """
    if keep is None:
        return prompt
    keep = limits.max_model_len - 1 if keep == -1 else keep
    if len(prompt) <= keep:
        return prompt
    return prompt[:keep] if side == "right" else prompt[len(prompt) - keep :]
