"""The pure budget-forcing rules, against a simulated model and s1's multi-call reference."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from server.thinking.budget import (
    Budget,
    BudgetState,
    Decision,
    Kind,
    Replacement,
    decide,
    initial_state,
    observe,
    replay,
)

END, EOS, WAIT, COMMA, ANSWER = 1, 2, 3, 4, 5
VOCAB = (END, EOS, WAIT, COMMA, ANSWER, 6, 7, 8)
NEVER_WAITS = (END, EOS, COMMA, ANSWER, 6, 7, 8)  # a model that never writes the wait token itself


def make_budget(min_tokens: int = 0, max_tokens: int | None = None, min_waits: int = 0, wait=(WAIT,)) -> Budget:  # type: ignore[no-untyped-def]
    return Budget(
        end=END,
        eos=frozenset({EOS}),
        wait=wait,
        closing=(END, ANSWER),
        min_tokens=min_tokens,
        max_tokens=max_tokens,
        min_waits=min_waits,
    )


@dataclass
class Model:
    """A greedy 'model': the next token is a fixed function of the tokens so far."""

    table: dict[int, int]
    salt: int
    vocab: tuple[int, ...] = VOCAB

    def __call__(self, history: tuple[int, ...]) -> int:
        key = hash((self.salt, history[-3:], len(history) % 7)) % 1000
        return self.table.get(key % 11, self.vocab[key % len(self.vocab)])


def hook_decode(model: Model, budget: Budget, max_tokens: int) -> tuple[list[int], BudgetState, list[int]]:
    """Decode with the rules applied step by step, as the logits processor does."""
    state, out, wait_positions = initial_state(budget, prompt_opens_thinking=True), [], []
    while len(out) < max_tokens:
        decision = decide(budget, state)
        proposal = model(tuple(out))
        token = apply_decision(decision, proposal, budget)
        if decision.kind is Kind.GUARD and token == decision.token and decision.replacement is Replacement.WAIT:
            wait_positions.append(len(out))
        observe(budget, state, token, decision)
        out.append(token)
        if token in budget.eos and state.forcing is None:
            break
    return out, state, wait_positions


def apply_decision(decision: Decision, proposal: int, budget: Budget) -> int:
    """What the logits processor makes of the model's proposal (greedy)."""
    if decision.kind is Kind.FORCE:
        return decision.token
    if decision.kind is Kind.GUARD and proposal in {budget.end, budget.tool_open, *budget.eos}:
        return decision.token
    if decision.kind is Kind.REDIRECT and proposal in budget.eos:
        return decision.token
    return proposal


def reference_decode(model: Model, budget: Budget, max_tokens: int) -> list[int]:
    """s1's procedure: decode until an attempt to end, append Wait and re-decode, close, answer."""
    thinking: list[int] = []
    waits, closing = 0, None
    while closing is None:
        room = None if budget.max_tokens is None else budget.max_tokens - len(thinking)
        tried_to_end = False
        while (room is None or room > 0) and len(thinking) < max_tokens:
            token = model(tuple(thinking))
            if token in {budget.end, *budget.eos}:
                tried_to_end = True
                break
            thinking.append(token)
            room = None if room is None else room - 1
        if len(thinking) >= max_tokens:
            return thinking[:max_tokens]  # max_tokens ran out while thinking
        if not tried_to_end:
            closing = list(budget.closing)
        elif waits < budget.min_waits or len(thinking) < budget.min_tokens:
            if budget.max_tokens is not None and len(thinking) + len(budget.wait) > budget.max_tokens:
                closing = list(budget.closing)
            else:
                thinking += budget.wait
                waits += 1
        else:
            closing = [budget.end]
    out = thinking + closing
    while len(out) < max_tokens:
        token = model(tuple(out))
        out.append(token)
        if token in budget.eos:
            break
    return out[:max_tokens]


