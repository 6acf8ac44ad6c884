"""The budget kernel: :mod:`server.thinking.budget`'s rules and :mod:`server.thinking.edit`'s edits for a whole batch.

One decode step for the ``B`` rows of a batch (``slots[i]`` is row ``i``'s slot in the
:class:`~server.engine.forcing.table.SlotTable`, whose layout this module reads)::

    rows = table.rows[slots]                     # [B, WIDTH]: state, decision, window, budget
    state, window = advance(rows, tokens, ...)   # observe the token each row committed, under its decision
    decision = decide(state, rows, ...)          # the rules for the next token
    edit(logits, rows, decision, temperature)    # logits [B, vocab], in place
    table.rows[slots, :STATE_WIDTH] = state | decision | window

Batched array ops only: no Python loop over rows, no host read of a device value (no ``.item()``,
``.tolist()``, no ``if`` on a tensor), so on a GPU it runs ahead like the rest of vLLM's sampler.
On a CPU the same code runs on NumPy views of the same tensors (:mod:`.arrays`). Rows without a
budget go through the same ops and come out unchanged; the edit reads and writes ``3 + EOS``
logits per row, never a whole vocabulary row. What the host knows for free (whether any row may
still await a generated start delimiter, whether any row samples) skips the ops it would waste.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from server.engine.forcing import table as t
from server.engine.forcing.arrays import Backend, NumPy, backend, view
from server.thinking.edit import FORCED_LOGIT, GREEDY_TEMPERATURE

MASKED = -math.inf


def advance(xp: Backend, rows: Any, tokens: Any, has_new: Any, watching: bool) -> tuple[Any, Any]:
    """:func:`server.thinking.budget.observe` of ``tokens`` [B] where ``has_new`` [B], under the stored decision.

    Returns the state [B, 7] and the window [B, START]; ``watching``: some row may await a start delimiter.
    """
    phase, thinking, waits, forcing, at, forced_end, observed, kind, replacing, offset, token = xp.columns(
        rows[:, : t.WINDOW_AT]
    )
    inserted = has_new & (kind >= t.FORCE) & (tokens == token)  # a forced or guarding decision's token came out
    kept = ~inserted
    following = offset + 1
    going = inserted & (following < xp.take(rows, (t.LENGTH_AT + replacing)[:, None])[:, 0])
    forcing = xp.where(going, replacing, forcing * kept)
    at = xp.where(going, following, at * kept)
    starting = inserted & (offset == 0)  # a replacement starts: count it
    waits = waits + (starting & (replacing == t.WAIT))
    forced_end = forced_end | (starting & (replacing == t.CLOSING))
    thinks = has_new & (phase == t.THINKING)
    ended = thinks & ((tokens == rows[:, t.END]) | (tokens == rows[:, t.TOOL_OPEN]))  # TOOL_OPEN -1: no tools
    new_phase = xp.where(ended, t.ANSWER, phase)
    window = rows[:, t.WINDOW_AT : t.STATE_WIDTH]
    if watching:  # the start delimiter, over the last tokens (right-aligned, as long as the delimiter)
        before = has_new & (phase == t.BEFORE)
        delimiter = rows[:, t.START_AT : t.WIDTH]
        watched = delimiter != t.ANY
        shifted = xp.cat([window[:, 1:], tokens[:, None]])
        window = xp.where(before[:, None] & watched, shifted, window)
        started = before & xp.all_columns((window == delimiter) | ~watched)
        new_phase = xp.where(started, t.THINKING, new_phase)
    state = xp.stack([new_phase, thinking + (thinks & ~ended), waits, forcing, at, forced_end, observed + has_new])
    return state, window


def decide(xp: Backend, state: Any, rows: Any, sequence_at: Any) -> Any:
    """:func:`server.thinking.budget.decide`, per row: [B, 4] (kind, replacement, position in it, token)."""
    phase, thinking, waits, forcing, at = xp.columns(state[:, :5])
    queued = forcing > 0
    thinks = phase == t.THINKING
    at_max = thinking >= rows[:, t.MAX_TOKENS]
    needs = (waits < rows[:, t.MIN_WAITS]) | (thinking < rows[:, t.MIN_TOKENS])
    kind = xp.where(thinks, xp.where(needs, t.GUARD, rows[:, t.IDLE]), t.FREE)
    kind = xp.where((thinks & at_max) | queued, t.FORCE, kind)
    fresh = xp.where((thinking <= rows[:, t.ROOM]) & ~at_max, t.WAIT, t.CLOSING)  # no room: the maximum wins
    replacing = xp.where(kind >= t.FORCE, xp.where(queued, forcing, fresh), kind)  # FREE, REDIRECT: own code
    offset = at * queued
    token = xp.take(rows, (sequence_at[replacing] + offset)[:, None])[:, 0]
    return xp.stack([kind, replacing, offset, token])


def edit(xp: Backend, logits: Any, rows: Any, decision: Any, temperature: Any, sampled: bool) -> None:
    """:func:`server.thinking.edit.edit`, per row, in place. Shapes: logits [B, V]; stops [B, 2 + EOS].

    ``sampled``: some row samples (else every pooled logit is a max, and the logsumexp is skipped).
    """
    kind = decision[:, 0]
    target = xp.clip(decision[:, 3:4], 0, logits.shape[1] - 1)  # [B, 1]
    x_target = xp.take(logits, target)
    live = (kind != t.FREE)[:, None] & (x_target > MASKED)  # never revive a masked token
    guard = live & ((kind == t.GUARD) | (kind == t.REDIRECT))[:, None]
    stops = rows[:, t.END : t.START_AT]  # [B, 2 + EOS]: the end, the tool-call start, the EOS ids (-1: none)
    counted = stops >= 0
    guarding = kind == t.GUARD  # the end and the tool-call start stop a GUARD, not a REDIRECT
    counted[:, 0] = guarding
    counted[:, 1] &= guarding
    valid = counted & guard & (stops != target)
    stops = xp.where(valid, stops, target)  # an unused column points at the target, written last
    x_stops = xp.take(logits, stops)
    pooled_in = xp.cat([x_target, xp.where(valid, x_stops, MASKED)])
    pooled = xp.row_max(pooled_in)
    if sampled:
        tau = xp.at_least(temperature, GREEDY_TEMPERATURE)[:, None]
        soft = tau * xp.row_logsumexp(pooled_in / tau)
        pooled = xp.where(temperature[:, None] < GREEDY_TEMPERATURE, pooled, soft)
    new_target = xp.where(guard, pooled, xp.where(live, x_target + FORCED_LOGIT, x_target))
    xp.put(logits, stops, xp.where(valid, MASKED, x_stops))
    xp.put(logits, target, new_target)


def step(
    table: t.SlotTable,
    logits: torch.Tensor,
    slots: Any,
    committed: Any,
    last: Any,
    *,
    watching: bool = True,
    sampled: bool = True,
    xp: Backend | None = None,
) -> None:
    """Advance the rows of ``slots`` [B] by the token they committed, then edit ``logits`` [B, V] in place.

    ``committed`` [B]: each row's output length; ``last`` [B]: its last output token (read where the
    output grew since the last step); NumPy arrays on a CPU, tensors on the logits' device elsewhere.
    ``watching`` / ``sampled``: the host's answer for these slots (``table.watching`` / ``table.sampled``);
    True is always right, False skips work that changes nothing. ``xp``: the backend (default: by device).
    """
    xp = xp or backend(logits.device)
    every, temperature, sequence_at = table.arrays(numpy=xp is NumPy)
    rows = every[slots]
    has_new = committed > rows[:, t.OBSERVED]
    edit_in = (view(logits, xp), temperature[slots], sequence_at)
    _step(xp, every, rows, slots, last, has_new, *edit_in, watching, sampled)


def step_from_history(
    table: t.SlotTable,
    logits: torch.Tensor,
    slots: Any,
    token_ids: torch.Tensor,
    prompt_len: torch.Tensor,
    total_len: torch.Tensor,
    *,
    watching: bool = True,
    sampled: bool = True,
    xp: Backend | None = None,
) -> None:
    """:func:`step`, the tokens read on the device from each slot's history (Model Runner V2's layout).

    Shapes: slots [B]; token_ids [slots, max_len] (committed tokens); prompt_len, total_len [slots].
    """
    xp = xp or backend(logits.device)
    every, temperature, sequence_at = table.arrays(numpy=xp is NumPy)
    rows = every[slots]
    prompt, observed = xp.long(view(prompt_len, xp)[slots]), rows[:, t.OBSERVED]
    has_new = xp.long(view(total_len, xp)[slots]) - prompt > observed
    history = view(token_ids, xp)
    tokens = xp.long(history[slots, xp.clip(prompt + observed, 0, history.shape[1] - 1)])
    edit_in = (view(logits, xp), temperature[slots], sequence_at)
    _step(xp, every, rows, slots, tokens, has_new, *edit_in, watching, sampled)


def _step(
    xp: Backend, every: Any, rows: Any, slots: Any, tokens: Any, has_new: Any, logits: Any, temperature: Any,
    sequence_at: Any, watching: bool, sampled: bool,
) -> None:  # fmt: skip
    """``every``: the whole table as ``xp`` sees it; ``rows``: the batch's rows gathered from it."""
    state, window = advance(xp, rows, tokens, has_new, watching)
    decision = decide(xp, state, rows, sequence_at)
    edit(xp, logits, rows, decision, temperature, sampled)
    every[slots, : t.STATE_WIDTH] = xp.cat([state, decision, window])
