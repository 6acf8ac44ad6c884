"""Which delimiters a model thinks between, and their token ids in its tokenizer.

Two families: ``<think>`` … ``</think>`` (Qwen3, QwQ, DeepSeek-R1 and its distills,
Phi-4-reasoning, GLM) and s1's ``<|im_start|>think`` … ``<|im_start|>answer``.
``--thinking-format auto`` picks the first whose end token the tokenizer knows;
a model that has neither fails at startup, not at its first request.

The *end token* is the one token whose emission ends the thinking: ``</think>``,
or, for s1, ``<|im_start|>`` (s1's harness stops its thinking rounds there and the
model goes on with ``answer``). A forced end writes the whole end delimiter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.thinking.reasoning import ThinkingDelimiters


class ThinkingFormatError(RuntimeError):
    """The model's tokenizer cannot express the thinking delimiters."""


@dataclass(frozen=True)
class ThinkingFormat:
    name: str
    delimiters: ThinkingDelimiters
    end_token: str  # the first token of ``delimiters.end``; emitting it ends the thinking
    separator: str  # between the end of thinking and a forced answer prefix

    @property
    def end_rest(self) -> str:
        """What a forced end writes after the end token (s1: ``answer``)."""
        return self.delimiters.end[len(self.end_token) :]

    def closing_text(self, answer_prefix: str) -> str:
        """The forced closing after the end token: the rest of the delimiter, then the answer prefix."""
        return self.end_rest + (self.separator + answer_prefix if answer_prefix else "")


FORMATS = {
    "think": ThinkingFormat("think", ThinkingDelimiters("<think>", "</think>"), "</think>", "\n\n"),
    "s1": ThinkingFormat("s1", ThinkingDelimiters("<|im_start|>think", "<|im_start|>answer"), "<|im_start|>", "\n"),
}


@dataclass(frozen=True)
class ThinkingTokens:
    """The ids budget forcing needs, computed once at startup."""

    format: ThinkingFormat
    start: tuple[int, ...]
    end: int
    eos: frozenset[int]
    end_is_special: bool = False  # hidden by ``skip_special_tokens``: outputs must keep special tokens

    @property
    def skip_special_tokens(self) -> bool:
        """Whether outputs may drop special tokens and still show where the thinking ends."""
        return not self.end_is_special


def _ids(tokenizer: Any, text: str) -> tuple[int, ...]:
    return tuple(tokenizer.encode(text, add_special_tokens=False))


def resolve_thinking_tokens(tokenizer: Any, requested: str = "auto", eos_ids: set[int] | None = None) -> ThinkingTokens:
    candidates = list(FORMATS.values()) if requested == "auto" else [FORMATS[requested]]
    for fmt in candidates:
        end = _ids(tokenizer, fmt.end_token)
        if len(end) == 1 and tokenizer.decode(list(end)) == fmt.end_token:
            eos = set(eos_ids or ()) | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set())
            special = tokenizer.decode(list(end), skip_special_tokens=True) == ""
            start = _ids(tokenizer, fmt.delimiters.start)
            return ThinkingTokens(fmt, start, end[0], frozenset(eos), special)
    names = " or ".join(f"{f.end_token} for {f.delimiters.start} … {f.delimiters.end}" for f in candidates)
    raise ThinkingFormatError(
        f"the model's tokenizer has no single token for the end of thinking ({names}); "
        "budget forcing needs one. Pick another --thinking-format or model."
    )


def prompt_opens_thinking(prompt_ids: list[int], start: tuple[int, ...]) -> bool:
    """Whether the prompt (a chat template) already opened the thinking, near its end."""
    tail = prompt_ids[-len(start) - 2 :]
    return bool(start) and any(tuple(tail[i : i + len(start)]) == start for i in range(len(tail) - len(start) + 1))
