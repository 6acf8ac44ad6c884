"""The Qwen3 test model on the real engine: vLLM loads the built directory and greedy decoding thinks, ends, stops.

One engine start (~30-40 s on two CPU cores) for the whole module: CI's budget for real-vocabulary tests
is five minutes, and the server's own engine tests build on ``build_model`` as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.families.build import build_model, delimiters
from bench.families.catalog import family
from bench.families.circuit import PHASE_TOKENS
from bench.families.greedy_rates import greedy, load, position
from tinymodel.task import held_out_problems


def test_position_is_the_first_occurrence_or_none() -> None:
    assert position([5, 7, 7], 7) == 1
    assert position([5], 7) is None


@pytest.fixture(scope="module")
def qwen3_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    llm = load(build_model("qwen3", tmp_path_factory.mktemp("qwen3")))
    yield llm
    del llm


@pytest.mark.engine
def test_qwen3_opens_ends_its_thinking_and_stops_under_greedy_decoding(qwen3_llm: Any) -> None:
    tokenizer = qwen3_llm.get_tokenizer()
    ids = delimiters(family("qwen3"), tokenizer)
    assert (ids.end_token, ids.eos, tokenizer.convert_tokens_to_ids("<think>")) == (151_668, 151_645, 151_667)
    completions = greedy(qwen3_llm, [p.question for p in held_out_problems(4, seed=7)], max_tokens=3 * PHASE_TOKENS)
    for completion in completions:
        end, eos = position(completion, ids.end_token), position(completion, ids.eos)
        assert completion[0] == 151_667  # the model writes <think> itself, as Qwen3 does
        assert end is not None and abs(end - (PHASE_TOKENS + 1)) <= 1
        assert eos is not None and abs(eos - end - (PHASE_TOKENS + 1)) <= 1


@pytest.mark.engine
def test_qwen3_answers_and_stops_with_thinking_switched_off(qwen3_llm: Any) -> None:
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, max_tokens=3 * PHASE_TOKENS)
    chat = [{"role": "user", "content": "1+1"}]
    [output] = qwen3_llm.chat([chat], params, chat_template_kwargs={"enable_thinking": False}, use_tqdm=False)
    completion = list(output.outputs[0].token_ids)
    assert 151_668 not in completion
    eos = position(completion, 151_645)
    assert eos is not None and abs(eos - PHASE_TOKENS) <= 1
