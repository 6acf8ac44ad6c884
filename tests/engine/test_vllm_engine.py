"""The adapter: our engine types to vLLM's and back, field by field (no engine started)."""

from __future__ import annotations

from transformers import AutoTokenizer
from vllm import CompletionOutput, RequestOutput
from vllm.logprobs import Logprob
from vllm.sampling_params import RequestOutputKind, SamplingParams
from vllm.tokenizers import get_tokenizer

from server.engine.types import ChoiceOutput, EngineOutput, Sampling, TokenLogprob
from server.engine.vllm_engine import engine_output, sampling_params
from server.ops.settings import SHIPPED_MODEL
from server.serving.extensions import bad_word_ids


def test_every_sampling_field_reaches_vllm() -> None:
    sampling = Sampling(
        max_tokens=9, n=2, temperature=0.5, top_p=0.9, top_k=7, min_p=0.1, seed=3, presence_penalty=0.2,
        frequency_penalty=-0.2, repetition_penalty=1.1, min_tokens=2, ignore_eos=True, logprobs=1, stop=("x",),
        logit_bias={5: -100.0}, skip_special_tokens=False, deltas=True, extra_args={"k": 1},
    )  # fmt: skip
    params = sampling_params(sampling)
    seen = {name: getattr(params, name) for name in ("max_tokens", "n", "temperature", "top_p", "top_k", "min_p")}
    assert seen == {"max_tokens": 9, "n": 2, "temperature": 0.5, "top_p": 0.9, "top_k": 7, "min_p": 0.1}
    assert (params.seed, params.presence_penalty, params.frequency_penalty) == (3, 0.2, -0.2)
    assert (params.repetition_penalty, params.min_tokens, params.ignore_eos, params.logprobs) == (1.1, 2, True, 1)
    assert (params.stop, params.logit_bias, params.skip_special_tokens) == (["x"], {5: -100.0}, False)
    assert (params.output_kind, params.extra_args) == (RequestOutputKind.DELTA, {"k": 1})
    assert sampling_params(Sampling(max_tokens=1)).output_kind == RequestOutputKind.FINAL_ONLY


def test_outputs_come_back_as_our_types() -> None:
    choice = CompletionOutput(
        1, "ab", [4, 5], None, [{4: Logprob(-0.1, 1, "a")}, {5: Logprob(-0.2, 1, "b")}], finish_reason="stop"
    )
    output = engine_output(RequestOutput("r", None, [1], None, [choice], finished=True))
    logprobs = [{4: TokenLogprob(-0.1, 1, "a")}, {5: TokenLogprob(-0.2, 1, "b")}]
    assert output == EngineOutput([ChoiceOutput(1, "ab", [4, 5], logprobs, "stop", None)], finished=True)


def test_prefix_cache_hits_come_back_with_each_output() -> None:
    choice = CompletionOutput(0, "a", [4], None, None)
    hit = RequestOutput("r", None, [1, 2, 3], None, [choice], finished=False, num_cached_tokens=2)
    assert engine_output(hit).cached_tokens == 2
    unknown = RequestOutput("r", None, [1], None, [choice], finished=False)  # None before the prefill's stats
    assert engine_output(unknown).cached_tokens == 0


def test_the_engine_extensions_reach_vllm() -> None:
    sampling = Sampling(
        max_tokens=4, bad_words=("7", "xy"), allowed_token_ids=(52, 54), spaces_between_special_tokens=False,
        include_stop_str_in_output=True, stop=("x",), extra_args={"mine": 1, "thinking_budget": {"end": 1}},
    )  # fmt: skip
    params = sampling_params(sampling)
    assert (params.bad_words, params.allowed_token_ids) == (["7", "xy"], [52, 54])
    assert (params.spaces_between_special_tokens, params.include_stop_str_in_output) == (False, True)
    assert params.output_text_buffer_length == 0  # an included stop string holds no text back
    assert params.extra_args == {"mine": 1, "thinking_budget": {"end": 1}}
    plain = sampling_params(Sampling(max_tokens=4))
    assert (plain.bad_words, plain.allowed_token_ids, plain.include_stop_str_in_output) == ([], None, False)


def test_prompt_logprobs_go_to_vllm_and_come_back_with_the_first_output() -> None:
    assert sampling_params(Sampling(max_tokens=1, prompt_logprobs=3)).prompt_logprobs == 3
    assert sampling_params(Sampling(max_tokens=1)).prompt_logprobs is None
    choice = CompletionOutput(0, "a", [4], None, None)
    scored = [None, {2: Logprob(-0.5, 3, "b"), 7: Logprob(-0.1, 1, "c")}]
    first = engine_output(RequestOutput("r", None, [1, 2], scored, [choice], finished=False))
    assert first.prompt_logprobs == [None, {2: TokenLogprob(-0.5, 3, "b"), 7: TokenLogprob(-0.1, 1, "c")}]
    later = RequestOutput("r", None, [1, 2], [], [choice], finished=True)  # a delta stream's: popped already
    assert engine_output(later).prompt_logprobs is None


def test_bad_words_are_tokenized_as_vllm_tokenizes_them() -> None:
    """The front end finds the bad words' tokens (to refuse those that would ban a forced one) as the engine does."""
    words = ["Wait", " 7", "ab c", "Final Answer:", "7"]
    params = SamplingParams(bad_words=words)
    params.update_from_tokenizer(get_tokenizer(str(SHIPPED_MODEL)))
    assert bad_word_ids(words, AutoTokenizer.from_pretrained(SHIPPED_MODEL)) == params.bad_words_token_ids
