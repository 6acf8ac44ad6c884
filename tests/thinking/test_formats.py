"""Thinking formats: what a forced end writes, what a prompt did with the thinking, vLLM's parser names."""

from __future__ import annotations

import pytest

from server.thinking.formats import (
    FORMATS,
    REASONING_PARSERS,
    UNSUPPORTED_PARSERS,
    PromptThinking,
    prompt_thinking,
)
from server.thinking.reasoning import split_reasoning

THINK, END, NL, USER = 10, 11, 1, 2  # token ids: <think>, </think>, "\n\n", any other token
IM_START, WORD_THINK = 20, 21  # s1: <|im_start|> (also its end token), "think"


def test_s1_text_splits_at_the_answer_delimiter() -> None:
    text = "<|im_start|>think\n12+34: 46<|im_start|>answer\nFinal Answer: 46"
    assert split_reasoning(text, FORMATS["s1"].delimiters, thinking=False) == ("\n12+34: 46", "Final Answer: 46")


def test_the_closing_writes_the_rest_of_the_delimiter_then_the_answer_prefix() -> None:
    assert FORMATS["s1"].closing_text("Final Answer:") == "answer\nFinal Answer:"
    assert FORMATS["think"].closing_text("Final Answer:") == "\n\nFinal Answer:"
    assert FORMATS["mistral"].closing_text("") == ""


@pytest.mark.parametrize(
    ("prompt", "state"),
    [
        ([USER, USER, THINK, NL], PromptThinking.OPEN),  # Qwen3.5, DeepSeek-R1: "<think>\n"
        ([USER, USER, THINK], PromptThinking.OPEN),
        ([USER, THINK, NL, END, NL], PromptThinking.CLOSED),  # enable_thinking: false
        ([USER, USER, END], PromptThinking.CLOSED),  # DeepSeek V3.1 non-thinking: "<｜Assistant｜></think>"  # noqa: RUF003
        ([USER, USER, USER], PromptThinking.NONE),  # Qwen3 hybrid: the model writes <think>
        ([THINK, NL, END, NL] + [USER] * 6, PromptThinking.NONE),  # an earlier turn's thinking is history
        ([], PromptThinking.NONE),
    ],
)
def test_the_prompt_tail_tells_open_closed_or_neither(prompt: list[int], state: PromptThinking) -> None:
    assert prompt_thinking(prompt, (THINK,), END) is state


def test_s1_end_token_is_its_start_token_and_does_not_close_the_prompt() -> None:
    start = (IM_START, WORD_THINK)
    assert prompt_thinking([USER, IM_START, USER, NL, IM_START, WORD_THINK], start, IM_START) is PromptThinking.OPEN
    assert prompt_thinking([USER, NL, IM_START, USER, NL], start, IM_START) is PromptThinking.NONE


def test_every_parser_name_is_one_vllm_registers() -> None:
    """A parser renamed or removed in vLLM fails here, not on a user's command line."""
    from vllm.reasoning import ReasoningParserManager

    registered = set(ReasoningParserManager.list_registered())
    assert set(REASONING_PARSERS) | set(UNSUPPORTED_PARSERS) <= registered
    assert set(REASONING_PARSERS.values()) <= set(FORMATS)
