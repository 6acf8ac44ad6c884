"""Each chat template renders its family's format exactly: default, thinking switched off, multi-turn."""

from __future__ import annotations

from typing import Any

import pytest

from bench.families.catalog import FAMILIES, family
from bench.families.hf_tokenizer import build_tokenizer
from bench.families.templates import QWEN2_5_DEFAULT_SYSTEM
from bench.families.vocabularies import DEEPSEEK_ASSISTANT, DEEPSEEK_BOS, DEEPSEEK_EOS, DEEPSEEK_USER

ASK = [{"role": "user", "content": "What is 2+2?"}]
# A second turn after an answer that kept its thinking in ``content``: history drops the thinking.
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "<think>\nA greeting.\n</think>\n\nHello!"},
    {"role": "user", "content": "2+2?"},
]


def render(name: str, messages: list[dict[str, str]], prompt: bool = True, **switches: Any) -> str:
    """The chat rendered as text, with the generation prompt unless ``prompt`` is false."""
    text = build_tokenizer(name).apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt, **switches)
    assert isinstance(text, str)
    return text


def test_qwen3_leaves_the_thinking_to_the_model_and_closes_an_empty_one_when_off() -> None:
    assert render("qwen3", ASK) == "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    assert render("qwen3", ASK, enable_thinking=True) == render("qwen3", ASK)
    assert render("qwen3", ASK, enable_thinking=False) == (
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )


def test_qwen3_5_opens_the_thinking_in_the_prompt() -> None:
    assert render("qwen3.5", ASK) == "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n"
    assert render("qwen3.5", ASK, enable_thinking=False) == (
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )


@pytest.mark.parametrize("name", ["qwen3", "qwen3.5"])
def test_qwen_history_keeps_only_the_answer(name: str) -> None:
    opened = "<think>\n" if name == "qwen3.5" else ""
    assert render(name, CHAT) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
        f"<|im_start|>assistant\n{opened}"
    )


def test_deepseek_thinks_by_default_and_closes_with_thinking_false() -> None:
    bos, user, assistant, eos = DEEPSEEK_BOS, DEEPSEEK_USER, DEEPSEEK_ASSISTANT, DEEPSEEK_EOS
    assert render("deepseek-v4", ASK) == f"{bos}{user}What is 2+2?{assistant}<think>"
    assert render("deepseek-v4", ASK, thinking=True) == render("deepseek-v4", ASK)
    assert render("deepseek-v4", ASK, thinking=False) == f"{bos}{user}What is 2+2?{assistant}</think>"
    assert render("deepseek-v4", ASK, enable_thinking=False) == render("deepseek-v4", ASK, thinking=False)
    assert render("deepseek-v4", CHAT) == (
        f"{bos}Be brief.{user}Hi{assistant}</think>\n\nHello!{eos}{user}2+2?{assistant}<think>"
    )


@pytest.mark.parametrize("thinking", [True, False])
def test_deepseek_matches_vllms_own_deepseek_v4_encoder(thinking: bool) -> None:
    """vLLM ships DeepSeek V4's reference encoder; on system/user/assistant chats ours must agree.

    Its history assistant turns carry ``reasoning`` apart from ``content``; ours carry only answers there.
    """
    from vllm.tokenizers.deepseek_v4_encoding import encode_messages

    chats = [ASK, [*CHAT[:2], {"role": "assistant", "content": "Hello!"}, CHAT[3]], CHAT[1:2]]
    mode = "thinking" if thinking else "chat"
    for chat in chats:
        assert render("deepseek-v4", chat, thinking=thinking) == encode_messages(chat, thinking_mode=mode)


def test_s1_adds_qwen2_5s_default_system_prompt_and_opens_think() -> None:
    assert render("s1", ASK) == (
        f"<|im_start|>system\n{QWEN2_5_DEFAULT_SYSTEM}<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<|im_start|>think"
    )
    answered = [*ASK, {"role": "assistant", "content": "<|im_start|>think\nEasy.\n<|im_start|>answer\n4"}, *ASK]
    assert render("s1", [{"role": "system", "content": "S"}, *answered]) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
        "<|im_start|>assistant\n<|im_start|>think"
    )


@pytest.mark.parametrize("name", list(FAMILIES))
def test_each_template_ends_as_the_family_says(name: str) -> None:
    known = family(name)
    assert render(name, ASK).endswith(known.generation_prompt)
    if known.switch is not None and known.closed_prompt is not None:
        assert render(name, ASK, **{known.switch: False}).endswith(known.closed_prompt)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_without_a_generation_prompt_the_last_turn_is_closed(name: str) -> None:
    assert render(name, ASK, prompt=False).endswith(
        "What is 2+2?<|im_end|>\n" if name != "deepseek-v4" else f"{DEEPSEEK_USER}What is 2+2?"
    )
