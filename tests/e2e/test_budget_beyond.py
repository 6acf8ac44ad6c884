"""Beyond s1 on the real engine and the shipped model: the loop guard, the graceful maximum and its
wrap-up, rotating wait strings (greedy; the texts are the model's own)."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from server.thinking.boundaries import ends_a_line_or_sentence

pytestmark = pytest.mark.engine
QUESTION = [{"role": "user", "content": "What is 563 + 278?"}]


def think(sdk: openai.OpenAI, **budget: Any) -> tuple[str, str, dict[str, Any]]:
    """(thinking, answer, the budget's report) of one greedy chat completion."""
    reply = sdk.chat.completions.create(
        model="tiny-reasoner", messages=QUESTION, temperature=0, max_tokens=400, extra_body=budget
    )
    message, report = reply.choices[0].message, reply.choices[0].thinking_budget  # type: ignore[attr-defined]
    return message.reasoning_content, message.content or "", report  # type: ignore[attr-defined]


def test_a_grace_ends_the_thinking_on_a_boundary_within_max_plus_grace(sdk: openai.OpenAI) -> None:
    cut, _, plain = think(sdk, min_thinking_waits=1, max_thinking_tokens=40)
    graced, _, report = think(sdk, min_thinking_waits=1, max_thinking_tokens=40, thinking_end_grace=16)
    assert plain["thinking_tokens"] == 40 and not ends_a_line_or_sentence(cut)  # the maximum cuts mid-line
    assert graced.startswith(cut) and ends_a_line_or_sentence(graced)
    assert 40 < report["thinking_tokens"] <= 40 + 16 and report["forced_end"]


def test_the_wrapup_is_forced_before_the_end(sdk: openai.OpenAI) -> None:
    budget = {"min_thinking_waits": 1, "max_thinking_tokens": 40, "thinking_end_grace": 16}
    graced, _, _ = think(sdk, **budget)
    wrapped, _, report = think(sdk, **budget, thinking_wrapup_string=" Time is up.")
    assert wrapped == graced + " Time is up." and report["forced_end"]
    assert report["thinking_tokens"] <= 40 + 16 + len(" Time is up.")  # one token a byte


def test_rotating_wait_strings_come_in_turn(sdk: openai.OpenAI) -> None:
    thinking, _, report = think(sdk, min_thinking_waits=3, thinking_wait_string=["Wait", "Hmm", "Alternatively"])
    assert report["waits"] == 3
    assert thinking.index("Wait") < thinking.index("Hmm") < thinking.index("Alternatively")


def test_the_loop_guard_breaks_a_repeated_conclusion_and_reports_it(sdk: openai.OpenAI, base_url: str) -> None:
    """Past its second check the model degrades (its training never forced more): with the guard, forcing
    stops once it comes back to the conclusion it had already written, and its own ending answers from it."""
    metric = "thinkserve_budget_loops_broken_total"
    before = _counter(base_url, metric)
    thinking, answer, report = think(sdk, min_thinking_waits=5, thinking_loop_guard=True)
    unguarded, _, plain = think(sdk, min_thinking_waits=5)
    assert plain["waits"] == 5 and "loops_broken" not in plain
    assert report["loops_broken"] == 1 and report["waits"] < 5 and not report["forced_end"]  # its own ending
    conclusion = thinking.rstrip().rsplit("\n", 1)[-1]  # "So N."
    assert thinking.count(conclusion) >= 2 and answer.strip() == conclusion.removeprefix("So ").rstrip(".")
    assert unguarded.startswith(thinking.rstrip())  # the same text up to where the guard closed it
    assert _counter(base_url, metric) == before + 1


def _counter(base_url: str, name: str) -> float:
    lines = httpx.get(f"{base_url}/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name + "{"))
