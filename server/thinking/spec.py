"""A request's thinking-budget fields, their aliases and the server's defaults, resolved into one spec.

Pure: no torch, no vLLM. The fields (top level, OpenAI SDK users pass them in
``extra_body``):

- ``min_thinking_tokens``, ``max_thinking_tokens``, ``min_thinking_waits``,
  ``thinking_wait_string`` (one string, or a list used in turn), ``thinking_answer_prefix``;
- beyond s1: ``thinking_end_grace``, ``thinking_wrapup_string``, ``thinking_loop_guard``
  (:mod:`server.thinking.budget`; the guard alone makes a budget);
- aliases for the maximum: vLLM's ``thinking_token_budget``; Anthropic's
  ``thinking: {"type": "enabled", "budget_tokens": N}`` / ``{"type": "disabled"}``
  (0); OpenAI's ``reasoning_effort`` through the server's effort table.

Two ways of setting the maximum that disagree are a 400 naming both fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.protocol.errors import APIError
from server.thinking.budget import MAX_FORCED_TOKENS, Budget
from server.thinking.tokens import ThinkingTokens

EFFORT_BUDGETS: dict[str, int | None] = {
    "none": 0,
    "minimal": 128,
    "low": 512,
    "medium": 2048,
    "high": 8192,
    "xhigh": None,
}


@dataclass(frozen=True)
class BudgetDefaults:
    """The server's defaults (flags); a request overrides each one it sets."""

    min_tokens: int = 0
    max_tokens: int | None = None
    min_waits: int = 0
    wait_string: str | tuple[str, ...] = "Wait"
    answer_prefix: str = "Final Answer:"
    effort_budgets: dict[str, int | None] = field(default_factory=lambda: dict(EFFORT_BUDGETS))
    end_grace: int = 0
    wrapup: str = ""
    loop_guard: bool = False


@dataclass(frozen=True)
class BudgetSpec:
    min_tokens: int
    max_tokens: int | None
    min_waits: int
    wait_string: str | tuple[str, ...]  # a tuple: used in turn
    answer_prefix: str
    end_grace: int = 0
    wrapup: str = ""
    loop_guard: bool = False

    @property
    def is_active(self) -> bool:
        return self.min_tokens > 0 or self.min_waits > 0 or self.max_tokens is not None or self.loop_guard

    @property
    def wait_strings(self) -> tuple[str, ...]:
        return (self.wait_string,) if isinstance(self.wait_string, str) else self.wait_string


def _max_sources(fields: dict[str, Any], defaults: BudgetDefaults) -> dict[str, int | None]:
    """Every field of the request that sets the maximum, with the value it sets."""
    sources: dict[str, int | None] = {}
    if fields.get("max_thinking_tokens") is not None:
        sources["max_thinking_tokens"] = fields["max_thinking_tokens"]
    if fields.get("thinking_token_budget") is not None:  # vLLM's -1: unlimited
        budget = fields["thinking_token_budget"]
        sources["thinking_token_budget"] = None if budget == -1 else budget
    thinking = fields.get("thinking")
    if thinking is not None:
        if thinking["type"] == "disabled":
            sources["thinking"] = 0
        elif thinking.get("budget_tokens") is not None:
            sources["thinking.budget_tokens"] = thinking["budget_tokens"]
    effort = fields.get("reasoning_effort")
    if effort is not None:
        if effort not in defaults.effort_budgets:
            known = ", ".join(defaults.effort_budgets)
            raise APIError(f"reasoning_effort must be one of {known}.", param="reasoning_effort")
        sources["reasoning_effort"] = defaults.effort_budgets[effort]
    return sources


def _shown(maximum: int | None) -> str:
    return "unlimited" if maximum is None else str(maximum)


