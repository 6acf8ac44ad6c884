"""The adapter: our engine types to vLLM's and back, field by field (no engine started)."""

from __future__ import annotations

from vllm import CompletionOutput, RequestOutput
from vllm.logprobs import Logprob
from vllm.sampling_params import RequestOutputKind

from server.engine.types import ChoiceOutput, EngineOutput, Sampling, TokenLogprob
from server.engine.vllm_engine import engine_output, sampling_params


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
