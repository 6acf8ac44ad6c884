"""When a thinking is looping: two rules over token ids that any model's thinking can trigger. Pure: no torch, no vLLM.

**The first rule: a verbatim cycle.** The thinking is *looping* when, for some period ``p`` in
``[1, PERIODS]``, its last ``span(p)`` tokens repeat with period ``p`` (each of them equals the
token ``p`` places before it, inside that span), where::

    span(p) = max(MIN_LOOP_TOKENS, copies(p) * p)
    copies(p) = 3 for p < LONG_PERIOD, 2 for p >= LONG_PERIOD

So the same ``p``-token span written ``copies(p)`` times in a row, and at least 32 tokens of it.

**The bounds, and why.** s1's collapse ("suppressing the end too often makes the model loop or
repeat") is a verbatim repetition at the tail of the thinking: a phrase, a line or a paragraph
written again and again. Two verbatim copies back to back of a span of 32 tokens or more almost never
occur in text that is not looping; shorter spans need a third copy. The floor of 32 tokens keeps
ordinary short repeats from tripping it: a run of digits, a row of a table, ``0 + 0 + 0`` (a
single repeated token must fill 32 tokens, a 2-token pattern 16 copies). ``PERIODS`` = 64 catches
a repeated sentence or short paragraph (up to 128 tokens for two copies); a longer loop is caught
once it repeats one of its own sub-spans, or not at all (the maximum still bounds it).

**Incremental form** (what the kernel computes, :class:`LoopWatch`): ``runs[p - 1]`` counts the most
recent tokens that each equal the token ``p`` places before them (a mismatch resets it to 0); the last
``span(p)`` tokens repeat with period ``p`` exactly when ``runs[p - 1] >= span(p) - p``. The state is the
last ``PERIODS`` tokens (newest first) and ``PERIODS`` counters: fixed width, O(PERIODS) per token.

**The second rule: the same conclusion again.** When the budget forces a wait in place of an attempt
to end, the last ``CONCLUSION`` thinking tokens before the wait are the *conclusion* (each forced wait
replaces the one before). Once ``CONCLUSION`` thinking tokens have been written since that wait began
(the wait's own included: the tail is all new, not the same position), the thinking is looping
whenever its last ``CONCLUSION`` tokens equal the conclusion: the model came back to what it had
written when it last tried to end, so forcing bought nothing. A thinking shorter than ``CONCLUSION``
at the wait has no conclusion (its padding, ``NOTHING``, never equals a token of the new tail).

Why: forcing may make the model redo its reasoning instead of repeating a span verbatim. A redone
pass is longer than ``PERIODS`` or drifts in the middle (a digit changes), so no short cycle shows,
but it ends on the same words: the same last line and the same answer, about to end again. Why
``CONCLUSION`` = 16: a line in a byte-level vocabulary (``carry 0\nSo 841.\n``), a sentence in a
BPE one: as long as a stated conclusion, short enough that drift earlier in the pass does not hide
it, long enough that writing those 16 tokens again in that order is no coincidence.

**Incremental form** (:meth:`LoopWatch.conclude`, :attr:`LoopWatch.concluded_again`): at the wait, the
conclusion is ``tail[:CONCLUSION]``, and ``since`` (thinking tokens seen after it) restarts at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PERIODS = 64  # the longest period watched
LONG_PERIOD = 32  # from this period on, two copies are a loop
MIN_LOOP_TOKENS = 32  # a loop covers at least this many tokens
NOTHING = -1  # tail padding: no token yet (never equal to a token id)
CONCLUSION = 16  # the second rule: how many thinking tokens before a forced wait are its conclusion


def span(period: int) -> int:
    """How many trailing tokens must repeat with period ``period`` for a loop."""
    return max(MIN_LOOP_TOKENS, (3 if period < LONG_PERIOD else 2) * period)


# NEEDED[p - 1]: the run of matches (token == the token p places before) that makes period p a loop.
NEEDED: tuple[int, ...] = tuple(span(p) - p for p in range(1, PERIODS + 1))


def is_looping(tokens: Sequence[int]) -> bool:
    """The rule, by its definition, over a whole thinking (the reference the incremental form is tested against)."""
    for period in range(1, PERIODS + 1):
        n = span(period)
        tail = range(len(tokens) - n + period, len(tokens))
        if len(tokens) >= n and all(tokens[i] == tokens[i - period] for i in tail):
            return True
    return False


def concludes_again(tokens: Sequence[int], waits: Sequence[int]) -> bool:
    """The second rule, by its definition, over a whole thinking; ``waits``: where forced waits began in it."""
    if not waits:
        return False
    last, n = waits[-1], CONCLUSION
    # (the conclusion must be whole, and the tail all written after the wait began)
    return last >= n and len(tokens) - last >= n and list(tokens[-n:]) == list(tokens[last - n : last])


@dataclass(frozen=True)
class LoopWatch:
    """The last ``PERIODS`` tokens (newest first, padded with ``NOTHING``) and each period's run of matches;
    the last conclusion (newest first, ``NOTHING`` before the first wait) and the tokens seen since it."""

    tail: tuple[int, ...] = (NOTHING,) * PERIODS
    runs: tuple[int, ...] = (0,) * PERIODS
    conclusion: tuple[int, ...] = (NOTHING,) * CONCLUSION
    since: int = 0

    def see(self, token: int) -> LoopWatch:
        """The watch after one more thinking token: runs[p - 1] grows where ``token`` equals tail[p - 1]."""
        runs = tuple(run + 1 if token == before else 0 for run, before in zip(self.runs, self.tail, strict=True))
        return LoopWatch((token, *self.tail[:-1]), runs, self.conclusion, self.since + 1)

    def conclude(self) -> LoopWatch:
        """A wait is forced in place of an attempt to end: the thinking's last tokens are its conclusion."""
        return LoopWatch(self.tail, self.runs, self.tail[:CONCLUSION], 0)

    @property
    def looping(self) -> bool:
        """The first rule: a verbatim cycle at the tail."""
        return any(run >= needed for run, needed in zip(self.runs, NEEDED, strict=True))

    @property
    def concluded_again(self) -> bool:
        """The second rule: the tail, all written since the last forced wait, is that wait's conclusion."""
        return self.since >= CONCLUSION and self.tail[:CONCLUSION] == self.conclusion
