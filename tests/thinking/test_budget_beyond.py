"""Beyond s1: rotating waits, a graceful maximum with a wrap-up, and the loop guard; the bounds for any proposals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from server.thinking import budget as rules
from server.thinking.budget import CYCLE, RELEASED, Budget, BudgetState, Decision, Kind, Replacement
from server.thinking.loops import CONCLUSION, MIN_LOOP_TOKENS, LoopWatch, concludes_again
from tests.thinking.test_budget import ANSWER, COMMA, END, EOS, VOCAB, WAIT, apply_decision, make_budget, models

DOT, HMM, WRAP = 6, 7, 8  # DOT ends a sentence (the boundary set); HMM: a second wait string; WRAP: the wrap-up
BOUNDARIES = frozenset({DOT})


@st.composite
def beyond(draw: st.DrawFn) -> Budget:
    """Any budget with the new fields drawn (each on or off)."""
    base = make_budget(
        min_tokens=draw(st.integers(0, 20)), max_tokens=draw(st.one_of(st.none(), st.integers(0, 30))),
        min_waits=draw(st.integers(0, 6)), wait=draw(st.sampled_from([(WAIT,), (WAIT, COMMA)])),
    )  # fmt: skip
    more = draw(st.lists(st.sampled_from([(HMM,), (HMM, COMMA), (COMMA,)]), max_size=3))
    min_tokens = base.min_tokens if base.max_tokens is None else min(base.min_tokens, base.max_tokens)
    return replace(
        base, min_tokens=min_tokens, more_waits=tuple(more), end_grace=draw(st.integers(0, 12)),
        wrapup=tuple(draw(st.lists(st.sampled_from([WRAP, COMMA]), max_size=3))), loop_guard=draw(st.booleans()),
        boundaries=BOUNDARIES,
    )  # fmt: skip


Proposer = Callable[[tuple[int, ...]], int]  # a greedy 'model': the next token from the tokens so far


@dataclass(frozen=True)
class Cycle:
    """Writes ``lead`` for ``after`` tokens, then ``cycle`` over and over (a model that loops)."""

    cycle: tuple[int, ...]
    after: int = 0
    lead: tuple[int, ...] = (DOT, COMMA, HMM)

    def __call__(self, history: tuple[int, ...]) -> int:
        n = len(history)
        return self.cycle[n % len(self.cycle)] if n >= self.after else self.lead[n % len(self.lead)]


# A cycle with an end in it tries to end at every turn; one without runs on until the guard or the maximum.
loopers = st.builds(
    Cycle,
    st.lists(st.sampled_from(VOCAB), min_size=1, max_size=4).map(tuple)
    | st.lists(st.sampled_from((WAIT, COMMA, ANSWER, DOT, HMM, WRAP)), min_size=1, max_size=12).map(tuple),
    st.integers(0, 10),
)


@dataclass(frozen=True)
class Redo:
    """Redoes its reasoning after each wait: pass k is ``bodies[k]`` then ``endings[k]``, then it tries to end.

    A pass begins after the last wait token (``WAIT``, ``HMM`` or ``COMMA``); with one ending, every pass
    concludes the same way (the same conclusion again); with several, the passes may end differently."""

    bodies: tuple[tuple[int, ...], ...]
    endings: tuple[tuple[int, ...], ...]

    def __call__(self, history: tuple[int, ...]) -> int:
        marks = [i for i, token in enumerate(history) if token in (WAIT, HMM, COMMA)]
        k, at = len(marks), len(history) - (marks[-1] + 1 if marks else 0)
        script = self.bodies[k % len(self.bodies)] + self.endings[k % len(self.endings)]
        return script[at] if at < len(script) else END


TEXT = (ANSWER, DOT, WRAP)  # what a pass writes: no wait token, no end
redoers = st.builds(
    Redo,
    st.lists(st.lists(st.sampled_from(TEXT), max_size=6).map(tuple), min_size=1, max_size=3).map(tuple),
    st.lists(st.lists(st.sampled_from(TEXT), min_size=CONCLUSION - 2, max_size=CONCLUSION + 3).map(tuple),
             min_size=1, max_size=2).map(tuple),
)  # fmt: skip


@dataclass(frozen=True)
class Step:
    decision: Decision
    thinking_tokens: int
    waits: int
    loops_broken: int


def decode(model: Proposer, budget: Budget, length: int) -> tuple[list[int], BudgetState, list[Step]]:
    """The rules applied step by step (greedy), with each step's decision and the state it was made in."""
    state, out, trace = rules.initial_state(budget, True), [], []
    while len(out) < length:
        decision = rules.decide(budget, state)
        trace.append(Step(decision, state.thinking_tokens, state.waits, state.loops_broken))
        token = apply_decision(decision, model(tuple(out)), budget)
        rules.observe(budget, state, token, decision)
        out.append(token)
        if token in budget.eos and state.forcing is None:
            break
    return out, state, trace


