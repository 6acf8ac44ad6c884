"""The budget kernel against the pure rules: every step, every row, across slot reuse and rebuilds.

Hypothesis drives a slot table as vLLM's runners do (requests added to free slots, finished, preempted and
resumed into another slot, rows reordered every step) with random budgets, a model that tries to end often
and a grammar that masks tokens now and then, greedy and sampled. At every step each row's logits must be
what :func:`server.thinking.edit.edit` makes of the pure decision, and each slot's state the pure state.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from server.engine.forcing import kernel
from server.engine.forcing.arrays import Backend, NumPy, Torch
from server.engine.forcing.table import LOOPS_BROKEN, STATE_WIDTH, SlotTable, loop_row, state_row
from server.thinking.budget import CYCLE, RELEASED, Budget, BudgetState, decide, initial_state, observe, summarize
from server.thinking.edit import FORCED_LOGIT
from tests.engine.forcing.scripted import (
    BOUNDARIES,
    END,
    EOS,
    REDO,
    VOCAB,
    assert_same_row,
    budgets,
    model_logits,
    pure_row,
    sample,
)

SLOTS = 5


@dataclass(eq=False)
class Request:
    rid: int
    budget: Budget | None
    opens: bool
    temperature: float
    output: list[int] = field(default_factory=list)
    state: BudgetState | None = None

    def __post_init__(self) -> None:
        self.state = initial_state(self.budget, self.opens) if self.budget else None


def admit(table: SlotTable, slot: int, request: Request) -> None:
    """What an adapter's add does: a new request's initial state, a resumed one's rebuilt from its output."""
    state = None
    if request.budget is not None:
        state = summarize(request.budget, request.opens, request.output)
    table.stage(slot, request.budget, state, request.temperature)


def one_step(table: SlotTable, order: list[tuple[int, Request]], xp: Backend) -> None:
    slots = np.array([slot for slot, _ in order])
    committed = np.array([len(r.output) for _, r in order])
    last = np.array([r.output[-1] if r.output else -1 for _, r in order])
    rows = torch.stack([model_logits(r.rid, r.output) for _, r in order])
    logits = rows.clone()
    flags = table.needs(slots)
    if xp is Torch:
        slots, committed, last = (torch.from_numpy(a) for a in (slots, committed, last))
    kernel.step(table, logits, slots, committed, last, xp=xp, **flags)
    for i, (slot, request) in enumerate(order):
        if request.budget is None:
            assert torch.equal(logits[i], rows[i])  # rows without a budget come out untouched
        else:
            assert_same_row(logits[i], pure_row(request.budget, request.state, rows[i], request.temperature))
            assert np.array_equal(table.rows[slot, :STATE_WIDTH].numpy(), state_row(request.budget, request.state))
            if request.budget.loop_guard:
                assert np.array_equal(table.loops[slot].numpy(), loop_row(request.state))
            decision = decide(request.budget, request.state)
            if decision.kind.value == "force" and rows[i, decision.token] > float("-inf"):
                assert logits[i, decision.token] > FORCED_LOGIT / 2
        token = sample(logits[i], request.temperature, request.rid, len(request.output))
        request.output.append(token)
        if request.budget is not None:  # the pure side sees each token at once, the kernel at the next step
            observe(request.budget, request.state, token, decide(request.budget, request.state))


