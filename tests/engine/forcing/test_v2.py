"""The V2 adapter, driven as Model Runner V2 drives it (``v2_runner.py``), against the pure rules and s1's reference."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vllm import SamplingParams

from server.engine.forcing import v2
from server.engine.forcing.arrays import Torch
from server.engine.forcing.v2 import SPECULATIVE_DECODING, V2BudgetProcessor
from server.thinking.budget import Budget, decide, initial_state, observe
from tests.engine.forcing.scripted import END, EOS, VOCAB, budgets, extra_args, model_logits, pure_row, sample
from tests.engine.forcing.v2_runner import Request, V2Runner, run
from tests.thinking.test_budget import reference_decode

NEVER = (22, 23)  # tokens the s1 test's model never picks: its waits are all forced ones


def pure_decode(rid: int, budget: Budget | None, opens: bool, temperature: float, max_tokens: int) -> list[int]:
    """The request decoded alone: the pure rules, the pure edit, the same model and sampler."""
    out: list[int] = []
    state = initial_state(budget, opens) if budget else None
    while len(out) < max_tokens:
        row = pure_row(budget, state, model_logits(rid, out), temperature)
        token = sample(row.float(), temperature, rid, len(out))
        if budget is not None:
            observe(budget, state, token, decide(budget, state))
        out.append(token)
        if token in EOS:
            break
    return out


def new_request(rid: int, budget: Budget | None, opens: bool, temperature: float, max_tokens: int) -> Request:
    params = SamplingParams(temperature=temperature, extra_args=extra_args(budget, opens))
    return Request(rid, params, max_tokens, frozenset(EOS))


@st.composite
def workloads(draw: st.DrawFn) -> tuple[list[tuple], list[tuple[int, int, int, int]]]:
    specs = draw(
        st.lists(
            st.tuples(
                st.one_of(st.none(), budgets(), budgets()), st.booleans(), st.sampled_from([0.0, 0.0, 0.8]),
                st.integers(1, 30),
            ),
            min_size=1, max_size=8,
        )
    )  # fmt: skip
    plan = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 2), st.integers(0, 2))))
    return specs, plan


@pytest.fixture(params=["numpy", "torch"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """numpy: the adapter as it runs on a CPU; torch: as on a GPU (tensors all the way, here on the CPU)."""
    if request.param == "torch":
        monkeypatch.setattr(v2, "backend", lambda device: Torch)
    return request.param


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(workload=workloads(), seed=st.integers(0, 2**32))
def test_every_request_decodes_what_the_pure_rules_decode_alone(path: str, workload, seed: int) -> None:
    """Continuous batching over 3 slots: arrivals, finishes, preemption and resumption in another slot, chunked
    prefill, rows reordered every step; greedy and sampled."""
    specs, plan = workload
    requests = [new_request(rid, *spec) for rid, spec in enumerate(specs)]
    runner = V2Runner(V2BudgetProcessor, 3, lambda r: model_logits(r.rid, r.output), seed)
    steps = run(runner, requests, lambda step: plan[step] if step < len(plan) else (3, 0, 3, 0))
    assert steps < 1000
    for request, (budget, opens, temperature, max_tokens) in zip(requests, specs, strict=True):
        assert request.output == pure_decode(request.rid, budget, opens, temperature, max_tokens), request


def s1_model(rid: int):  # type: ignore[no-untyped-def]
    """A greedy scripted model that never writes a wait token itself (s1's reference would not count it) and
    decodes without a grammar (s1's reference has none)."""

    def logits(output: list[int]) -> torch.Tensor:
        row = model_logits(rid, output, grammar=False)
        row[list(NEVER)] = -20.0
        return row

    return logits


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    budget=st.builds(
        Budget, st.just(END), st.just(frozenset(EOS)), st.sampled_from([NEVER[:1], NEVER]),
        st.lists(st.integers(4, 19), max_size=3).map(lambda tail: (END, *tail)), st.just(()),
        st.integers(0, 12), st.one_of(st.none(), st.integers(0, 16)), st.integers(0, 3),
    ).filter(lambda b: b.max_tokens is None or b.min_tokens <= b.max_tokens),
    max_tokens=st.integers(1, 40),
    seed=st.integers(0, 2**32),
)  # fmt: skip
def test_greedy_outputs_equal_the_s1_reference_procedure(path: str, budget: Budget, max_tokens: int, seed: int) -> None:
    models = {rid: s1_model(rid) for rid in range(4)}
    requests = [new_request(rid, budget, True, 0.0, max_tokens) for rid in range(4)]
    runner = V2Runner(V2BudgetProcessor, 2, lambda r: models[r.rid](r.output), seed)
    run(runner, requests, lambda step: (1, step % 5 == 3, 1, step % 7 == 0))
    for request in requests:
        greedy = lambda history, rid=request.rid: int(models[rid](list(history)).argmax())  # noqa: E731
        assert request.output == reference_decode(greedy, budget, max_tokens)  # type: ignore[arg-type]


def test_a_recycled_slot_starts_from_the_new_request_s_budget() -> None:
    budget = Budget(END, frozenset(EOS), NEVER, (END, 5), min_waits=5)
    ends = lambda r: torch.nn.functional.one_hot(torch.tensor(END), VOCAB).float() * 5  # noqa: E731
    runner = V2Runner(V2BudgetProcessor, 1, ends, 0)
    first, second = new_request(0, budget, True, 0.0, 3), new_request(1, None, True, 0.0, 3)
    run(runner, [first, second], lambda step: (1, 0, 0, 0))
    assert first.output == [NEVER[0], NEVER[1], NEVER[0]]  # a wait and a half: the minimum holds
    assert second.output == [END, END, END]  # same slot, no budget: nothing of the first request's is left


def test_speculative_decoding_is_refused_with_a_clear_message() -> None:
    state = SimpleNamespace(max_num_reqs=2, device=torch.device("cpu"))
    with pytest.raises(ValueError, match="speculative decoding"):
        V2BudgetProcessor(SimpleNamespace(speculative_config=object()), state)
    assert "--speculative-config" in SPECULATIVE_DECODING
