"""The four real model families, as facts a test can check a server against.

A family is what a server has to know to budget a model's thinking: the delimiters, the one token
whose emission ends the thinking (the budget's guard watches it), the EOS, the chat template's
switch, and whether the generation prompt already opened the thinking. Everything here is taken
from the real models' ``tokenizer_config.json``/``generation_config.json`` and chat templates, so a
test that passes on a family passes on the format the real model serves, not on a convenient one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from bench.families.vocabularies import (
    DEEPSEEK_ASSISTANT,
    DEEPSEEK_BOS,
    DEEPSEEK_EOS,
    QWEN2_5,
    QWEN3,
    QWEN3_5,
    AddedVocabulary,
)

MAX_POSITIONS = 2048  # the built models' context: room for a long prompt, thinking and answer in tests
PromptThinking = Literal["none", "open"]  # the values of server.thinking.formats.PromptThinking


@dataclass(frozen=True)
class Family:
    """One family's vocabulary, delimiters and chat-template behaviour."""

    name: str
    vocab_size: int  # embedding rows: the real config's ``vocab_size`` (padded past the tokenizer)
    tokenizer_size: int  # ``len(tokenizer)``: BPE ranks plus added tokens
    think_start: str
    think_end: str
    end_token: str  # the single token that ends the thinking: the first token of ``think_end``
    eos_token: str  # ``config.json``'s EOS
    extra_eos: tuple[str, ...]  # ``generation_config.json`` stops on these as well (Qwen: ``<|endoftext|>``)
    pad_token: str
    bos_token: str | None
    switch: str | None  # the chat-template kwarg that turns thinking off (``False``), None when there is none
    prompt_thinking: PromptThinking  # what the default generation prompt does with the thinking
    generation_prompt: str  # how the default generation prompt ends
    closed_prompt: str | None  # how it ends with ``switch`` false: thinking opened and closed in the prompt
    reasoning_parser: str | None  # vLLM's ``--reasoning-parser`` for the family
    added: AddedVocabulary | None  # Qwen vocabularies are built from ranks; DeepSeek ships its own

    @property
    def eos_tokens(self) -> tuple[str, ...]:
        """Every token that ends generation, the config's EOS first."""
        return (self.eos_token, *self.extra_eos)


# Qwen3 2504 hybrid: the model writes ``<think>`` itself; enable_thinking=False closes an empty one.
QWEN3_FAMILY = Family(
    name="qwen3",
    vocab_size=151_936,
    tokenizer_size=QWEN3.size,
    think_start="<think>",
    think_end="</think>",
    end_token="</think>",
    eos_token="<|im_end|>",
    extra_eos=("<|endoftext|>",),
    pad_token="<|endoftext|>",
    bos_token=None,
    switch="enable_thinking",
    prompt_thinking="none",
    generation_prompt="<|im_start|>assistant\n",
    closed_prompt="<|im_start|>assistant\n<think>\n\n</think>\n\n",
    reasoning_parser="qwen3",
    added=QWEN3,
)

# Qwen3.5/3.6: the prompt opens the thinking. 248,320 embedding rows, as the real configs (a multiple of 64).
QWEN3_5_FAMILY = replace(
    QWEN3_FAMILY,
    name="qwen3.5",
    vocab_size=248_320,
    tokenizer_size=QWEN3_5.size,
    prompt_thinking="open",
    generation_prompt="<|im_start|>assistant\n<think>\n",
    added=QWEN3_5,
)

# DeepSeek V3.1/V3.2/V4: ``<think>`` with no newline after it (vLLM's own V4 encoder agrees), and thinking
# on unless ``thinking`` is false, as vLLM's DeepSeek V4 tokenizer and reasoning parser default (V3.1's
# template defaulted to off). 129,280 rows: the real size, exactly the tokenizer's length.
DEEPSEEK_V4_FAMILY = Family(
    name="deepseek-v4",
    vocab_size=129_280,
    tokenizer_size=129_280,
    think_start="<think>",
    think_end="</think>",
    end_token="</think>",
    eos_token=DEEPSEEK_EOS,
    extra_eos=(),
    pad_token=DEEPSEEK_EOS,
    bos_token=DEEPSEEK_BOS,
    switch="thinking",
    prompt_thinking="open",
    generation_prompt=DEEPSEEK_ASSISTANT + "<think>",
    closed_prompt=DEEPSEEK_ASSISTANT + "</think>",
    reasoning_parser="deepseek_v4",
    added=None,
)

# s1/s1.1 (Qwen2.5-32B-Instruct fine-tunes): no think tokens at all; the thinking runs from
# ``<|im_start|>think`` to ``<|im_start|>answer``, so ``<|im_start|>`` is the end token.
S1_FAMILY = replace(
    QWEN3_FAMILY,  # the same chat tokens and EOS, on Qwen2.5's vocabulary
    name="s1",
    tokenizer_size=QWEN2_5.size,
    think_start="<|im_start|>think",
    think_end="<|im_start|>answer",
    end_token="<|im_start|>",
    switch=None,
    prompt_thinking="open",
    generation_prompt="<|im_start|>assistant\n<|im_start|>think",
    closed_prompt=None,
    reasoning_parser=None,
    added=QWEN2_5,
)

FAMILIES: dict[str, Family] = {f.name: f for f in (QWEN3_FAMILY, QWEN3_5_FAMILY, DEEPSEEK_V4_FAMILY, S1_FAMILY)}


def family(name: str) -> Family:
    """The family called ``name``; the KeyError lists the known ones, for a mistyped command line."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown family {name!r}; known: {sorted(FAMILIES)}") from None