@pytest.mark.parametrize("xp", [NumPy, Torch], ids=["numpy", "torch"])
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_the_kernel_equals_the_pure_rules_at_every_step(xp: Backend, data: st.DataObject) -> None:
    """NumPy: how it runs on a CPU; torch: how it runs on a GPU (here on the CPU's device)."""
    table, free, live, preempted, rid = SlotTable(SLOTS, "cpu"), list(range(SLOTS)), {}, [], 0
    for _ in range(data.draw(st.integers(2, 10), label="rounds")):
        for op in data.draw(st.lists(st.sampled_from(["add", "add", "finish", "preempt", "resume"]), max_size=3)):
            if op == "add" and free:
                budget = data.draw(st.one_of(st.none(), budgets(), budgets()), label="budget")
                temperature = data.draw(st.sampled_from([0.0, 0.0, 0.7, 1.3]), label="temperature")
                live[slot := free.pop()] = Request(rid, budget, data.draw(st.booleans(), label="opens"), temperature)
                admit(table, slot, live[slot])
                rid += 1
            elif op in ("finish", "preempt") and live:
                slot = data.draw(st.sampled_from(sorted(live)), label="victim")
                free.append(slot)  # vLLM's free list: the slot is reused next, with no removal hook
                if op == "preempt":
                    preempted.append(live[slot])
                del live[slot]
            elif op == "resume" and preempted and free:
                live[slot := free.pop()] = preempted.pop(data.draw(st.integers(0, len(preempted) - 1)))
                admit(table, slot, live[slot])
        table.flush()
        for _ in range(data.draw(st.integers(1, 6), label="steps")):
            if live:
                one_step(table, data.draw(st.permutations(sorted(live.items(), key=lambda item: item[0]))), xp)


def test_a_batch_without_budgets_is_left_alone_and_costs_no_state() -> None:
    table = SlotTable(3, "cpu")
    for slot in range(3):
        table.stage(slot, None, None, 0.0)
    table.flush()
    logits = torch.randn(3, VOCAB)
    before = logits.clone()
    kernel.step(table, logits, np.array([2, 0, 1]), np.array([5, 5, 5]), np.array([9, 9, 9]))
    assert torch.equal(logits, before)
    assert not table.active.any()


def test_the_kernel_never_reads_a_device_value_back_to_the_host() -> None:
    """What a CUDA stream capture would reject (bench/kernel_cuda.py proves it on a GPU), spotted in the code."""
    readbacks = {"item", "tolist", "cpu", "numpy", "nonzero", "int", "bool", "float"}
    calls = [node.func for node in ast.walk(ast.parse(Path(kernel.__file__).read_text())) if isinstance(node, ast.Call)]
    names = {getattr(func, "attr", getattr(func, "id", None)) for func in calls}
    assert names & readbacks == set()


@pytest.mark.parametrize("xp", [NumPy, Torch], ids=["numpy", "torch"])
def test_a_loop_a_grace_and_rotating_waits_on_the_kernel_as_in_the_rules(xp: Backend) -> None:
    """Each new rule at work on one batch (the property above draws them at random): the same state at every step."""
    base = Budget(END, frozenset(EOS), (13,), (END, 14), min_waits=2, more_waits=((15, 16),), boundaries=BOUNDARIES)
    guarded = replace(base, loop_guard=True, min_waits=50, wrapup=(17,))
    graced = replace(base, max_tokens=6, end_grace=4, wrapup=(17, 18))
    requests = [Request(0, guarded, True, 0.0), Request(1, base, True, 0.0), Request(2, graced, True, 0.7)]
    requests.append(Request(11, guarded, True, 0.0))  # redoes its pass (rid % 4 == 3): the same conclusion again
    table = SlotTable(4, "cpu")
    for slot, request in enumerate(requests):
        admit(table, slot, request)
    table.flush()
    for _ in range(60):
        one_step(table, list(enumerate(requests)), xp)
    assert requests[0].state is not None and requests[0].state.loops_broken & CYCLE  # a verbatim cycle: closed
    assert table.rows[0, LOOPS_BROKEN] == requests[0].state.loops_broken and 17 in requests[0].output
    assert requests[1].state is not None and requests[1].state.waits == 2 and 15 in requests[1].output  # in turn
    assert requests[2].state is not None and requests[2].state.forced_end
    assert 6 <= requests[2].state.thinking_tokens <= 6 + 4 + 2
    redo = requests[3].state
    assert redo is not None and redo.loops_broken == RELEASED and table.rows[3, LOOPS_BROKEN] == RELEASED
    # A pass, the wait, the pass again up to its attempt to end: 35 tokens, too few for a cycle of period 18 (54).
    thinking = len(REDO) - 1 + 1 + len(REDO) - 1
    assert requests[3].output[thinking] == END and 17 not in requests[3].output  # its own ending goes through
