"""vLLM's extensions where they meet the budget: the tokens a budget forces, and which masks would hide them."""

from __future__ import annotations

from typing import Any

import pytest
from transformers import AutoTokenizer

from server.ops.settings import SHIPPED_MODEL
from server.protocol.errors import APIError
from server.serving.extensions import (
    bad_word_ids,
    check_masks_spare_the_budget,
    check_priority,
    could_ban,
    extra_args,
    forced_sequences,
)
from server.thinking.budget import Budget
from server.thinking.spec import BudgetSpec, to_budget
from server.thinking.tokens import resolve_thinking_tokens

TOKENIZER = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
THINKING = resolve_thinking_tokens(TOKENIZER)


def enc(text: str) -> list[int]:
    return TOKENIZER.encode(text, add_special_tokens=False)


def budget(min_waits: int = 0, max_tokens: int | None = None) -> Budget:
    return to_budget(BudgetSpec(0, max_tokens, min_waits, "Wait", "Final Answer:"), THINKING, TOKENIZER)


def test_a_budget_forces_its_end_and_only_what_its_bounds_can_force() -> None:
    closing = (THINKING.end, *enc("\n\nFinal Answer:"))
    assert forced_sequences(budget(max_tokens=4)) == [(THINKING.end,), closing, closing]
    assert forced_sequences(budget(min_waits=1)) == [(THINKING.end,), tuple(enc("Wait"))]


def test_a_bad_word_bans_its_last_token_after_the_rest_of_it() -> None:
    forced = tuple(enc("ab Final"))
    assert could_ban(enc("F"), forced) and could_ban(enc(" F"), forced)  # after the forced space
    assert not could_ban(enc("xF"), forced)  # "x" never comes before that F
    assert could_ban(enc("zzab"), forced)  # "zz" is the model's text before the forced "ab": it may be
    assert not could_ban(enc("q"), forced)


def test_masks_are_checked_against_what_the_budget_forces() -> None:
    digits = enc("0123456789")
    with pytest.raises(APIError) as refused:
        check_masks_spare_the_budget(budget(max_tokens=4), digits, [], TOKENIZER)
    assert refused.value.param == "allowed_token_ids"
    check_masks_spare_the_budget(budget(max_tokens=4), None, [enc("7")], TOKENIZER)
    with pytest.raises(APIError) as refused:
        check_masks_spare_the_budget(budget(min_waits=1), None, bad_word_ids(["Wait"], TOKENIZER), TOKENIZER)
    assert refused.value.param == "bad_words"
    check_masks_spare_the_budget(budget(max_tokens=4), None, bad_word_ids(["Wait"], TOKENIZER), TOKENIZER)


def test_a_word_after_a_space_is_banned_too_when_it_is_another_token_of_the_same_length() -> None:
    class Words:  # a tokenizer with a token for " cat" (as BPE vocabularies have), and one for "cat"
        def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
            return [{"cat": 1, " cat": 2, "dog": 3, " dog": 4}.get(text, 9)] if text.strip() else []

    tokenizer: Any = Words()
    assert bad_word_ids(["cat", " dog", "cat"], tokenizer) == [[1], [2], [3], [4]]


def test_priority_and_extra_args() -> None:
    check_priority(0, "fcfs")
    check_priority(5, "priority")
    with pytest.raises(APIError):
        check_priority(5, "fcfs")
    assert extra_args(None, None) is None
    assert extra_args({"a": 1}, {"thinking_budget": {}}) == {"a": 1, "thinking_budget": {}}
