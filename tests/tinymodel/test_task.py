"""The tiny model's synthetic task: guesses, careful passes, grading."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from tinymodel.task import (
    Problem,
    best_answer_so_far,
    column_lines,
    is_well_formed,
    parse_answer,
    quick_guess,
    sample_completion,
    thinking_text,
)

NUMBERS = st.integers(10, 999)


def test_quick_guess_rounds_the_sum_to_its_leading_digit() -> None:
    assert quick_guess(970, 463) == 1000
    assert quick_guess(482, 397) == 900
    assert quick_guess(12, 34) == 50
    assert quick_guess(95, 17) == 100


def test_column_lines_have_one_fixed_width_line_per_column() -> None:
    assert column_lines(95, 17) == "5+7+0=2, carry 1\n9+1+1=1, carry 1\n"
    assert column_lines(12, 345).splitlines() == ["2+5+0=7, carry 0", "1+4+0=5, carry 0", "0+3+0=3, carry 0"]


@given(a=NUMBERS, b=NUMBERS)
def test_the_careful_pass_is_always_right(a: int, b: int) -> None:
    lines = column_lines(a, b).splitlines()
    digits = "".join(line.split("=")[1][0] for line in reversed(lines))
    carry = lines[-1][-1]
    assert int(carry + digits) == a + b
    assert f"So {a + b}." in thinking_text(Problem(a, b), checks=1)


@given(a=NUMBERS, b=NUMBERS, seed=st.integers(0, 1000))
def test_training_completions_are_well_formed_and_answer_what_they_computed(a: int, b: int, seed: int) -> None:
    problem = Problem(a, b)
    completion = sample_completion(problem, random.Random(seed))
    assert is_well_formed(completion)
    thinking = completion.split("</think>")[0]
    assert parse_answer(completion) == best_answer_so_far(problem, thinking)


def test_grading() -> None:
    assert parse_answer("Quick guess: 5.\n</think>\n\nFinal Answer: 57") == 57
    assert parse_answer("no end of thinking 57") is None
    assert is_well_formed("x\n</think>\n\n12")
    assert not is_well_formed("x\n</think>\n\n12 and more")
    assert not is_well_formed("x</think>\n\n1</think>\n\n2")
