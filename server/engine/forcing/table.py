"""The budget kernel's memory: one int64 row per request slot, and the layout of that row.

A row holds, left to right:

- the **state** (:class:`~server.thinking.budget.BudgetState` column for column; a slot without
  a budget is in phase ``INACTIVE``, which no rule acts on);
- the **decision** for the request's next token (:func:`~server.thinking.budget.decide` of the
  state, kept so the next step reads it instead of deciding twice);
- the **window**: the last output tokens, as long as the start delimiter (to spot a generated one);
- the **budget**, fixed when the request is added: the lengths of the sequences it forces (indexed
  by replacement), minimum, maximum, waits, grace, the kind when no rule binds, the loop guard, the
  number of wait strings and where each one starts and how long it is, then the wait strings (one
  after the other) and the closing ids (wrap-up first), the *stops* (the end id, the tool-call start
  id or -1, the EOS ids: what a guard stands in for, side by side so the kernel reads them as one
  slice) and the start ids, padded.

Beside the rows: the **loop watch** of each slot (:class:`~server.thinking.loops.LoopWatch`: the last
``PERIODS`` thinking tokens, newest first, then the ``PERIODS`` runs, then the last forced wait's
conclusion (``CONCLUSION`` tokens, newest first) and the thinking tokens seen since it; read only when
a row of the batch has the loop guard), and the **boundary** vector over the vocabulary (1 where a token ends a
line or a sentence; one for the whole server, set once when a request first has a grace).
Temperatures are a float32 vector beside it. Rows are written on the host and copied to the device
in one go (:meth:`SlotTable.stage`, :meth:`SlotTable.flush`) when requests are added, never per
decode step. Torch only, no vLLM.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from server.thinking.budget import (
    MAX_DELIMITER_TOKENS,
    MAX_FORCED_TOKENS,
    MAX_WAIT_STRINGS,
    Budget,
    BudgetState,
    Kind,
    Phase,
    Replacement,
    decide,
)
from server.thinking.edit import GREEDY_TEMPERATURE
from server.thinking.loops import CONCLUSION, NEEDED, PERIODS, LoopWatch

BEFORE, THINKING, ANSWER, INACTIVE = range(4)  # phases
# Replacements and kinds share codes below FORCE: a FREE decision replaces NONE, a REDIRECT the END alone.
NONE, END_ONLY, WAIT, CLOSING = range(4)  # replacements (NONE: no forced sequence under way)
FREE, REDIRECT, FORCE, GUARD = range(4)  # decision kinds: FORCE and GUARD (>= FORCE) put tokens in place
PHASES = {Phase.BEFORE: BEFORE, Phase.THINKING: THINKING, Phase.ANSWER: ANSWER}
REPLACEMENTS = {None: NONE, Replacement.WAIT: WAIT, Replacement.CLOSING: CLOSING, Replacement.END: END_ONLY}
KINDS = {Kind.FREE: FREE, Kind.REDIRECT: REDIRECT, Kind.FORCE: FORCE, Kind.GUARD: GUARD}

# state, then decision
PHASE, THINKING_TOKENS, WAITS, FORCING, AT, FORCED_END, OBSERVED, AT_BOUNDARY, LOOPS_BROKEN = range(9)
KIND, REPLACING, FROM, TOKEN = range(9, 13)  # the next token's decision: what, which sequence, where in it, token
START = MAX_DELIMITER_TOKENS
WINDOW_AT = 13
STATE_WIDTH = WINDOW_AT + START  # what a step writes back
# budget
LENGTH_AT = STATE_WIDTH  # 4 columns: the length of each replacement's sequence, by its code (WAIT: the first's)
MIN_TOKENS, MAX_TOKENS, MIN_WAITS, GRACE, IDLE, GUARDED, WAIT_STRINGS, WRAPUP = range(LENGTH_AT + 4, LENGTH_AT + 12)
WAIT_STARTS = LENGTH_AT + 12  # MAX_WAIT_STRINGS columns: where each wait string starts, from WAIT_AT
WAIT_LENGTHS = WAIT_STARTS + MAX_WAIT_STRINGS  # MAX_WAIT_STRINGS columns: each wait string's length
WAIT_AT = WAIT_LENGTHS + MAX_WAIT_STRINGS  # the wait strings, one after the other (MAX_FORCED_TOKENS in all)
CLOSING_AT = WAIT_AT + MAX_FORCED_TOKENS  # the wrap-up, then end of thinking + answer prefix
END = CLOSING_AT + MAX_FORCED_TOKENS  # the end id, the tool-call start id, the EOS ids: what a guard stands in for
TOOL_OPEN = END + 1  # -1: the request offers no tools (or its parser has no single start token)
EOS_AT = END + 2
START_AT = EOS_AT + MAX_DELIMITER_TOKENS
WIDTH = START_AT + START
SEQUENCE_AT = (END, END, WAIT_AT, CLOSING_AT)  # where each replacement's tokens are (NONE: the end id, unused)

LOOP_WIDTH = 2 * PERIODS + CONCLUSION + 1  # a loop watch: tail [PERIODS], runs [PERIODS], conclusion, since

NO_MAXIMUM = 1 << 40
ANY = -2  # start padding: matches any token
NOTHING = -1  # window padding: no token yet


def budget_row(budget: Budget | None) -> np.ndarray:
    """The budget part of a row (zeros without a budget: the phase alone keeps such a slot inactive)."""
    row = np.zeros(WIDTH - LENGTH_AT, dtype=np.int64)
    if budget is None:
        return row
    eos, limit = sorted(budget.eos), NO_MAXIMUM if budget.max_tokens is None else budget.max_tokens
    closing, waits = budget.wrapup + budget.closing, budget.wait_strings
    row[:12] = [
        1, 1, len(budget.wait), len(closing), budget.min_tokens, limit, budget.min_waits, budget.end_grace,
        REDIRECT if eos else FREE, budget.loop_guard, len(waits), len(budget.wrapup),
    ]  # fmt: skip  # IDLE: the kind when no rule binds
    lengths = [len(w) for w in waits]
    row[WAIT_STARTS - LENGTH_AT : WAIT_STARTS - LENGTH_AT + len(waits)] = np.cumsum([0, *lengths[:-1]])
    row[WAIT_LENGTHS - LENGTH_AT : WAIT_LENGTHS - LENGTH_AT + len(waits)] = lengths
    row[EOS_AT - LENGTH_AT : START_AT - LENGTH_AT] = -1
    stops = (budget.end, -1 if budget.tool_open is None else budget.tool_open, *eos)  # TOOL_OPEN -1: no tools
    for at, ids in ((WAIT_AT, sum(waits, ())), (CLOSING_AT, closing), (END, stops)):
        row[at - LENGTH_AT : at - LENGTH_AT + len(ids)] = ids
    row[START_AT - LENGTH_AT :] = ANY  # right-aligned, like the window it is compared with
    if budget.start:
        row[WIDTH - LENGTH_AT - len(budget.start) :] = budget.start
    return row


def state_row(budget: Budget | None, state: BudgetState | None) -> np.ndarray:
    """The state, decision and window part of a row."""
    row = np.full(STATE_WIDTH, NOTHING, dtype=np.int64)
    if budget is None or state is None:
        row[:WINDOW_AT] = [INACTIVE, 0, 0, NONE, 0, 0, 0, 1, 0, FREE, NONE, 0, 0]
        return row
    d = decide(budget, state)
    row[:WINDOW_AT] = [
        PHASES[state.phase], state.thinking_tokens, state.waits, REPLACEMENTS[state.forcing], state.at,
        state.forced_end, state.observed, state.at_boundary, state.loops_broken, KINDS[d.kind],
        REPLACEMENTS[d.replacement], d.at, budget.end if d.kind is Kind.FREE else d.token,
    ]  # fmt: skip
    if state.recent:
        row[STATE_WIDTH - len(state.recent) :] = state.recent
    return row


def loop_row(state: BudgetState | None) -> np.ndarray:
    """The loop watch part: [LOOP_WIDTH] (the tail, newest first, the runs, the conclusion, the count since it)."""
    watch = state.loop if state is not None else LoopWatch()
    return np.array([*watch.tail, *watch.runs, *watch.conclusion, watch.since], dtype=np.int64)


def boundary_vector(ids: frozenset[int]) -> np.ndarray:
    """1 at each id of ``ids``, 0 elsewhere, and one 0 past the largest (where larger ids are clipped to)."""
    vector = np.zeros(max(ids, default=-1) + 2, dtype=np.int64)
    vector[sorted(ids)] = 1
    return vector


class Arrays(NamedTuple):
    """What one kernel step reads and writes, as tensors or as NumPy views of them."""

    rows: Any  # [slots, WIDTH]
    temperature: Any  # [slots] float32
    sequence_at: Any  # [4]: where each replacement's tokens start in a row
    loops: Any  # [slots, LOOP_WIDTH]: each slot's loop watch
    needed: Any  # [PERIODS]: the run of matches that makes each period a loop
    boundary: Any  # [ids + 1]: 1 where a token ends a line or a sentence


class SlotTable:
    """Every slot's row and temperature on ``device``; which slots hold a budget, on the host (free to read)."""

    def __init__(self, slots: int, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.active = np.zeros(slots, dtype=bool)
        self.watching = np.zeros(slots, dtype=bool)  # waiting for a start delimiter the model may write
        self.sampled = np.zeros(slots, dtype=bool)  # temperature above greedy
        self.guarded = np.zeros(slots, dtype=bool)  # the loop guard is on
        self.graced = np.zeros(slots, dtype=bool)  # a graceful maximum: the boundary vector is read
        self.rotating = np.zeros(slots, dtype=bool)  # more than one wait string
        self.rows = torch.zeros(slots, WIDTH, dtype=torch.int64, device=self.device)
        self.rows[:, PHASE] = INACTIVE
        self.loops = torch.from_numpy(np.tile(loop_row(None), (slots, 1))).to(self.device)
        self.temperature = torch.ones(slots, dtype=torch.float32, device=self.device)
        self.sequence_at = torch.tensor(SEQUENCE_AT, dtype=torch.int64, device=self.device)
        self.needed = torch.tensor(NEEDED, dtype=torch.int64, device=self.device)
        self.boundary = torch.zeros(1, dtype=torch.int64, device=self.device)  # no boundaries until set
        self.boundaries: frozenset[int] | None = None
        self._staged: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        self._host_views: Arrays | None = None

    def _flags(self) -> tuple[np.ndarray, ...]:
        return self.active, self.watching, self.sampled, self.guarded, self.graced, self.rotating

    def arrays(self, numpy: bool) -> Arrays:
        """The tensors, or NumPy views of them (CPU tensors only; made once)."""
        tensors = Arrays(self.rows, self.temperature, self.sequence_at, self.loops, self.needed, self.boundary)
        if not numpy:
            return tensors
        if self._host_views is None:
            self._host_views = Arrays(*(tensor.numpy() for tensor in tensors))
        return self._host_views

    def needs(self, batch: Any) -> dict[str, bool]:
        """The host's flags for the slots in ``batch`` (free to read): the work a step may skip (kernel.step's)."""
        return {
            "watching": bool(self.watching[batch].any()), "sampled": bool(self.sampled[batch].any()),
            "guarding": bool(self.guarded[batch].any()), "gracing": bool(self.graced[batch].any()),
            "rotating": bool(self.rotating[batch].any()),
        }  # fmt: skip

    def set_boundaries(self, ids: frozenset[int]) -> None:
        """The server's boundary ids (the same for every request: set once, before the first graced request)."""
        self.boundaries = ids
        self.boundary = _upload(boundary_vector(ids), self.device)
        self._host_views = None

    @property
    def slots(self) -> int:
        return len(self.active)

    def stage(self, slot: int, budget: Budget | None, state: BudgetState | None, temperature: float) -> None:
        """Set ``slot`` on the host (a new occupant); :meth:`flush` copies it to the device."""
        if slot >= self.slots:
            self._grow(max(slot + 1, 2 * self.slots))
        self.active[slot] = budget is not None
        self.watching[slot] = state is not None and state.phase is Phase.BEFORE
        self.sampled[slot] = budget is not None and temperature >= GREEDY_TEMPERATURE
        self.guarded[slot] = budget is not None and budget.loop_guard
        self.graced[slot] = budget is not None and budget.end_grace > 0
        self.rotating[slot] = budget is not None and len(budget.more_waits) > 0
        if budget is not None and budget.end_grace and self.boundaries is None:  # the server's: one for every budget
            self.set_boundaries(budget.boundaries)
        row = np.concatenate([state_row(budget, state), budget_row(budget)])
        self._staged[slot] = (row, loop_row(state), temperature)

    def flush(self) -> None:
        """One host-to-device copy per tensor for every slot staged since the last flush."""
        if not self._staged:
            return
        slots = _upload(np.fromiter(self._staged, dtype=np.int64), self.device)
        rows, loops, temperatures = zip(*self._staged.values(), strict=True)
        self.rows.index_copy_(0, slots, _upload(np.stack(rows), self.device))
        self.loops.index_copy_(0, slots, _upload(np.stack(loops), self.device))
        self.temperature.index_copy_(0, slots, _upload(np.array(temperatures, dtype=np.float32), self.device))
        self._staged.clear()

    def move(self, source: int, target: int, swap: bool) -> None:
        """A request changed slots (vLLM V1's batch condensing and reordering); ``swap``: both ways."""
        self.flush()
        pick, put = ([source, target], [target, source]) if swap else ([source], [target])
        for tensor in (self.rows, self.loops, self.temperature):
            tensor[put] = tensor[pick]
        for flags in self._flags():
            flags[put] = flags[pick]
            if not swap:
                flags[source] = False

    def _grow(self, slots: int) -> None:
        extra, self._host_views = slots - self.slots, None
        self.active, self.watching, self.sampled, self.guarded, self.graced, self.rotating = (
            np.concatenate([flags, np.zeros(extra, dtype=bool)]) for flags in self._flags()
        )
        fresh = self.rows.new_zeros(extra, WIDTH)
        fresh[:, PHASE] = INACTIVE
        self.rows = torch.cat([self.rows, fresh])
        self.loops = torch.cat([self.loops, torch.from_numpy(np.tile(loop_row(None), (extra, 1))).to(self.device)])
        self.temperature = torch.cat([self.temperature, self.temperature.new_ones(extra)])


def _upload(rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """Host to device without waiting: from pinned memory (PyTorch's caching host allocator) on CUDA."""
    host = torch.from_numpy(rows)
    return host.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else host.to(device)
