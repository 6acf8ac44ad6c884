"""The budget kernel: :mod:`server.thinking.budget`'s rules and :mod:`server.thinking.edit`'s edits for a whole batch.

One decode step for the ``B`` rows of a batch (``slots[i]`` is row ``i``'s slot in the
:class:`~server.engine.forcing.table.SlotTable`, whose layout this module reads)::

    rows = table.rows[slots]                     # [B, WIDTH]: state, decision, window, budget
    state, window = advance(rows, tokens, ...)   # observe the token each row committed, under its decision
    state = watch_loops(state, rows, tokens, ...)  # the loop guard's watch [B, LOOP_WIDTH], where a row has it
    decision = decide(state, rows, ...)          # the rules for the next token
    edit(logits, rows, decision, temperature)    # logits [B, vocab], in place
    table.rows[slots, :STATE_WIDTH] = state | decision | window

Batched array ops only: no Python loop over rows, no host read of a device value (no ``.item()``,
``.tolist()``, no ``if`` on a tensor), so on a GPU it runs ahead like the rest of vLLM's sampler.
On a CPU the same code runs on NumPy views of the same tensors (:mod:`.arrays`). Rows without a
budget go through the same ops and come out unchanged; the edit reads and writes ``3 + EOS``
logits per row, never a whole vocabulary row. What the host knows for free (whether any row may
still await a generated start delimiter, samples, has the loop guard or a grace) skips the ops it
would waste: without those, a step costs what it cost before them.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from server.engine.forcing import table as t
from server.engine.forcing.arrays import Backend, NumPy, backend, view
from server.thinking.budget import CYCLE, MAX_WAIT_STRINGS, RELEASED
from server.thinking.edit import FORCED_LOGIT, GREEDY_TEMPERATURE
from server.thinking.loops import CONCLUSION

MASKED = -math.inf


class Needs(NamedTuple):
    """The host's flags for a batch (:meth:`~server.engine.forcing.table.SlotTable.needs`): True is always right."""

    watching: bool = True  # some row may await a generated start delimiter
    sampled: bool = True  # some row samples
    guarding: bool = True  # some row has the loop guard
    gracing: bool = True  # some row has a graceful maximum
    rotating: bool = True  # some row has more than one wait string


def wait_string(xp: Backend, rows: Any, k: Any, rotating: bool) -> tuple[Any, Any]:
    """Where the ``k`` [B]-th wait string (k mod the row's count) starts in a row, and its length: [B] each."""
    if not rotating:  # one wait string per row: the first
        return t.WAIT_AT, rows[:, t.LENGTH_AT + t.WAIT]
    turn = (k % xp.clip(rows[:, t.WAIT_STRINGS], 1, MAX_WAIT_STRINGS))[:, None]  # inactive rows count 0 strings
    return t.WAIT_AT + xp.take(rows, t.WAIT_STARTS + turn)[:, 0], xp.take(rows, t.WAIT_LENGTHS + turn)[:, 0]


