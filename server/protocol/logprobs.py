"""vLLM's prompt logprobs on the wire, and its rule for the request field that asks for them.

``prompt_logprobs`` (vLLM's extension) answers with one entry per prompt token: None for the
first (nothing precedes it), then a map of token id to :class:`PromptLogprob`: the prompt's
own token (with its rank in the vocabulary) and the ``k`` most likely. It rides on each text
completion choice and on the chat completion, as `vllm serve` puts it.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

# vLLM's floor for a logprob of -inf (a token the model rules out), which JSON cannot carry.
LOGPROB_FLOOR = -9999.0


class PromptLogprob(BaseModel):
    """vLLM's ``Logprob`` as its responses carry it: a token's logprob, its rank in the vocabulary, its text."""

    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


PromptLogprobs = list[dict[int, PromptLogprob] | None]


class _AsksPromptLogprobs(Protocol):
    stream: bool
    prompt_logprobs: int | None


R = TypeVar("R", bound=_AsksPromptLogprobs)


def not_streamed(request: R) -> R:
    """vLLM refuses ``prompt_logprobs`` above 0 (or -1) in a stream: a chunk has no place for them.

    Raised as a ValidationError of its own so that its location names the field (the 400's ``param``).
    """
    if request.stream and request.prompt_logprobs not in (None, 0):
        error = PydanticCustomError("prompt_logprobs", "prompt_logprobs are not available when stream is true")
        line = {"type": error, "loc": ("prompt_logprobs",), "input": request.prompt_logprobs}
        raise ValidationError.from_exception_data(type(request).__name__, [line])
    return request
