"""The request-only checks: OpenAI fields this server refuses, values only the request can tell wrong.

Every field of OpenAI's chat and text completions APIs is either honoured or refused here with
a 400 naming it (vLLM's extensions: :mod:`server.serving.extensions`); a field that asks for
nothing (``tools: []``, ``tool_choice: "none"``, ``store: false``…) is accepted. Unknown fields
are ignored, as OpenAI's API does, and logged once per name so an operator sees what clients send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from server.protocol.chat import ChatCompletionRequest, ChatMessage
from server.protocol.common import SamplingFields
from server.protocol.completions import CompletionRequest
from server.protocol.errors import APIError
from server.serving.extensions import check_extensions
from server.serving.limits import Limits, check_truncation
from server.serving.prompts import check_token_ids

logger = logging.getLogger(__name__)
_logged_unknown: set[str] = set()
MAX_LOGGED_UNKNOWN = 256  # a client sending random names cannot grow this set (or the log) without bound

# vLLM's structured-output fields before 0.12: `vllm serve` users may still send them.
GUIDED = ("guided_json", "guided_regex", "guided_choice", "guided_grammar", "guided_json_object",
          "guided_decoding_backend", "guided_whitespace_pattern", "structural_tag")  # fmt: skip


def _none(value: Any) -> bool:
    return value is None


def _empty(value: Any) -> bool:
    return not value


def one_of(*accepted: Any) -> Callable[[Any], bool]:
    return lambda value: value is None or value in accepted


Refusals = dict[str, tuple[Callable[[Any], bool], str]]  # field -> (what is accepted, why anything else is refused)


def check_refused(table: Refusals, values: dict[str, Any]) -> None:
    """A 400 naming the first field of ``table`` (in its order) whose value in ``values`` it does not accept."""
    for name, (accepted, why) in table.items():
        if name in values and not accepted(values[name]):
            raise APIError(f"{name}: {why}.", param=name, code="unsupported_parameter")


REFUSED: Refusals = {
    "modalities": (lambda v: v is None or v == ["text"], 'this model answers in text only; only ["text"]'),
    "audio": (_none, "this model answers in text only"),
    "prediction": (_none, "predicted outputs are not supported"),
    "web_search_options": (_none, "this server has no web search"),
    "verbosity": (_none, "verbosity is not supported; bound the answer with max_completion_tokens"),
    "moderation": (_none, "this server does no moderation"),
    "store": (one_of(False), "this server stores no completions; only false is accepted"),
    "service_tier": (one_of("auto", "default"), 'this server has one service tier: "auto" or "default"'),
    "suffix": (_empty, "suffix (fill-in-the-middle) is not supported"),
}


def _default(*values: Any) -> Callable[[Any], bool]:
    return lambda value: value is None or value in values


# vLLM 0.32's request fields for what this server does not do: accepted only when they ask for nothing
# (absent, null, false, empty or vLLM's default), else a 400 naming them. They arrive as unknown fields.
VLLM_REFUSED: Refusals = {
    "use_beam_search": (_default(False), "beam search is not offered; requests are sampled"),
    "length_penalty": (_default(1, 1.0), "it applies to beam search, which is not offered"),
    "watermarking": (_default(False), "this server adds no watermark"),
    "documents": (_empty, "no retrieval documents are passed to the chat template"),
    "media_io_kwargs": (_empty, "this model takes text only"),
    "mm_processor_kwargs": (_empty, "this model takes text only"),
    "prompt_embeds": (_empty, "prompt embeddings are not taken; send text or token ids"),
    "request_id": (_none, "this server names its requests; send an X-Request-Id header to trace yours"),
    "logprob_token_ids": (_empty, "logprobs of chosen token ids are not offered; use top_logprobs"),
    "return_token_offsets": (_default(False), "token offsets are not returned"),
    "return_prompt_text": (_default(False), "the prompt's text is not returned; /tokenize renders it"),
    "routed_experts_prompt_start": (_default(0), "routed experts are not returned"),
    "kv_transfer_params": (_none, "no disaggregated prefill here"),
    "ec_transfer_params": (_none, "no disaggregated encoding here"),
    "repetition_detection": (_none, "no n-gram early stop; a thinking that loops has thinking_loop_guard"),
    "stream_interval": (_none, "chunks follow the engine's --stream-interval"),
}


def check_request(request: SamplingFields, limits: Limits, vocab_size: int) -> None:
    """Everything that only needs the request (and the server's limits): the first stage of a plan."""
    _log_unknown_fields(request)
    check_refused(REFUSED, {name: getattr(request, name) for name in request.model_fields_set & REFUSED.keys()})
    _check_guided_fields(request)
    check_refused(VLLM_REFUSED, request.model_extra or {})
    if isinstance(request, ChatCompletionRequest):
        check_text_parts(request.messages)
    if request.n > limits.max_n:
        raise APIError(f"n is {request.n}; this server allows at most {limits.max_n}.", param="n")
    if request.n > 1 and request.temperature == 0:
        raise APIError("n above 1 needs sampling: with temperature 0 every choice would be the same.", param="n")
    if isinstance(request, CompletionRequest) and request.best_of not in (None, request.n):
        raise APIError(f"best_of must equal n ({request.n}): every choice made is returned.", param="best_of")
    if isinstance(request, ChatCompletionRequest) and request.top_logprobs and not request.logprobs:
        raise APIError("top_logprobs requires logprobs to be true.", param="top_logprobs")
    stops = request.stop_list()
    if len(stops) > limits.max_stop_sequences:
        raise APIError(
            f"stop has {len(stops)} sequences; at most {limits.max_stop_sequences} are allowed.", param="stop"
        )
    if any(not stop for stop in stops):
        raise APIError("stop sequences must not be empty strings.", param="stop")
    if request.stream_options is not None and not request.stream:
        raise APIError("stream_options is only allowed when stream is true.", param="stream_options")
    if request.stream_options is not None and request.stream_options.include_obfuscation:
        raise APIError(
            "this server adds no obfuscation padding; only false.", param="stream_options.include_obfuscation"
        )
    if request.metadata and request.store:
        raise APIError("this server stores nothing to tag with metadata.", param="metadata")
    logit_bias(request.logit_bias, vocab_size)
    check_token_ids(request.stop_token_ids or [], vocab_size, "stop_token_ids")
    check_extensions(request, vocab_size)
    check_truncation(request.truncate_prompt_tokens, limits)


def logit_bias(bias: dict[str, float] | None, vocab_size: int) -> dict[int, float] | None:
    """OpenAI's ``logit_bias`` (token id strings → bias in [-100, 100]) as the engine takes it."""
    if not bias:
        return None
    parsed: dict[int, float] = {}
    for key, value in bias.items():
        if not key.lstrip("-").isdigit() or not 0 <= int(key) < vocab_size:
            raise APIError(f"logit_bias: {key!r} is not a token id in [0, {vocab_size}).", param="logit_bias")
        if not -100 <= value <= 100:
            raise APIError(f"logit_bias: the bias of {key} is {value}; it must be in [-100, 100].", param="logit_bias")
        parsed[int(key)] = value
    return parsed


def _check_guided_fields(request: SamplingFields) -> None:
    for name in GUIDED:
        if (request.model_extra or {}).get(name) is not None:
            raise APIError(
                f"{name} is vLLM's field before 0.12; send structured_outputs (or response_format) instead.",
                param=name,
                code="unsupported_parameter",
            )


def check_text_parts(messages: list[ChatMessage]) -> None:
    """Content parts other than text are refused, each by its place (``messages.0.content.1``)."""
    for i, message in enumerate(messages):
        for j, part in enumerate(message.content if isinstance(message.content, list) else []):
            where = f"messages.{i}.content.{j}"
            if part.type != "text":
                raise APIError(
                    f"{where}: this model takes text only; `{part.type}` parts are not supported.", param=where
                )
            if part.text is None:
                raise APIError(f"{where}.text: a text part needs its text.", param=f"{where}.text")


def _log_unknown_fields(request: SamplingFields) -> None:
    for name in request.model_extra or {}:
        if name not in VLLM_REFUSED and name not in _logged_unknown and len(_logged_unknown) < MAX_LOGGED_UNKNOWN:
            _logged_unknown.add(name)
            logger.info("ignoring the unknown request field %r (logged once per field name)", name)
