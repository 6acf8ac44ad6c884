"""The phase circuit on a small-vocabulary twin of the test models (transformers, bfloat16 as vLLM's CPU runs it).

The circuit only knows token ids, so a 1,024-token vocabulary with made-up delimiter ids exercises it in
milliseconds per step: the thinking ends ``phase_tokens`` after its start, EOS as long after the end,
whatever the prompt's length, after a forced end, after a suppressed (minimum-budget) end, with
thinking switched off in the prompt, and across a multi-turn history.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from transformers import DynamicCache, Qwen3Config, Qwen3ForCausalLM

from bench.families.circuit import MAX_PHASE_TOKENS, PHASE_TOKENS, Delimiters, omega, wire
from bench.families.weights import SAVED_DTYPE, qwen3_config, random_weights

VOCAB = 1024
START, END, EOS = 100, 101, 102
THINK = Delimiters(start_anchor=START, end_anchor=END, end_token=END, eos=EOS, opener=None)
_FILLER = torch.Generator().manual_seed(1)


def twin(delimiters: Delimiters, phase_tokens: int = PHASE_TOKENS) -> Qwen3ForCausalLM:
    weights = wire(random_weights(VOCAB, seed=0), delimiters, phase_tokens)
    fields = qwen3_config(VOCAB, delimiters.eos, delimiters.eos, None, 2048)
    config = Qwen3Config(**{k: v for k, v in fields.items() if k not in ("architectures", "model_type", "dtype")})
    model = Qwen3ForCausalLM(config)
    model.eval()
    model.load_state_dict(weights)
    torch.nn.Module.to(model, SAVED_DTYPE)
    return model


@pytest.fixture(scope="module")
def model() -> Iterator[Qwen3ForCausalLM]:
    yield twin(THINK)


def filler(n: int) -> list[int]:
    """Random ordinary tokens (ids past the delimiters)."""
    return [int(t) for t in torch.randint(200, VOCAB, (n,), generator=_FILLER)]


def greedy(
    model: Qwen3ForCausalLM,
    prompt: list[int],
    steps: int = 60,
    forced: dict[int, int] | None = None,
    banned_until: int = 0,
    banned: tuple[int, ...] = (END, EOS),
) -> list[int]:
    """Greedy decoding to EOS; ``forced``: step -> token written instead; the end token banned before ``banned_until``.

    Banning and forcing are what a budget does: a minimum bans the end (and EOS), a maximum forces the end.
    """
    pending, cache, out = list(prompt), DynamicCache(), []
    with torch.no_grad():
        for step in range(steps):
            result = model(torch.tensor([pending]), past_key_values=cache, use_cache=True, logits_to_keep=1)
            logits = result.logits[0, -1].float()
            if step < banned_until:
                logits[list(banned)] = -1e9
            token = forced[step] if forced and step in forced else int(logits.argmax())
            out.append(token)
            pending = [token]
            if token == EOS:
                break
    return out


def ends(out: list[int]) -> tuple[int | None, int | None]:
    """Where the end token and EOS came (index in the output)."""
    return (out.index(END) if END in out else None), (out.index(EOS) if EOS in out else None)


def near(value: int | None, expected: int) -> bool:
    """Within a token: bfloat16 rounds the fresh timer's threshold."""
    return value is not None and abs(value - expected) <= 1


@pytest.mark.parametrize("prompt_length", [5, 300])
def test_the_thinking_ends_then_the_answer_whatever_the_prompts_length(
    model: Qwen3ForCausalLM, prompt_length: int
) -> None:
    end, eos = ends(greedy(model, [*filler(prompt_length), START]))
    assert near(end, PHASE_TOKENS) and eos is not None and end is not None and near(eos - end, PHASE_TOKENS + 1)


@pytest.mark.parametrize("at", [0, 5])
def test_a_forced_end_starts_the_answer(model: Qwen3ForCausalLM, at: int) -> None:
    end, eos = ends(greedy(model, [*filler(8), START], forced={at: END}))
    assert end == at and near(eos, at + PHASE_TOKENS + 1)


def test_a_banned_end_comes_as_soon_as_it_is_allowed(model: Qwen3ForCausalLM) -> None:
    end, eos = ends(greedy(model, [*filler(8), START], steps=120, banned_until=60))
    assert end == 60 and near(eos, 60 + PHASE_TOKENS + 1)


def test_with_only_the_end_banned_the_model_tries_eos_inside_the_thinking(model: Qwen3ForCausalLM) -> None:
    """What a budget's EOS guard is for: a model kept from ending its thinking reaches for EOS instead."""
    end, eos = ends(greedy(model, [*filler(8), START], banned_until=60, banned=(END,)))
    assert end is None and near(eos, PHASE_TOKENS)


@pytest.mark.parametrize("tail", [[START, 300, END, 300], [START, END]], ids=["qwen-off", "adjacent"])
def test_thinking_switched_off_in_the_prompt_answers_and_stops(model: Qwen3ForCausalLM, tail: list[int]) -> None:
    end, eos = ends(greedy(model, [*filler(8), *tail]))
    assert end is None and eos is not None and near(eos, PHASE_TOKENS)


def test_an_earlier_turns_end_does_not_end_the_new_thinking(model: Qwen3ForCausalLM) -> None:
    history = [*filler(6), END, *filler(6), EOS, *filler(5), START]
    end, eos = ends(greedy(model, history))
    assert near(end, PHASE_TOKENS) and eos is not None


def test_a_model_that_opens_its_own_thinking_writes_the_start_first() -> None:
    out = greedy(twin(Delimiters(START, END, END, EOS, opener=START)), filler(10))
    assert out[0] == START and near(ends(out)[0], PHASE_TOKENS + 1)


def test_s1s_end_token_is_followed_by_the_rest_of_its_delimiter() -> None:
    """s1: ``<|im_start|>`` ends the thinking, ``answer`` follows it, and EOS counts from ``answer``."""
    im_start, answer = 103, 104
    model = twin(Delimiters(START, answer, im_start, EOS, opener=None))
    out = greedy(model, [*filler(8), START])
    assert near(out.index(im_start), PHASE_TOKENS) and out[out.index(im_start) + 1] == answer
    assert near(out.index(EOS) - out.index(answer), PHASE_TOKENS + 1)


def test_phase_tokens_sets_both_lengths() -> None:
    end, eos = ends(greedy(twin(THINK, phase_tokens=30), [*filler(8), START], steps=80))
    assert near(end, 30) and end is not None and eos is not None and near(eos - end, 31)
    with pytest.raises(ValueError, match="phase_tokens"):
        wire(random_weights(VOCAB, 0), THINK, MAX_PHASE_TOKENS + 1)


def test_the_clocks_turn_as_designed() -> None:
    """Head B's cosine is still falling at the longest phase; head A still sees an anchor 180 tokens back."""
    from bench.families.circuit import FRESH_PAIR, PHASE_PAIR

    assert omega(FRESH_PAIR) * MAX_PHASE_TOKENS < torch.pi / 2
    assert omega(PHASE_PAIR) * 180 < torch.pi / 2 < omega(PHASE_PAIR) * 190
