"""Thinking formats: which token ends the thinking, and what a forced end writes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from transformers import AutoTokenizer

from bench.server_process import running_server
from server.ops.settings import SHIPPED_MODEL
from server.thinking.formats import FORMATS, ThinkingFormatError, resolve_thinking_tokens
from server.thinking.reasoning import split_reasoning
from server.thinking.spec import BudgetSpec, to_budget

TOKENIZER = AutoTokenizer.from_pretrained(SHIPPED_MODEL)


def test_auto_picks_think_when_the_tokenizer_has_it() -> None:
    tokens = resolve_thinking_tokens(TOKENIZER)
    assert tokens.format.name == "think" and TOKENIZER.decode([tokens.end]) == "</think>"
    assert tokens.skip_special_tokens  # </think> shows in the text


def test_s1_ends_the_thinking_at_im_start_and_keeps_special_tokens_visible() -> None:
    tokens = resolve_thinking_tokens(TOKENIZER, "s1")
    assert TOKENIZER.decode([tokens.end]) == "<|im_start|>" and not tokens.skip_special_tokens
    budget = to_budget(BudgetSpec(0, 4, 0, "Wait", "Final Answer:"), tokens, TOKENIZER)
    assert TOKENIZER.decode(list(budget.closing)) == "<|im_start|>answer\nFinal Answer:"
    assert budget.start == tuple(TOKENIZER.encode("<|im_start|>think", add_special_tokens=False))


def test_s1_text_splits_at_the_answer_delimiter() -> None:
    text = "<|im_start|>think\n12+34: 46<|im_start|>answer\nFinal Answer: 46"
    assert split_reasoning(text, FORMATS["s1"].delimiters, thinking=False) == ("\n12+34: 46", "Final Answer: 46")


def test_a_tokenizer_without_the_end_token_fails_at_startup() -> None:
    class Plain:
        eos_token_id = 0

        def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
            return list(text.encode())

        def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
            return bytes(ids).decode()

    with pytest.raises(ThinkingFormatError, match="--thinking-format"):
        resolve_thinking_tokens(Plain())


@pytest.fixture(scope="module")
def s1_server() -> Iterator[str]:
    with running_server("--thinking-format", "s1") as url:
        yield url


@pytest.mark.engine
def test_s1_format_forces_its_own_closing_on_the_real_engine(s1_server: str) -> None:
    prompt = "<|im_start|>user\n12+34<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\n"
    body = {"prompt": prompt, "max_tokens": 40, "temperature": 0, "max_thinking_tokens": 4}
    choice = httpx.post(f"{s1_server}/v1/completions", json=body, timeout=120).json()["choices"][0]
    assert choice["thinking_budget"] == {"thinking_tokens": 4, "waits": 0, "forced_end": True}
    thinking, _, answer = choice["text"].partition("<|im_start|>answer\nFinal Answer:")
    assert len(TOKENIZER.encode(thinking, add_special_tokens=False)) == 4 and answer