models = st.builds(
    Model, st.dictionaries(st.integers(0, 10), st.sampled_from(VOCAB), max_size=6), st.integers(0, 10**6)
)
plain_models = st.builds(
    Model,
    st.dictionaries(st.integers(0, 10), st.sampled_from(NEVER_WAITS), max_size=6),
    st.integers(0, 10**6),
    st.just(NEVER_WAITS),
)
budgets = st.builds(
    make_budget,
    min_tokens=st.integers(0, 30),
    max_tokens=st.one_of(st.none(), st.integers(0, 40)),
    min_waits=st.integers(0, 4),
    wait=st.sampled_from([(WAIT,), (WAIT, COMMA)]),
).filter(lambda b: b.max_tokens is None or b.min_tokens <= b.max_tokens)


@settings(max_examples=300)
@given(model=models, budget=budgets, max_tokens=st.integers(1, 120))
def test_thinking_stays_within_the_budget(model: Model, budget: Budget, max_tokens: int) -> None:
    out, state, _ = hook_decode(model, budget, max_tokens)
    if budget.max_tokens is not None:
        assert state.thinking_tokens <= budget.max_tokens
    finished_by_itself = len(out) < max_tokens
    if finished_by_itself and not state.forced_end:
        assert state.thinking_tokens >= budget.min_tokens
        assert state.waits >= budget.min_waits
    thinking = out[: out.index(END)] if END in out else out
    assert EOS not in thinking  # EOS inside a budgeted thinking never ends the request


@settings(max_examples=300)
@given(model=models, budget=budgets, max_tokens=st.integers(1, 120))
def test_waits_only_where_the_model_tried_to_end(model: Model, budget: Budget, max_tokens: int) -> None:
    out, state, positions = hook_decode(model, budget, max_tokens)
    assert len(positions) == state.waits
    for position in positions:  # the model tried to end, or wrote the wait token itself
        assert model(tuple(out[:position])) in (END, EOS, WAIT)
        assert tuple(out[position : position + len(budget.wait)]) == budget.wait[: max_tokens - position]


@settings(max_examples=500)
@given(model=plain_models, budget=budgets, max_tokens=st.integers(1, 120))
def test_same_tokens_as_the_s1_reference(model: Model, budget: Budget, max_tokens: int) -> None:
    out, _, _ = hook_decode(model, budget, max_tokens)
    assert out == reference_decode(model, budget, max_tokens)


def test_max_zero_answers_at_once_and_forced_end_is_reported() -> None:
    out, state, _ = hook_decode(Model({}, 1), make_budget(max_tokens=0), 10)
    assert out[:2] == [END, ANSWER] and state.forced_end and state.thinking_tokens == 0


def test_min_waits_replace_exactly_the_first_attempts_to_end() -> None:
    ends_at_once = Model({k: END for k in range(11)}, 0)
    out, state, _ = hook_decode(ends_at_once, make_budget(min_waits=2), 10)
    assert out[:3] == [WAIT, WAIT, END] and state.waits == 2 and not state.forced_end


def test_eos_inside_budgeted_thinking_becomes_the_end_of_thinking() -> None:
    says_eos = Model({k: EOS for k in range(11)}, 0)
    out, state, _ = hook_decode(says_eos, make_budget(max_tokens=50), 5)
    assert out[0] == END and state.thinking_tokens == 0


@given(model=models, budget=budgets, max_tokens=st.integers(1, 120))
def test_replaying_the_output_rebuilds_the_state(model: Model, budget: Budget, max_tokens: int) -> None:
    out, state, _ = hook_decode(model, budget, max_tokens)
    rebuilt = initial_state(budget, prompt_opens_thinking=True)
    replay(budget, rebuilt, out)
    assert rebuilt.as_dict() == state.as_dict() and rebuilt.phase is state.phase


def test_a_wait_the_model_writes_while_guarded_counts_as_a_wait() -> None:
    says_wait = Model({k: WAIT for k in range(11)}, 0)
    out, state, _ = hook_decode(says_wait, make_budget(min_waits=1, wait=(WAIT, COMMA)), 3)
    assert out == [WAIT, COMMA, WAIT] and state.waits == 1
