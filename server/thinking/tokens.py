"""The thinking delimiters in a model's token ids, resolved once at startup.

Where they come from, first match wins:

1. ``--thinking-start`` / ``--thinking-end``: the operator's own strings;
2. ``--thinking-format think|mistral|seed|s1``;
3. ``--reasoning-parser NAME``, as ``vllm serve`` users already pass it (:data:`REASONING_PARSERS`);
4. ``auto``: the first known format whose end token the tokenizer has as one token of its own
   (s1 only when the chat template writes ``<|im_start|>think``).

A model without a usable end of thinking fails at startup, with the reason, not at its first request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.thinking.formats import FORMATS, REASONING_PARSERS, UNSUPPORTED_PARSERS, ThinkingFormat, custom_format


class ThinkingFormatError(RuntimeError):
    """The model's tokenizer cannot express the thinking delimiters."""


@dataclass(frozen=True)
class FormatChoice:
    """What the command line says about the delimiters."""

    format: str = "auto"
    start: str | None = None
    end: str | None = None
    reasoning_parser: str | None = None


@dataclass(frozen=True)
class ThinkingTokens:
    """The ids budget forcing needs, computed once at startup."""

    format: ThinkingFormat
    start: tuple[int, ...]
    end: int
    eos: frozenset[int]
    end_is_special: bool = False  # hidden by ``skip_special_tokens``: outputs must keep special tokens
    source: str = "auto"  # how the format was chosen (the startup log says it)

    @property
    def skip_special_tokens(self) -> bool:
        """Whether outputs may drop special tokens and still show where the thinking ends."""
        return not self.end_is_special

    def describe(self) -> str:
        d = self.format.delimiters
        return f"thinking between {d.start!r} and {d.end!r} (end token id {self.end}; {self.source})"


def _ids(tokenizer: Any, text: str) -> tuple[int, ...]:
    return tuple(tokenizer.encode(text, add_special_tokens=False))


def own_token(tokenizer: Any, text: str) -> int | None:
    """The id of ``text`` when the tokenizer has it as one token."""
    ids = _ids(tokenizer, text)
    return ids[0] if len(ids) == 1 and tokenizer.decode(list(ids)) == text else None


def _explicit(tokenizer: Any, start: str, end: str) -> ThinkingFormat:
    """``--thinking-end``: its first token must be a token of its own (an added token), or the whole string one."""
    ids = _ids(tokenizer, end)
    if not ids:
        raise ThinkingFormatError("--thinking-end encodes to no tokens.")
    first = tokenizer.decode([ids[0]])
    added = set(getattr(tokenizer, "get_added_vocab", dict)())
    if len(ids) > 1 and first not in added:
        raise ThinkingFormatError(
            f"--thinking-end {end!r} is {len(ids)} tokens and starts with the ordinary token {first!r}: guarding it "
            "would replace that token wherever the thinking uses it. Budget forcing needs an end of thinking that "
            "starts with a token of its own (an added token such as </think> or <|im_start|>)."
        )
    if not end.startswith(first):
        raise ThinkingFormatError(f"--thinking-end {end!r} does not start with its first token's text {first!r}.")
    return custom_format(start, end, first)


def _chosen(tokenizer: Any, choice: FormatChoice) -> tuple[list[ThinkingFormat], str]:
    """The candidate formats, in order, and where they came from."""
    if choice.start is not None and choice.end is None:
        raise ThinkingFormatError("--thinking-start needs --thinking-end (the end is what budget forcing guards).")
    if choice.end is not None and choice.format != "auto":
        raise ThinkingFormatError(f"--thinking-end and --thinking-format {choice.format} both name the delimiters.")
    if choice.end is not None:
        return [_explicit(tokenizer, choice.start or "", choice.end)], "--thinking-start/--thinking-end"
    if choice.format != "auto":
        return [FORMATS[choice.format]], f"--thinking-format {choice.format}"
    parser = choice.reasoning_parser or None  # vLLM's default is ""
    if parser in UNSUPPORTED_PARSERS:
        raise ThinkingFormatError(
            f"--reasoning-parser {parser}: {UNSUPPORTED_PARSERS[parser]}; budget forcing cannot guard that end of "
            "thinking. Serve it without thinking budgets (vllm serve), or name single-token delimiters with "
            "--thinking-start/--thinking-end."
        )
    if parser is not None:
        if parser not in REASONING_PARSERS:
            known = ", ".join(sorted(REASONING_PARSERS))
            raise ThinkingFormatError(
                f"--reasoning-parser {parser}: its thinking delimiters are unknown to this server (known: {known}). "
                "Name them with --thinking-start and --thinking-end."
            )
        return [FORMATS[REASONING_PARSERS[parser]]], f"--reasoning-parser {parser}"
    template = str(getattr(tokenizer, "chat_template", None) or "")
    auto = [f for name, f in FORMATS.items() if name != "s1" or "<|im_start|>think" in template]
    return auto, "auto"


def resolve_thinking_tokens(
    tokenizer: Any, choice: FormatChoice | str = "auto", eos_ids: set[int] | None = None
) -> ThinkingTokens:
    if isinstance(choice, str):
        choice = FormatChoice(format=choice)
    candidates, source = _chosen(tokenizer, choice)
    for fmt in candidates:
        end = own_token(tokenizer, fmt.end_token)
        if end is not None:
            eos = set(eos_ids or ()) | ({tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set())
            special = tokenizer.decode([end], skip_special_tokens=True) == ""
            start = _ids(tokenizer, fmt.delimiters.start)
            return ThinkingTokens(fmt, start, end, frozenset(eos), special, source)
    names = " or ".join(f"{f.end_token} for {f.delimiters.start} … {f.delimiters.end}" for f in candidates)
    raise ThinkingFormatError(
        f"the model's tokenizer has no single token for the end of thinking ({names}); budget forcing needs one. "
        "Pick another --thinking-format, name the delimiters with --thinking-start/--thinking-end, or another model."
    )
