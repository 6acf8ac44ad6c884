"""Each output token's role, by replaying the budget's rules (pure; hypothesis against a simulated processor)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from server.thinking.budget import Budget, Phase, decide
from server.thinking.plan import GenerationPlan
from server.thinking.tracker import Role, TokenTracker
from tests.thinking.test_budget import apply_decision

START, END, EOS, WAIT, SEP, PREFIX, OTHER_SPECIAL, TOOL = 9, 1, 2, 3, 4, 5, 7, 8
SPECIAL = frozenset({EOS, OTHER_SPECIAL})
T, E, S, A, X = Role.THINKING, Role.END, Role.SCAFFOLD, Role.ANSWER, Role.SPECIAL


def make_budget(
    min_tokens: int = 0, max_tokens: int | None = None, min_waits: int = 0, wait=(WAIT,), tool_open=None
) -> Budget:  # type: ignore[no-untyped-def]
    return Budget(
        end=END, eos=frozenset({EOS}), wait=wait, closing=(END, SEP, PREFIX), start=(START,),
        min_tokens=min_tokens, max_tokens=max_tokens, min_waits=min_waits, tool_open=tool_open,
    )  # fmt: skip


def tracker(budget: Budget | None, opens: bool = True) -> TokenTracker:
    return TokenTracker.of(GenerationPlan(budget, opens_thinking=opens), END, (START,), SPECIAL)


def roles(budget: Budget | None, tokens: list[int], opens: bool = True) -> list[Role]:
    return [r.role for r in tracker(budget, opens).feed(tokens)]


def test_a_prompt_that_opened_the_thinking() -> None:
    assert roles(make_budget(max_tokens=50), [10, 11, END, 12, EOS]) == [T, T, E, A, X]


def test_a_start_the_model_writes_itself_is_thinking_and_what_precedes_it_is_not() -> None:
    # Text before the start delimiter is outside the thinking (the splitter shows it as the answer).
    assert roles(make_budget(max_tokens=50), [12, START, 10, END, 11], opens=False) == [A, T, T, E, A]


def test_a_forced_wait_is_thinking_and_inserted() -> None:
    # Under a minimum, the token after 10 can only be the wait: the guard replaced an attempt to end.
    fed = tracker(make_budget(min_waits=1)).feed([10, WAIT, 11, END, 12])
    assert [r.role for r in fed] == [T, T, T, E, A]
    assert [r.inserted for r in fed] == [False, True, False, False, False]


def test_a_forced_closing_is_the_end_then_scaffolding() -> None:
    track = tracker(make_budget(max_tokens=2))
    fed = track.feed([10, 11, END, SEP, PREFIX, 12, EOS])
    assert [r.role for r in fed] == [T, T, E, S, S, A, X]
    assert [r.inserted for r in fed] == [False, False, True, True, True, False, False]
    assert track.forced_end


def test_the_model_s_own_end_is_not_scaffolding() -> None:
    # Below the maximum the closing is the model's: its separator and prefix are answer tokens.
    track = tracker(make_budget(max_tokens=50))
    assert [r.role for r in track.feed([10, END, SEP, PREFIX])] == [T, E, A, A] and not track.forced_end


def test_eos_and_other_special_tokens_in_the_answer_are_special() -> None:
    assert roles(make_budget(max_tokens=50), [END, OTHER_SPECIAL, 12, EOS]) == [E, X, A, X]


def test_feeding_in_pieces_gives_the_same_roles() -> None:
    tokens = [10, 11, END, SEP, PREFIX, 12, EOS]
    track = tracker(make_budget(max_tokens=2))
    assert [r for piece in ([10], [11, END], [], [SEP, PREFIX, 12, EOS]) for r in track.feed(piece)] == tracker(
        make_budget(max_tokens=2)
    ).feed(tokens)


def test_without_a_budget_the_phases_are_followed_and_nothing_is_inserted() -> None:
    # The stand-in budget never acts: WAIT, SEP and PREFIX are the model's own, EOS in the thinking is thinking.
    fed = tracker(None).feed([10, WAIT, EOS, END, SEP, PREFIX, EOS])
    assert [r.role for r in fed] == [T, T, T, E, A, A, X]
    assert not any(r.inserted for r in fed)
    assert [r.role for r in tracker(None, opens=False).feed([12, START, WAIT, END, 11])] == [A, T, T, E, A]


def test_a_tool_call_in_the_thinking_ends_it_and_belongs_to_the_answer() -> None:
    track = tracker(make_budget(max_tokens=2, tool_open=TOOL))
    fed = track.feed([10, TOOL, 11, 12, 13, END, EOS])  # past the maximum: nothing forced, the call is the answer's
    assert [r.role for r in fed] == [T, A, A, A, A, A, X] and not any(r.inserted for r in fed)
    assert track.state.thinking_tokens == 1 and not track.forced_end


def test_below_the_minimum_a_tool_call_attempt_became_a_wait() -> None:
    fed = tracker(make_budget(min_waits=1, tool_open=TOOL)).feed([10, WAIT, 11, TOOL, 12])
    assert [r.role for r in fed] == [T, T, T, A, A]
    assert [r.inserted for r in fed] == [False, True, False, False, False]


def test_without_tool_open_the_tool_call_token_is_thinking() -> None:
    assert roles(make_budget(max_tokens=50), [10, TOOL, END, 11]) == [T, T, E, A]
    assert roles(None, [10, TOOL, END, 11]) == [T, T, E, A]


def test_without_a_budget_a_request_offering_tools_follows_the_tool_call_too() -> None:
    track = TokenTracker.of(GenerationPlan(None, opens_thinking=True), END, (START,), SPECIAL, tool_open=TOOL)
    assert [r.role for r in track.feed([10, TOOL, 11, END])] == [T, A, A, A]


budgets = st.builds(
    make_budget,
    min_tokens=st.integers(0, 12),
    max_tokens=st.one_of(st.none(), st.integers(0, 15)),
    min_waits=st.integers(0, 3),
    wait=st.sampled_from([(WAIT,), (WAIT, 10)]),
    tool_open=st.sampled_from([None, TOOL]),
).filter(lambda b: b.max_tokens is None or b.min_tokens <= b.max_tokens)
proposals = st.lists(
    st.sampled_from([START, END, EOS, WAIT, SEP, PREFIX, OTHER_SPECIAL, TOOL, 10, 11, 12]), max_size=60
)


@settings(max_examples=200)
@given(budget=st.one_of(st.none(), budgets), opens=st.booleans(), proposed=proposals)
def test_thinking_roles_are_the_budget_s_thinking_tokens_plus_a_generated_start(
    budget: Budget | None, opens: bool, proposed: list[int]
) -> None:
    """Thinking roles = ``state.thinking_tokens`` (every thinking-phase token but the end, waits included)
    + 1 for the token that completed a start the model wrote; never more than the maximum + that start."""
    track = tracker(budget, opens)
    tokens = []
    for proposal in proposed:  # the tokens a processor applying the same rules lets through
        token = apply_decision(decide(track.budget, track.state), proposal, track.budget)
        tokens.append(token)
        track.feed([token])
    thinking = sum(r.role is Role.THINKING for r in tracker(budget, opens).feed(tokens))
    started = not opens and track.state.phase is not Phase.BEFORE
    assert thinking == track.state.thinking_tokens + started
    if budget is not None and budget.max_tokens is not None:
        assert thinking <= budget.max_tokens + started
