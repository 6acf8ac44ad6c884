"""Where HTTP meets the engine: a validated request becomes vLLM ``SamplingParams``.

Every check that needs the prompt's length or the server's limits lives here, so
each bad value is reported with the request field that carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm import SamplingParams
from vllm.sampling_params import RequestOutputKind

from server.errors import APIError
from server.protocol.common import SamplingFields
from server.settings import Settings


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


def check_choices_and_stops(request: SamplingFields, limits: Limits, max_tokens: int) -> list[str]:
    if request.n > limits.max_n:
        raise APIError(f"n is {request.n}; this server allows at most {limits.max_n}.", param="n")
    if request.n > 1 and request.temperature == 0:
        raise APIError("n above 1 needs sampling: with temperature 0 every choice would be the same.", param="n")
    stops = request.stop_list()
    if len(stops) > limits.max_stop_sequences:
        raise APIError(
            f"stop has {len(stops)} sequences; at most {limits.max_stop_sequences} are allowed.", param="stop"
        )
    if any(not stop for stop in stops):
        raise APIError("stop sequences must not be empty strings.", param="stop")
    if request.min_tokens and request.min_tokens > max_tokens:
        raise APIError(f"min_tokens ({request.min_tokens}) is above the token cap ({max_tokens}).", param="min_tokens")
    if request.stream_options is not None and not request.stream:
        raise APIError("stream_options is only allowed when stream is true.", param="stream_options")
    return stops


def to_sampling_params(
    request: SamplingFields,
    *,
    max_tokens: int,
    logprobs: int | None,
    limits: Limits,
    extra_args: dict[str, Any] | None = None,
    skip_special_tokens: bool = True,
    front_end_stops: bool = False,
) -> SamplingParams:
    """The engine's view of a request whose prompt length and token cap are already checked.

    ``front_end_stops``: the front end matches the stop strings (see :mod:`server.stop_guard`),
    so the engine gets none and streams deltas for it to watch.
    """
    stops = check_choices_and_stops(request, limits, max_tokens)
    delta = request.stream or front_end_stops
    return SamplingParams(
        n=request.n,
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        seed=request.seed,
        stop=None if front_end_stops else stops or None,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        top_k=request.top_k or 0,
        min_p=request.min_p or 0.0,
        repetition_penalty=1.0 if request.repetition_penalty is None else request.repetition_penalty,
        min_tokens=request.min_tokens,
        ignore_eos=request.ignore_eos,
        max_tokens=max_tokens,
        logprobs=logprobs,
        skip_special_tokens=skip_special_tokens,
        output_kind=RequestOutputKind.DELTA if delta else RequestOutputKind.FINAL_ONLY,
        extra_args=extra_args,
    )