def within_the_bound(budget: Budget, state: BudgetState) -> None:
    """The hard bound: max + grace + wrap-up."""
    if budget.max_tokens is not None:
        assert state.thinking_tokens <= budget.max_tokens + budget.end_grace + len(budget.wrapup)


def closed_at_a_boundary_or_the_grace_end(budget: Budget, out: list[int], trace: list[Step]) -> None:
    """Under a grace, a closing the maximum forces begins at a boundary, or when the grace is spent."""
    for position, step in enumerate(trace):
        d, count, limit = step.decision, step.thinking_tokens, budget.max_tokens
        begins = d.kind is Kind.FORCE and d.replacement is Replacement.CLOSING and d.at == 0
        if begins and limit is not None and not step.loops_broken and count > 0 and budget.end_grace:
            assert count >= limit  # never before the maximum
            assert count == limit + budget.end_grace or out[position - 1] in BOUNDARIES


def kth_wait_is_string_k_mod_n(budget: Budget, state: BudgetState, out: list[int], trace: list[Step]) -> None:
    begun = [i for i, (step, after) in enumerate(zip(trace, [*trace[1:], None], strict=True))
             if (after.waits if after else state.waits) > step.waits]  # fmt: skip
    for k, position in enumerate(begun):
        expected = budget.wait_for(k)
        assert trace[position].decision.token == expected[0]
        assert tuple(out[position : position + len(expected)]) == expected[: len(out) - position]


def no_wait_after_a_loop(budget: Budget, state: BudgetState, trace: list[Step]) -> None:
    """Once the thinking looped, no wait begins; after a verbatim cycle the next decision forces (the closing, or
    what is under way), after the same conclusion again an attempt to end goes through."""
    assert state.loops_broken in (0, RELEASED, CYCLE, RELEASED | CYCLE)
    assert budget.loop_guard or not state.loops_broken
    broken = [step.decision for step in trace if step.loops_broken]
    assert all(d.replacement is not Replacement.WAIT or d.at > 0 for d in broken)
    cycled = [step.decision for step in trace if step.loops_broken & CYCLE]
    if cycled:
        assert cycled[0].kind is Kind.FORCE and (cycled[0].replacement is Replacement.CLOSING or cycled[0].at > 0)
    below_the_maximum = [s for s in trace if budget.max_tokens is None or s.thinking_tokens < budget.max_tokens]
    released = [step.decision for step in below_the_maximum if step.loops_broken == RELEASED]
    assert all(d.kind is not Kind.GUARD for d in released)  # nothing stands in for an attempt to end


def loops_broken_as_defined(budget: Budget, state: BudgetState, out: list[int], trace: list[Step]) -> None:
    """Under the guard, the thinking looped exactly when, at some thinking token, one of the two rules held."""
    thinking: list[int] = []
    waits: list[int] = []  # where in the thinking each wait began
    watch, cycle, again = LoopWatch(), False, False
    for token, step, after in zip(out, trace, [*trace[1:], None], strict=False):
        if (after.waits if after else state.waits) > step.waits:
            waits.append(len(thinking))
        if (after.thinking_tokens if after else state.thinking_tokens) > step.thinking_tokens:
            thinking.append(token)
            watch = watch.see(token)  # the first rule (against its definition in test_loops)
            again |= concludes_again(thinking, waits)
            cycle |= watch.looping
    event(f"the same conclusion again: {again}")
    assert state.loops_broken == (CYCLE * cycle | RELEASED * again if budget.loop_guard else 0)


