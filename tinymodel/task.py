"""The synthetic task the tiny model is trained on: addition of 2-3 digit numbers.

Every completion has the shape ``<thinking>\n</think>\n\n<answer>`` (the ``<think>\n``
opener is in the prompt, as in DeepSeek-R1-style chat templates). The thinking
opens with a *quick guess*, the sum rounded to its leading digit (a fast,
usually wrong "system 1" answer). The model may end its thinking right there, and
then answers with the guess. Or it says ``Wait`` and adds column by column with
carries, which is always right, and answers with that. Forcing ``Wait`` where the
model would have ended (s1's budget forcing) therefore buys accuracy.

A thinking cut short by a forced end (``</think>`` + ``\n\nFinal Answer:``) is
answered with the best result written so far: the careful sum if one pass
finished, else the quick guess.

Pure Python, no torch: shared by the trainer, the evaluator and the benchmarks.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

THINK_END = "</think>"
WAIT = "Wait"
ANSWER_PREFIX = "Final Answer:"

PROMPT_TEMPLATES = (
    "{a}+{b}",
    "{a} + {b}",
    "What is {a} + {b}?",
    "What is {a}+{b}?",
    "Add {a} and {b}.",
    "Compute {a} + {b}.",
)

P_WAIT_AFTER_GUESS = 0.4  # < 0.5: left alone, greedy decoding ends after the guess
P_WAIT_AFTER_CHECK = 0.25
MAX_CHECKS = 2
P_TRUNCATED = 0.1  # share of examples whose thinking is cut by a forced end
# Share of examples that continue after a *forced* Wait: the guess and the Wait are
# context, not targets, so they teach the careful pass without teaching the model
# to say Wait more often on its own.
P_FORCED_WAIT = 0.5


@dataclass(frozen=True)
class Problem:
    a: int
    b: int
    template: int = 0

    @property
    def question(self) -> str:
        return PROMPT_TEMPLATES[self.template].format(a=self.a, b=self.b)

    @property
    def answer(self) -> int:
        return self.a + self.b


def random_problem(rng: random.Random) -> Problem:
    a, b = (rng.randint(10 ** (d - 1), 10**d - 1) for d in (rng.randint(2, 3), rng.randint(2, 3)))
    return Problem(a, b, rng.randrange(len(PROMPT_TEMPLATES)))


def held_out_problems(n: int, seed: int = 1234) -> list[Problem]:
    """The evaluation set; training never sees these (a, b) pairs."""
    rng = random.Random(seed)
    return [random_problem(rng) for _ in range(n)]


def quick_guess(a: int, b: int) -> int:
    """A rough estimate: the sum rounded to its leading digit (1433 -> 1000, 879 -> 900).

    It carries no column sums, so the careful pass cannot copy digits from it, and
    answering with it is right only for sums like 900.
    """
    total = a + b
    scale = 10 ** (len(str(total)) - 1)
    return (total + scale // 2) // scale * scale


def column_lines(a: int, b: int) -> str:
    """One line per column, units first: ``x+y+carry=digit, carry c``.

    Every line has the same length, so each step sits at a fixed distance from
    the previous one: easy to attend to for a tiny model.
    """
    lines, carry = [], 0
    while a or b:
        x, y = a % 10, b % 10
        total = x + y + carry
        lines.append(f"{x}+{y}+{carry}={total % 10}, carry {total // 10}\n")
        a, b, carry = a // 10, b // 10, total // 10
    return "".join(lines)


def careful_pass(problem: Problem, first: bool) -> str:
    opener = ", let me add column by column.\n" if first else ", let me check again.\n"
    return WAIT + opener + column_lines(problem.a, problem.b) + f"So {problem.answer}.\n"


def thinking_text(problem: Problem, checks: int) -> str:
    """The thinking (no ``<think>``/``</think>``): a guess, then ``checks`` careful passes."""
    text = f"Quick guess: {quick_guess(problem.a, problem.b)}.\n"
    return text + "".join(careful_pass(problem, first=i == 0) for i in range(checks))


def best_answer_so_far(problem: Problem, thinking: str) -> int:
    """What a forced end answers with: the careful sum once a pass finished, else the guess."""
    return problem.answer if re.search(r"So \d+\.", thinking) else quick_guess(problem.a, problem.b)


def sample_completion(problem: Problem, rng: random.Random) -> str:
    """A training completion: everything after the prompt's ``<think>\\n``."""
    checks = 0
    p_wait = P_WAIT_AFTER_GUESS
    while checks < MAX_CHECKS and rng.random() < p_wait:
        checks, p_wait = checks + 1, P_WAIT_AFTER_CHECK
    thinking = thinking_text(problem, checks)
    if rng.random() < P_TRUNCATED:
        thinking = thinking[: rng.randrange(len(thinking))]
        return f"{thinking}{THINK_END}\n\n{ANSWER_PREFIX} {best_answer_so_far(problem, thinking)}"
    answer = problem.answer if checks else quick_guess(problem.a, problem.b)
    return f"{thinking}{THINK_END}\n\n{answer}"


def sample_example(problem: Problem, rng: random.Random) -> tuple[str, str]:
    """A training example after the prompt: (context given to the model, target it learns).

    In half the forced-Wait examples the guess is some other number: the careful
    pass must not lean on it, since the model's own guesses are often wrong.
    """
    if rng.random() >= P_FORCED_WAIT:
        return "", sample_completion(problem, rng)
    checks = 1 + (rng.random() < P_WAIT_AFTER_CHECK)
    thinking = thinking_text(problem, checks)
    split = thinking.index(WAIT) + len(WAIT)
    guess = quick_guess(problem.a, problem.b) if rng.random() < 0.5 else random_problem(rng).a * 10
    context = f"Quick guess: {guess}.\n{WAIT}"
    return context, f"{thinking[split:]}{THINK_END}\n\n{problem.answer}"


_NUMBER = re.compile(r"-?\d+")
_FORMAT = re.compile(rf"^(?:(?!{THINK_END}).)*{THINK_END}\n\n(?:{ANSWER_PREFIX} )?(\d+)$", re.S)


def parse_answer(completion: str) -> int | None:
    """The last integer after ``</think>``, or None when there is no end of thinking."""
    _, sep, answer = completion.rpartition(THINK_END)
    numbers = _NUMBER.findall(answer) if sep else []
    return int(numbers[-1]) if numbers else None


def is_well_formed(completion: str) -> bool:
    """``thinking\\n</think>\\n\\n<number>`` (optionally after the forced answer prefix)."""
    return _FORMAT.match(completion) is not None
