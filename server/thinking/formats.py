"""The delimiters reasoning models think between, and what a prompt says about them.

Pure: no torch, no vLLM. Known formats:

- ``think``: ``<think>`` … ``</think>`` (Qwen3, Qwen3.5/3.6, QwQ, DeepSeek-R1 and its distills,
  DeepSeek V3.1/V4, GLM-4.5+, Kimi K2, MiniMax-M2, Phi-4-reasoning, OLMo 3, ERNIE 4.5);
- ``mistral``: ``[THINK]`` … ``[/THINK]`` (Magistral);
- ``seed``: ``<seed:think>`` … ``</seed:think>`` (Seed-OSS);
- ``s1``: ``<|im_start|>think`` … ``<|im_start|>answer`` (s1, s1.1).

The *end token* is the first token of the end delimiter: emitting it ends the thinking, so the budget's
guard watches it, and a forced end writes the whole delimiter after it (s1: ``answer``). An end
delimiter that starts with an ordinary word (Granite's "Here is my response:") cannot be guarded
without replacing that word wherever the thinking uses it: such families are refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from server.thinking.reasoning import ThinkingDelimiters


@dataclass(frozen=True)
class ThinkingFormat:
    name: str
    delimiters: ThinkingDelimiters
    end_token: str  # the first token of ``delimiters.end``; emitting it ends the thinking
    separator: str = "\n\n"  # between the end of thinking and a forced answer prefix

    @property
    def end_rest(self) -> str:
        """What a forced end writes after the end token (s1: ``answer``)."""
        return self.delimiters.end[len(self.end_token) :]

    def closing_text(self, answer_prefix: str) -> str:
        """The forced closing after the end token: the rest of the delimiter, then the answer prefix."""
        return self.end_rest + (self.separator + answer_prefix if answer_prefix else "")


def _single(name: str, start: str, end: str) -> ThinkingFormat:
    return ThinkingFormat(name, ThinkingDelimiters(start, end), end)


FORMATS = {
    "think": _single("think", "<think>", "</think>"),
    "mistral": _single("mistral", "[THINK]", "[/THINK]"),
    "seed": _single("seed", "<seed:think>", "</seed:think>"),
    "s1": ThinkingFormat("s1", ThinkingDelimiters("<|im_start|>think", "<|im_start|>answer"), "<|im_start|>", "\n"),
}

# vLLM's ``--reasoning-parser`` names (vllm.reasoning) whose delimiters are one of ours.
REASONING_PARSERS = {
    **dict.fromkeys(
        ("qwen3", "deepseek_r1", "deepseek_v3", "deepseek_v4", "deepseek_v41", "glm45", "glm47", "kimi_k2",
         "minimax_m2", "minimax_m2_append_think", "olmo3", "ernie45", "step3", "holo2", "mimo", "nemotron_v3"),
        "think",
    ),
    "mistral": "mistral",
    "seed_oss": "seed",
}  # fmt: skip

# Parsers whose end of thinking budget forcing cannot guard, and why (startup refuses them by name).
UNSUPPORTED_PARSERS = {
    "openai_gptoss": "gpt-oss (harmony) ends its thinking by switching channels, "
    "<|end|><|start|>assistant<|channel|>final<|message|>, and <|end|> also ends its other messages",
    "granite": "Granite 3.x ends its thinking with plain-text phrases (Here is my response:), "
    "whose first word the thinking uses as well",
    "granite_thinking_parser": "Granite ends its thinking with plain-text phrases, whose first word the thinking "
    "uses as well",
}


def custom_format(start: str, end: str, end_token: str) -> ThinkingFormat:
    """Delimiters given on the command line (``--thinking-start`` / ``--thinking-end``)."""
    return ThinkingFormat("custom", ThinkingDelimiters(start, end), end_token)


class PromptThinking(Enum):
    """What the end of a prompt (a chat template's generation prompt) did with the thinking."""

    NONE = "none"  # the model may open it (Qwen3's hybrid template, raw prompts)
    OPEN = "open"  # the prompt opened it: the model starts inside (``<think>\n``)
    CLOSED = "closed"  # the prompt opened and closed it: thinking is off (``enable_thinking: false``)


def prompt_thinking(prompt_ids: list[int], start: tuple[int, ...], end: int) -> PromptThinking:
    """Read the prompt's last few tokens: a start delimiter, then perhaps the end token after it.

    A closed thinking may come without its start (DeepSeek V3.1's non-thinking prompt ends ``</think>``), unless the
    end token is the start's own first token (s1's ``<|im_start|>``), which every turn begins with.
    """
    if not start:
        return PromptThinking.NONE
    tail = prompt_ids[-len(start) - 4 :]
    starts = [i for i in range(len(tail) - len(start) + 1) if tuple(tail[i : i + len(start)]) == start]
    if starts:
        after = tail[starts[-1] + len(start) :]
        return PromptThinking.CLOSED if end in after else PromptThinking.OPEN
    if end in tail and end != start[0]:
        return PromptThinking.CLOSED
    return PromptThinking.NONE