def resolve_budget(fields: dict[str, Any], defaults: BudgetDefaults) -> BudgetSpec:
    """``fields``: the request's budget fields as sent (None when absent)."""
    sources = _max_sources(fields, defaults)
    if len(set(sources.values())) > 1:
        first, second = list(sources)[:2]
        raise APIError(
            f"{first} ({_shown(sources[first])}) and {second} ({_shown(sources[second])}) set different thinking "
            "budgets; send one.",
            param=f"{first},{second}",
            code="conflicting_parameters",
        )
    max_tokens = next(iter(sources.values())) if sources else defaults.max_tokens
    spec = BudgetSpec(
        min_tokens=_or(fields.get("min_thinking_tokens"), defaults.min_tokens),
        max_tokens=max_tokens,
        min_waits=_or(fields.get("min_thinking_waits"), defaults.min_waits),
        wait_string=_strings(_or(fields.get("thinking_wait_string"), defaults.wait_string)),
        answer_prefix=_or(fields.get("thinking_answer_prefix"), defaults.answer_prefix),
        end_grace=_or(fields.get("thinking_end_grace"), defaults.end_grace),
        wrapup=_or(fields.get("thinking_wrapup_string"), defaults.wrapup),
        loop_guard=_or(fields.get("thinking_loop_guard"), defaults.loop_guard),
    )
    if spec.max_tokens is not None and spec.min_tokens > spec.max_tokens:
        param = "min_thinking_tokens" if fields.get("min_thinking_tokens") is not None else next(iter(sources), None)
        raise APIError(
            f"min_thinking_tokens ({spec.min_tokens}) is above the maximum thinking budget ({spec.max_tokens}).",
            param=param,
        )
    return spec


def check_fits(spec: BudgetSpec, max_tokens: int, max_tokens_param: str) -> None:
    """The thinking minimum needs room for at least one answer token under ``max_tokens``."""
    if spec.min_tokens >= max_tokens:
        raise APIError(
            f"min_thinking_tokens ({spec.min_tokens}) leaves no room for an answer: "
            f"{max_tokens_param} is {max_tokens}.",
            param="min_thinking_tokens",
        )


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _strings(value: str | list[str] | tuple[str, ...]) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value)


def to_budget(spec: BudgetSpec, thinking: ThinkingTokens, tokenizer: Any) -> Budget:
    """The spec in token ids: the wait strings, the wrap-up and the forced closing (end delimiter + separator +
    answer prefix). The boundary set a grace reads is the server's: the caller adds it."""
    waits = tuple(_encode(tokenizer, text, "thinking_wait_string") for text in spec.wait_strings)
    _check_length(sum(waits, ()), "thinking_wait_string")
    wrapup = _encode(tokenizer, spec.wrapup, "thinking_wrapup_string") if spec.wrapup else ()
    after_end = thinking.format.closing_text(spec.answer_prefix)
    closing = (thinking.end, *tokenizer.encode(after_end, add_special_tokens=False))
    _check_length(wrapup + closing, "thinking_wrapup_string" if wrapup else "thinking_answer_prefix")
    return Budget(
        end=thinking.end,
        eos=thinking.eos,
        wait=waits[0],
        closing=closing,
        start=thinking.start,
        min_tokens=spec.min_tokens,
        max_tokens=spec.max_tokens,
        min_waits=spec.min_waits,
        more_waits=waits[1:],
        end_grace=spec.end_grace,
        wrapup=wrapup,
        loop_guard=spec.loop_guard,
    )


def _encode(tokenizer: Any, text: str, param: str) -> tuple[int, ...]:
    ids = tuple(tokenizer.encode(text, add_special_tokens=False))
    if not ids:
        raise APIError(f"{param} encodes to no tokens: {text!r}.", param=param)
    return ids


def _check_length(ids: tuple[int, ...], param: str) -> None:
    if len(ids) > MAX_FORCED_TOKENS:
        raise APIError(f"{param} is too long: {len(ids)} tokens forced, at most {MAX_FORCED_TOKENS}.", param=param)


def request_budget(
    fields: dict[str, Any],
    defaults: BudgetDefaults,
    thinking: ThinkingTokens,
    tokenizer: Any,
    max_tokens: tuple[int, str],
) -> tuple[BudgetSpec, Budget | None]:
    """The request's spec and its budget in token ids (None when it has none); ``max_tokens``: (value, field)."""
    spec = resolve_budget(fields, defaults)
    if not spec.is_active:
        return spec, None
    check_fits(spec, *max_tokens)
    return spec, to_budget(spec, thinking, tokenizer)