@settings(max_examples=300, deadline=None)
@given(model=st.one_of(models, loopers, redoers, redoers), budget=beyond(), length=st.integers(1, 120))
def test_the_rules_beyond_s1_hold_for_any_proposals(model: Proposer, budget: Budget, length: int) -> None:
    out, state, trace = decode(model, budget, length)
    event(f"looped: {state.loops_broken}; waits in turn: {min(state.waits, len(budget.wait_strings))}")
    event(f"past the maximum: {budget.max_tokens is not None and state.thinking_tokens > budget.max_tokens}")
    within_the_bound(budget, state)
    closed_at_a_boundary_or_the_grace_end(budget, out, trace)
    kth_wait_is_string_k_mod_n(budget, state, out, trace)
    no_wait_after_a_loop(budget, state, trace)
    loops_broken_as_defined(budget, state, out, trace)
    assert rules.summarize(budget, True, out) == state  # the front end and a resumed request rebuild every field


def test_a_repeated_line_is_broken_and_closed() -> None:
    budget = replace(make_budget(min_waits=3), loop_guard=True)
    out, state, _ = decode(Cycle((COMMA, HMM, DOT)), budget, 80)
    assert state.loops_broken == CYCLE and state.waits == 0 and END in out
    assert out[MIN_LOOP_TOKENS : MIN_LOOP_TOKENS + 2] == [END, ANSWER]  # a loop of 32 tokens, closed at once


def test_rotating_waits_are_used_in_turn() -> None:
    ends = Cycle((END,))
    budget = replace(make_budget(min_waits=4), more_waits=((HMM,), (COMMA, HMM)))
    out, state, _ = decode(ends, budget, 8)
    assert out[:6] == [WAIT, HMM, COMMA, HMM, WAIT, END] and state.waits == 4


def test_a_grace_finishes_the_sentence_and_a_wrapup_precedes_the_closing() -> None:
    writes = Cycle((COMMA, COMMA, COMMA, DOT))
    budget = replace(make_budget(max_tokens=2), end_grace=5, wrapup=(WRAP,), boundaries=BOUNDARIES)
    out, state, _ = decode(writes, budget, 10)
    assert out[:7] == [COMMA, COMMA, COMMA, DOT, WRAP, END, 5] and state.forced_end and state.thinking_tokens == 5
    no_room = replace(budget, end_grace=1)
    assert decode(writes, no_room, 10)[0][:5] == [COMMA, COMMA, COMMA, WRAP, END]  # max + grace: cut
    at_a_boundary = replace(budget, max_tokens=4)
    assert decode(writes, at_a_boundary, 10)[0][:6] == [COMMA, COMMA, COMMA, DOT, WRAP, END]


def test_the_bounds_are_checked() -> None:
    base = make_budget()
    for bad in ({"more_waits": ((),)}, {"more_waits": ((HMM,),) * 8}, {"end_grace": rules.MAX_END_GRACE + 1},
                {"end_grace": -1}, {"wrapup": (WRAP,) * (rules.MAX_FORCED_TOKENS - 1)}):  # fmt: skip
        with pytest.raises(ValueError):
            replace(base, **bad)  # type: ignore[arg-type]
    assert EOS in base.eos


def test_an_attempt_to_end_gets_the_closing_without_the_wrapup() -> None:
    """The wrap-up is for where the budget cuts; the model's own token that happens to open it cuts nothing."""
    budget = replace(make_budget(max_tokens=2), end_grace=5, wrapup=(WRAP,), boundaries=BOUNDARIES)
    writes_the_wrapups_token = Cycle((COMMA, COMMA, WRAP, COMMA, DOT))
    out, state, _ = decode(writes_the_wrapups_token, budget, 10)
    assert out[:8] == [COMMA, COMMA, WRAP, COMMA, DOT, WRAP, END, ANSWER] and state.thinking_tokens == 6
    ends = Cycle((COMMA, COMMA, COMMA, END))
    out, state, _ = decode(ends, budget, 10)
    assert out[:5] == [COMMA, COMMA, COMMA, END, ANSWER] and state.forced_end and state.thinking_tokens == 3
    no_room_for_a_wait = replace(make_budget(max_tokens=2, min_waits=1, wait=(WAIT, WAIT)), wrapup=(WRAP,))
    out, state, _ = decode(Cycle((COMMA, END)), no_room_for_a_wait, 10)
    assert out[:3] == [COMMA, END, ANSWER] and state.waits == 0 and state.forced_end
