"""The vLLM logits processor that applies :mod:`server.thinking.budget`'s decisions inside the batched decode.

Each request carries its plan in ``SamplingParams.extra_args["thinking_budget"]``
(token ids included, see :class:`server.thinking.plan.GenerationPlan`). Before each step the processor
replays every budgeted request's new tokens through the pure rules; the rules'
state is a function of the output tokens, so a preempted request that comes
back is rebuilt exactly from its output. ``apply`` then edits only the rows that
need it, with a few batched tensor ops and no device-to-host copy:

- FORCE: the forced token's logit is raised far above the rest;
- GUARD / REDIRECT: where the model would end (greedy: an end token is the
  argmax; sampling: ``u < p(end)`` at the request's temperature, ``u`` from
  :func:`server.budget.uniform`), the replacement's first token is forced;
  elsewhere the end tokens are masked, which is "sample, then replace an end".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor, MoveDirectionality

from server.thinking.budget import Budget, BudgetState, Kind, initial_state, replay, uniform
from server.thinking.plan import KEY, GenerationPlan

FORCED_LOGIT = 1e9  # the sampler works on float32 logits; far above any real logit
GREEDY_EPS = 1e-5  # vLLM's threshold below which a temperature means greedy


@dataclass
class _Row:
    budget: Budget
    state: BudgetState
    output: list[int]  # vLLM's live list of the request's output tokens
    temperature: float
    seed: int

    def __post_init__(self) -> None:  # what every step needs, computed once per request
        eos = tuple(sorted(self.budget.eos))
        self.stops = {Kind.GUARD: (self.budget.end, *eos), Kind.REDIRECT: eos}
        self.greedy = self.temperature < GREEDY_EPS
        self.clamped_temperature = max(self.temperature, GREEDY_EPS)


@dataclass
class _Edit:
    """One batched edit of this step's logits: FORCE, or GUARD/REDIRECT for rows sharing stop ids."""

    kind: Kind
    rows: list[int]
    tokens: list[int]
    stops: list[int]
    draws: list[float]  # -1 for greedy rows ("end is the argmax"), else u in [0, 1)
    temperatures: list[float]


class BudgetLogitsProcessor(LogitsProcessor):
    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        self._rows: dict[int, _Row] = {}
        self._plan: list[_Edit] = []

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        try:
            GenerationPlan.from_extra_args(sampling_params.extra_args)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed extra_args.{KEY}: {exc}") from exc

    def is_argmax_invariant(self) -> bool:
        return False  # it changes greedy decoding

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is not None:
            self._apply_batch_update(batch_update)
        self._plan = self._make_plan() if self._rows else []

    def _apply_batch_update(self, update: BatchUpdate) -> None:
        for index in update.removed:
            self._rows.pop(index, None)
        for index, params, _prompt, output in update.added:
            plan = GenerationPlan.from_extra_args(params.extra_args)
            if plan is None or plan.budget is None:
                self._rows.pop(index, None)
                continue
            state = initial_state(plan.budget, plan.opens_thinking)
            self._rows[index] = _Row(plan.budget, state, output, params.temperature, plan.seed)
        for source, target, direction in update.moved:
            moving = self._rows.pop(source, None)
            if direction == MoveDirectionality.SWAP and (other := self._rows.pop(target, None)) is not None:
                self._rows[source] = other
            if moving is not None:
                self._rows[target] = moving
            elif direction != MoveDirectionality.SWAP:
                self._rows.pop(target, None)

    def _make_plan(self) -> list[_Edit]:
        """Replay each row's new tokens, then group the rows by the edit they need."""
        force = _Edit(Kind.FORCE, [], [], [], [], [])
        guards: dict[tuple[int, tuple[int, ...]], _Edit] = {}
        for index, row in self._rows.items():
            decision = replay(row.budget, row.state, row.output)
            if decision.kind is Kind.FORCE:
                force.rows.append(index)
                force.tokens.append(decision.token)
            elif decision.kind in (Kind.GUARD, Kind.REDIRECT):
                stops = row.stops[decision.kind]
                edit = guards.get((decision.token, stops))
                if edit is None:
                    edit = guards[(decision.token, stops)] = _Edit(Kind.GUARD, [], [], list(stops), [], [])
                edit.rows.append(index)
                edit.tokens.append(decision.token)
                edit.draws.append(-1.0 if row.greedy else uniform(row.seed, len(row.output)))
                edit.temperatures.append(row.clamped_temperature)
        return ([force] if force.rows else []) + list(guards.values())

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self._plan:
            return logits  # O(1): no budgeted request needs anything this step
        for edit in self._plan:
            rows = torch.tensor(edit.rows, device=logits.device)
            tokens = torch.tensor(edit.tokens, device=logits.device)
            if edit.kind is Kind.FORCE:
                logits[rows, tokens] = FORCED_LOGIT
            else:
                _guard(logits, rows, tokens, edit)
        return logits


def _guard(logits: torch.Tensor, rows: torch.Tensor, tokens: torch.Tensor, edit: _Edit) -> None:
    """Force ``tokens`` where the model would emit a stop; mask the stops elsewhere.

    Shapes: logits [batch, vocab]; rows, tokens, u, t [n]; stops [s].
    """
    device = logits.device
    stops = torch.tensor(edit.stops, device=device)
    u = torch.tensor(edit.draws, device=device)
    t = torch.tensor(edit.temperatures, device=device)[:, None]
    sub = logits[rows]  # [n, vocab]: a copy of the guarded rows only
    stop_logits = sub[:, stops]  # [n, s]
    argmax_is_stop = stop_logits.max(dim=1).values >= sub.max(dim=1).values
    if max(edit.draws) < 0:  # all greedy: the argmax test is all there is (skip two logsumexps over the vocab)
        would_end = argmax_is_stop
    else:
        p_stop = torch.exp(torch.logsumexp(stop_logits / t, dim=1) - torch.logsumexp(sub / t, dim=1))
        would_end = torch.where(u < 0, argmax_is_stop, u < p_stop)
    logits[rows[:, None], stops[None, :]] = float("-inf")
    logits[rows, tokens] = torch.where(would_end, torch.full_like(u, FORCED_LOGIT), logits[rows, tokens])