def advance(xp: Backend, rows: Any, tokens: Any, has_new: Any, boundary: Any, needs: Needs) -> tuple[Any, Any]:
    """:func:`server.thinking.budget.observe` of ``tokens`` [B] where ``has_new`` [B], under the stored decision.

    Returns the state [B, 9] and the window [B, START]; ``boundary`` [ids + 1] is read where a row has a grace.
    """
    state, decision = xp.columns(rows[:, : t.KIND]), xp.columns(rows[:, t.KIND : t.WINDOW_AT])
    phase, thinking, waits, forcing, at, forced_end, observed, at_boundary, loops = state
    kind, replacing, offset, token = decision
    inserted = has_new & (kind >= t.FORCE) & (tokens == token)  # a forced or guarding decision's token came out
    kept = ~inserted
    following = offset + 1
    length = xp.take(rows, (t.LENGTH_AT + replacing)[:, None])[:, 0]  # of the sequence under way
    if needs.rotating:  # a wait's: the string whose turn it was (counted when it began)
        _, wait_length = wait_string(xp, rows, waits - xp.long(offset > 0), True)
        length = xp.where(replacing == t.WAIT, wait_length, length)
    going = inserted & (following < length)
    forcing = xp.where(going, replacing, forcing * kept)
    at = xp.where(going, following, at * kept)
    starting = inserted & ((offset == 0) | (kind == t.GUARD))  # a replacement starts (a guard's always does)
    waits = waits + (starting & (replacing == t.WAIT))
    forced_end = forced_end | (starting & (replacing == t.CLOSING))
    thinks = has_new & (phase == t.THINKING)
    ended = thinks & ((tokens == rows[:, t.END]) | (tokens == rows[:, t.TOOL_OPEN]))  # TOOL_OPEN -1: no tools
    new_phase = xp.where(ended, t.ANSWER, phase)
    window = rows[:, t.WINDOW_AT : t.STATE_WIDTH]
    if needs.watching:  # the start delimiter, over the last tokens (right-aligned, as long as the delimiter)
        before = has_new & (phase == t.BEFORE)
        delimiter = rows[:, t.START_AT : t.WIDTH]
        watched = delimiter != t.ANY
        shifted = xp.cat([window[:, 1:], tokens[:, None]])
        window = xp.where(before[:, None] & watched, shifted, window)
        started = before & xp.all_columns((window == delimiter) | ~watched)
        new_phase = xp.where(started, t.THINKING, new_phase)
    counted = thinks & ~ended  # a thinking token
    if needs.gracing:  # under a grace: whether the thinking's last token ends a line or a sentence
        ends_line = boundary[xp.clip(tokens, 0, boundary.shape[0] - 1)] > 0
        at_boundary = xp.where(counted & (rows[:, t.GRACE] > 0), ends_line, at_boundary > 0)
    state = xp.stack([
        new_phase, thinking + counted, waits, forcing, at, forced_end, observed + has_new, at_boundary + 0, loops,
    ])  # fmt: skip
    return state, window


def watch_loops(xp: Backend, state: Any, rows: Any, tokens: Any, loops: Any, needed: Any) -> Any:
    """:class:`server.thinking.loops.LoopWatch` over each guarded row's new thinking token: the new watch [B, W].

    ``loops`` [B, W] (W = ``t.LOOP_WIDTH``): the tail [B, P] (newest first), the runs [B, P], the conclusion
    [B, CONCLUSION] (newest first), the thinking tokens since it [B, 1]; ``needed`` [P]. Sets LOOPS_BROKEN.
    """
    periods = needed.shape[0]
    tail, runs = loops[:, :periods], loops[:, periods : 2 * periods]
    conclusion, since = loops[:, 2 * periods : 2 * periods + CONCLUSION], loops[:, -1]
    guarded = rows[:, t.GUARDED] > 0
    # A wait began this step (advance counted it): its conclusion is the tail before the wait's token is seen.
    concluding = guarded & (state[:, t.WAITS] > rows[:, t.WAITS])
    conclusion = xp.where(concluding[:, None], tail[:, :CONCLUSION], conclusion)
    since = xp.where(concluding, 0, since)
    thought = state[:, t.THINKING_TOKENS] > rows[:, t.THINKING_TOKENS]  # this step added a thinking token
    seen = thought & guarded
    runs = xp.where(seen[:, None], xp.where(tail == tokens[:, None], runs + 1, 0), runs)
    tail = xp.where(seen[:, None], xp.cat([tokens[:, None], tail[:, :-1]]), tail)
    since = since + seen
    again = (since >= CONCLUSION) & xp.all_columns(tail[:, :CONCLUSION] == conclusion)  # the same conclusion again
    cycle = seen & xp.any_columns(runs >= needed)
    state[:, t.LOOPS_BROKEN] |= xp.where(cycle, CYCLE, 0) | xp.where(seen & again, RELEASED, 0)  # budget.py's flags
    return xp.cat([tail, runs, conclusion, since[:, None]])


