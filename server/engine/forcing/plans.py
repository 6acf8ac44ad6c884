"""What a request brings to the budget processors: its plan, read from ``SamplingParams.extra_args``.

Shared by both adapters and imported by neither runner's vLLM interface: vLLM's front end loads
the adapter to call ``validate_params``, so this stays light (no torch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from server.thinking.boundaries import boundary_ids
from server.thinking.plan import KEY, GenerationPlan

SPECULATIVE_DECODING = (
    "thinking budgets do not support speculative decoding yet: start without --speculative-config "
    "(or without the budget processor)"
)


def plan_of(params: Any) -> GenerationPlan | None:
    """The request's plan when it has a budget, else None (the request costs the kernel nothing)."""
    plan = GenerationPlan.from_extra_args(params.extra_args)
    return plan if plan is not None and plan.budget is not None else None


def validate(params: Any) -> None:
    """A malformed plan is the request's error (HTTP 400 at the engine boundary), never the engine's."""
    try:
        GenerationPlan.from_extra_args(params.extra_args)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed extra_args.{KEY}: {exc}") from exc


def committed(output: list[int]) -> list[int]:
    """The output without the async scheduler's trailing ``-1`` placeholder (the real id comes later)."""
    return output[:-1] if output and output[-1] < 0 else output


class Boundaries:
    """The server's boundary ids in the engine's process (what a grace reads), resolved from the engine's
    tokenizer the first time a request has a grace: requests without one never pay for it."""

    def __init__(self, tokenizer: Callable[[], Any]) -> None:
        self._tokenizer = tokenizer
        self._ids: frozenset[int] | None = None

    def attach(self, plan: GenerationPlan | None) -> GenerationPlan | None:
        """The plan, its budget carrying the boundary ids where it has a grace."""
        if plan is None or plan.budget is None or not plan.budget.end_grace:
            return plan
        if self._ids is None:  # no tokenizer (--skip-tokenizer-init): no boundary, a grace runs to its end
            tokenizer = self._tokenizer()
            self._ids = boundary_ids(tokenizer) if tokenizer is not None else frozenset()
        return replace(plan, budget=replace(plan.budget, boundaries=self._ids))
