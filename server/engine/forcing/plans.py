"""What a request brings to the budget processors: its plan, read from ``SamplingParams.extra_args``.

Shared by both adapters and imported by neither runner's vLLM interface: vLLM's front end loads
the adapter to call ``validate_params``, so this stays light (no torch).
"""

from __future__ import annotations

from typing import Any

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
