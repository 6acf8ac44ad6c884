"""The loop rules: their incremental form (the kernel's) against their definition, and the bounds on examples."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from server.thinking.loops import (
    CONCLUSION,
    LONG_PERIOD,
    MIN_LOOP_TOKENS,
    PERIODS,
    LoopWatch,
    concludes_again,
    is_looping,
    span,
)


def periodic(pattern: list[int], length: int) -> list[int]:
    return [pattern[i % len(pattern)] for i in range(length)]


@st.composite
def thinkings(draw: st.DrawFn) -> list[int]:
    """Free text with loops spliced in: a random span repeated, with a stray token now and then."""
    tokens: list[int] = draw(st.lists(st.integers(0, 5), max_size=40))
    for _ in range(draw(st.integers(0, 2))):
        pattern = draw(st.lists(st.integers(0, 5), min_size=1, max_size=40))
        tokens += periodic(pattern, draw(st.integers(0, 3 * len(pattern) + MIN_LOOP_TOKENS)))
        tokens += draw(st.lists(st.integers(0, 5), max_size=2))
    return tokens


@settings(max_examples=200, deadline=None)
@given(tokens=thinkings())
def test_the_incremental_watch_is_the_rule_at_every_token(tokens: list[int]) -> None:
    watch = LoopWatch()
    for i, token in enumerate(tokens):
        watch = watch.see(token)
        assert watch.looping == is_looping(tokens[: i + 1]), i


def test_the_bounds_on_examples() -> None:
    free = random.Random(0)
    text = [free.randrange(1000) for _ in range(500)]
    assert not any(is_looping(text[:n]) for n in range(len(text)))  # text that does not repeat never loops
    assert is_looping([7] * MIN_LOOP_TOKENS) and not is_looping([7] * (MIN_LOOP_TOKENS - 1))
    assert is_looping(periodic([1, 2], MIN_LOOP_TOKENS)) and not is_looping(periodic([1, 2], MIN_LOOP_TOKENS - 1))
    sentence = list(range(100, 120))  # 20 tokens: three copies are a loop, two are not
    assert is_looping(sentence * 3) and not is_looping(sentence * 2 + sentence[:-1])
    paragraph = list(range(100, 100 + LONG_PERIOD))  # from LONG_PERIOD on, two copies are a loop
    assert is_looping(paragraph * 2) and not is_looping(paragraph * 2 + [5])
    too_long = list(range(100, 100 + PERIODS + 1))
    assert not is_looping(too_long * 2)  # beyond the longest period watched
    assert span(1) == MIN_LOOP_TOKENS and span(LONG_PERIOD - 1) == 3 * (LONG_PERIOD - 1)


def test_the_watch_is_fixed_width() -> None:
    watch = LoopWatch()
    for token in range(1000):
        watch = watch.see(token % 3)
    assert len(watch.tail) == len(watch.runs) == PERIODS and watch.looping


@st.composite
def passes(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Passes, each ending on one of two conclusions (or none) and followed by a forced wait; where the waits began."""
    endings = [draw(st.lists(st.integers(0, 3), max_size=CONCLUSION + 4)) for _ in range(2)]
    tokens: list[int] = []
    waits: list[int] = []
    for _ in range(draw(st.integers(0, 4))):
        tokens += draw(st.lists(st.integers(0, 3), max_size=12)) + draw(st.sampled_from([*endings, []]))
        waits.append(len(tokens))
        tokens += draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))  # the wait string
    return tokens + draw(st.sampled_from([*endings, []])), waits


@settings(max_examples=300, deadline=None)
@given(thinking=passes())
def test_the_incremental_conclusion_is_the_rule_at_every_token(thinking: tuple[list[int], list[int]]) -> None:
    tokens, waits = thinking
    watch = LoopWatch()
    for i, token in enumerate(tokens):
        watch = watch.conclude() if i in waits else watch
        watch = watch.see(token)
        assert watch.concluded_again == concludes_again(tokens[: i + 1], [w for w in waits if w <= i]), i


def test_the_same_conclusion_again_on_examples() -> None:
    conclusion = list(range(100, 100 + CONCLUSION))
    first, second = [7, 8, 9, *conclusion], [5, *conclusion]
    assert concludes_again([*first, *second], [len(first)])  # a new pass, the same end
    assert not concludes_again([*first, 4, 3, *conclusion[1:]], [len(first)])  # a different end
    assert not concludes_again([*first, *second], [len(first), len(first) + 1])  # a newer wait's conclusion
    assert not concludes_again(conclusion[1:] + second, [CONCLUSION - 1])  # no whole conclusion at the wait
    same = [0] * CONCLUSION  # the tail must be all new: the wait's own tokens do not repeat it at the same place
    assert not concludes_again(same + [0] * (CONCLUSION - 1), [CONCLUSION])
    assert concludes_again(same + [0] * CONCLUSION, [CONCLUSION])