def decide(xp: Backend, state: Any, rows: Any, sequence_at: Any, needs: Needs) -> Any:
    """:func:`server.thinking.budget.decide`, per row: [B, 4] (kind, replacement, position in it, token)."""
    phase, thinking, waits, forcing, at, _, _, at_boundary, loops = xp.columns(state)
    queued = forcing > 0
    thinks = phase == t.THINKING
    limit = rows[:, t.MAX_TOKENS]
    at_max = thinking >= limit
    closes = at_max  # the closing is forced: at the maximum, once the grace is over, or once the thinking looped
    if needs.gracing:  # (without a grace, at once)
        closes = at_max & ((at_boundary > 0) | (thinking >= limit + rows[:, t.GRACE]))
    insist = (waits < rows[:, t.MIN_WAITS]) | (thinking < rows[:, t.MIN_TOKENS])
    if needs.guarding:  # a loop releases the minimum; a verbatim cycle also closes
        closes = closes | (loops >= CYCLE)
        insist = insist & (loops == 0)
    kind = xp.where(thinks, xp.where(insist | at_max, t.GUARD, rows[:, t.IDLE]), t.FREE)  # at_max: in the grace
    kind = xp.where((thinks & closes) | queued, t.FORCE, kind)
    wait_at, wait_length = wait_string(xp, rows, waits - xp.long(queued), needs.rotating)  # under way, or next
    fits = (thinking + wait_length <= limit) & ~closes & ~at_max  # no room: the maximum wins
    fresh = xp.where(fits, t.WAIT, t.CLOSING)
    replacing = xp.where(kind >= t.FORCE, xp.where(queued, forcing, fresh), kind)  # FREE, REDIRECT: own code
    # A guard's closing starts past the wrap-up: an attempt to end is the model's own ending (budget.py).
    offset = at * queued + ((kind == t.GUARD) & (replacing == t.CLOSING)) * rows[:, t.WRAPUP]
    start = xp.where(replacing == t.WAIT, wait_at, sequence_at[replacing]) if needs.rotating else sequence_at[replacing]
    token = xp.take(rows, (start + offset)[:, None])[:, 0]
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
    guarding: bool = True,
    gracing: bool = True,
    rotating: bool = True,
    xp: Backend | None = None,
) -> None:
    """Advance the rows of ``slots`` [B] by the token they committed, then edit ``logits`` [B, V] in place.

    ``committed`` [B]: each row's output length; ``last`` [B]: its last output token (read where the
    output grew since the last step); NumPy arrays on a CPU, tensors on the logits' device elsewhere.
    ``watching`` / ``sampled`` / ``guarding`` / ``gracing`` / ``rotating``: the host's answer for these slots
    (``table.needs``, :class:`Needs`); True is always right, False skips work that changes nothing.
    ``xp``: the backend (default: by device).
    """
    xp = xp or backend(logits.device)
    arrays = table.arrays(numpy=xp is NumPy)
    rows = arrays.rows[slots]
    has_new = committed > rows[:, t.OBSERVED]
    needs = Needs(watching, sampled, guarding, gracing, rotating)
    _step(xp, arrays, rows, slots, last, has_new, view(logits, xp), needs)


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
    guarding: bool = True,
    gracing: bool = True,
    rotating: bool = True,
    xp: Backend | None = None,
) -> None:
    """:func:`step`, the tokens read on the device from each slot's history (Model Runner V2's layout).

    Shapes: slots [B]; token_ids [slots, max_len] (committed tokens); prompt_len, total_len [slots].
    """
    xp = xp or backend(logits.device)
    arrays = table.arrays(numpy=xp is NumPy)
    rows = arrays.rows[slots]
    prompt, observed = xp.long(view(prompt_len, xp)[slots]), rows[:, t.OBSERVED]
    has_new = xp.long(view(total_len, xp)[slots]) - prompt > observed
    history = view(token_ids, xp)
    tokens = xp.long(history[slots, xp.clip(prompt + observed, 0, history.shape[1] - 1)])
    needs = Needs(watching, sampled, guarding, gracing, rotating)
    _step(xp, arrays, rows, slots, tokens, has_new, view(logits, xp), needs)


def _step(
    xp: Backend, arrays: t.Arrays, rows: Any, slots: Any, tokens: Any, has_new: Any, logits: Any, needs: Needs
) -> None:
    """``arrays``: the whole table as ``xp`` sees it; ``rows``: the batch's rows gathered from it."""
    state, window = advance(xp, rows, tokens, has_new, arrays.boundary, needs)
    if needs.guarding:
        arrays.loops[slots] = watch_loops(xp, state, rows, tokens, arrays.loops[slots], arrays.needed)
    decision = decide(xp, state, rows, arrays.sequence_at, needs)
    edit(xp, logits, rows, decision, arrays.temperature[slots], needs.sampled)
    arrays.rows[slots, : t.STATE_WIDTH] = xp.cat([state, decision, window])
