"""The loop guard's second rule, the same conclusion again, on the budget: the tiny model's collapse, and redoers."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import event, given, settings
from hypothesis import strategies as st

from server.thinking import budget as rules
from server.thinking.budget import Budget, Replacement
from tests.thinking.test_budget import ANSWER, END, EOS, make_budget
from tests.thinking.test_budget_beyond import decode, loops_broken_as_defined, no_wait_after_a_loop, redoers

CHARS = 16  # byte-level ids: a character's code plus this (clear of END, EOS and the other test ids)


def encode(text: str) -> tuple[int, ...]:
    return tuple(ord(char) + CHARS for char in text)


def decoded(tokens: list[int]) -> str:
    return "".join(chr(token - CHARS) if token >= CHARS else f"<{token}>" for token in tokens)


LEAD = "3+8+0=1, carry 1\n6+7+1=4, carry 1\n5+2+1=8, carry 0\nSo 841.\n"
# What the shipped tiny model writes (greedy) with min_thinking_waits 5: it redoes the sum after each wait, and the
# third pass already drifts (no verbatim cycle of 64 tokens or fewer), but the second ends as the first did.
COLLAPSE = (
    "Quick guess: 900.\n", ", let me add column by column.\n" + LEAD, ", let me check again.\n" + LEAD,
    ", let me check again.\n3+8+0=1, carry 1\n6+7+1=0, carry 1\n6+2+1=8, carry 0\nSo 801.\n",
    ", let me check again.\n1+2+1=1, carry 0\nSo 121.\n", ", so 121.\n", ", 121.\n",
)  # fmt: skip
DIFFERENT = (COLLAPSE[0], COLLAPSE[1], *(f", let me check again.\n{LEAD[:-5]}{n}.\n" for n in range(842, 847)))
WAIT = encode("Wait")


@dataclass(frozen=True)
class Passes:
    """A greedy model that writes pass k after k waits (the text after the last "Wait"), then tries to end."""

    passes: tuple[str, ...]

    def __call__(self, history: tuple[int, ...]) -> int:
        text = decoded(list(history))
        k, at = text.count("Wait"), len(text) - (text.rfind("Wait") + 4 if "Wait" in text else 0)
        script = encode(self.passes[min(k, len(self.passes) - 1)])
        return script[at] if at < len(script) else END


def guarded(min_waits: int = 5) -> Budget:
    return Budget(END, frozenset({EOS}), WAIT, (END, ANSWER), min_waits=min_waits, loop_guard=True)


def test_the_tiny_models_collapse_is_released_after_the_second_pass() -> None:
    out, state, _ = decode(Passes(COLLAPSE), guarded(), 400)
    thinking = "".join(COLLAPSE[:3]).replace("\n,", "\nWait,")
    assert out[len(encode(thinking))] == END  # right after the second "So 841.\n", its own ending goes through
    assert state.loops_broken == rules.RELEASED and state.waits == 2 and not state.forced_end
    assert decoded(out).startswith(thinking) and rules.summarize(guarded(), True, out) == state  # replay rebuilds it
    unguarded = decode(Passes(COLLAPSE), replace(guarded(), loop_guard=False), 400)[1]
    assert unguarded.waits == 5 and not unguarded.loops_broken  # off: every wait is forced, as at HEAD


def test_passes_that_end_differently_are_never_caught() -> None:
    out, state, trace = decode(Passes(DIFFERENT), guarded(), 600)
    assert state.loops_broken == 0 and state.waits == 5 and decoded(out).count("So 84") == 5
    assert all(step.loops_broken == 0 for step in trace)


@settings(max_examples=200, deadline=None)
@given(model=redoers, min_waits=st.integers(1, 6), more=st.booleans(), length=st.integers(20, 160))
def test_a_redoing_model_is_released_when_it_concludes_again(model, min_waits: int, more: bool, length: int) -> None:  # type: ignore[no-untyped-def]
    """Redoers under the guard (no maximum): the rules as defined, no wait after the loop, no closing forced after
    the same conclusion again, the state rebuilt."""
    budget = replace(make_budget(min_waits=min_waits), loop_guard=True, more_waits=((7,),) if more else ())
    out, state, trace = decode(model, budget, length)
    event(f"looped: {state.loops_broken}")
    loops_broken_as_defined(budget, state, out, trace)
    no_wait_after_a_loop(budget, state, trace)
    if state.loops_broken == rules.RELEASED:  # nothing forced after it: the model's own attempt to end goes through
        released = trace[next(i for i, step in enumerate(trace) if step.loops_broken) :]
        assert all(step.decision.replacement is not Replacement.CLOSING or step.decision.at > 0 for step in released)
    assert rules.summarize(budget, True, out) == state
