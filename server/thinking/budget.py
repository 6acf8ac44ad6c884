"""s1 budget forcing as pure rules over token ids: no torch, no vLLM.

A request's thinking budget is a :class:`Budget` (fixed when the request arrives)
and a :class:`BudgetState` (updated with every token the request produces). Before
each decode step, :func:`decide` says what the logits processor must do with the
request's next token; after the step, :func:`observe` records the token that was
produced. The processor only applies the decision to the logits tensor.

The rules are s1's (Muennighoff et al., 2025), exactly as its reference procedure
of several ``generate()`` calls would produce them under greedy decoding:

- *minimum*: while fewer than ``min_waits`` attempts to end were ignored, or the
  thinking is shorter than ``min_tokens``, an attempt to end the thinking (the
  end-of-thinking token, EOS, or a tool call's start) is replaced by the wait string;
- *maximum*: once the thinking holds ``max_tokens`` tokens, the end-of-thinking
  token and the answer prefix are forced, then the answer is decoded freely;
- EOS inside a budgeted thinking is an attempt to end it: when no minimum holds,
  it becomes the end-of-thinking token, so the request still answers;
- *tool calls*: when the request offers tools, the tool-call start token
  (``tool_open``) is a second way to end the thinking (models such as Qwen3.5 open
  a call inside it without writing the end token): it ends the thinking like the
  end token (the budget then forces nothing more, so no end token lands inside the
  call's arguments), and while the minimum holds it is an attempt to end like the
  others, replaced by the wait string.

Beyond s1 (each off by default; off, the rules above are unchanged token for token):

- *rotating waits*: ``wait`` and then ``more_waits`` are used in turn: the k-th forced wait
  (k = 0, 1, ...) is string ``k mod n``; the room check at the maximum uses the one that comes next;
- *graceful maximum* (``end_grace``): at the maximum, the closing is forced at once when the last
  thinking token ends a line or a sentence (it is in ``boundaries``, or there is none yet); otherwise
  the model goes on (an attempt to end becomes the closing) until it writes a boundary token or the
  thinking holds ``max_tokens + end_grace`` tokens, and the closing is forced then;
- *wrap-up* (``wrapup``): forced before the closing whenever the maximum (or the loop guard) forces
  the end (an attempt to end that becomes the closing is the model's own ending: no wrap-up); its
  tokens are thinking tokens. The hard bound on the thinking is therefore
  ``max_tokens + end_grace + len(wrapup)``;
- *loop guard* (``loop_guard``): once the thinking loops (:mod:`server.thinking.loops`), the budget
  stops insisting: no wait is forced any more. When it came back to the same conclusion (the tail
  written since the last forced wait equal to the last tokens before that wait), the model is where it
  tried to end before, and its own ending now goes through; in a verbatim cycle at its tail, which a
  model does not leave by itself, the closing is also forced at the next step.

Thinking tokens are all tokens between the start and the end of thinking,
forced wait tokens included. Forced sequences are never interrupted by the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from server.thinking.loops import LoopWatch

# BudgetState.loops_broken's flags. The same conclusion again releases the minimum: the model is where it tried to
# end, and its own ending goes through. A verbatim cycle also forces the closing: a model in one does not get out.
RELEASED, CYCLE = 1, 2


class Phase(Enum):
    BEFORE = "before"  # the prompt did not open the thinking and the model has not yet
    THINKING = "thinking"
    ANSWER = "answer"


# The longest sequences a budget may force or watch for: the device kernel keeps them in fixed-width tables.
MAX_FORCED_TOKENS = 64  # the wait string; the closing (end of thinking + separator + answer prefix)
MAX_DELIMITER_TOKENS = 16  # the start-of-thinking delimiter; the EOS ids
MAX_WAIT_STRINGS = 8  # rotating waits: at most this many strings, MAX_FORCED_TOKENS tokens together
MAX_END_GRACE = 256  # the most tokens a graceful maximum may add to the thinking


class Kind(Enum):
    FREE = "free"  # leave the logits alone
    FORCE = "force"  # the next token is ``token``
    GUARD = "guard"  # if the model would end the thinking (end, tool_open, EOS), ``token`` (the replacement's) instead
    REDIRECT = "redirect"  # if the model would emit EOS, ``token`` (end of thinking) instead


class Replacement(Enum):
    """The sequence a decision puts in place of what the model would do."""

    WAIT = "wait"  # the wait string: the minimum holds
    CLOSING = "closing"  # end of thinking + answer prefix: the maximum is reached
    END = "end"  # the end-of-thinking token alone: EOS inside the thinking


@dataclass(frozen=True)
class Decision:
    kind: Kind
    replacement: Replacement | None = None
    at: int = 0  # position in the replacement of ``token``: 0 starts it, more continues a forced sequence
    token: int = -1  # the token put in place


FREE = Decision(Kind.FREE)


@dataclass(frozen=True)
class Budget:
    """One request's budget and the token ids it forces (all in the model's tokenizer)."""

    end: int
    eos: frozenset[int]
    wait: tuple[int, ...]
    closing: tuple[int, ...]  # end of thinking + answer prefix, forced at the maximum
    start: tuple[int, ...] = ()  # start of thinking, awaited when the prompt did not open it
    min_tokens: int = 0
    max_tokens: int | None = None
    min_waits: int = 0
    tool_open: int | None = None  # the tool-call start token when the request offers tools: it ends the thinking
    more_waits: tuple[tuple[int, ...], ...] = ()  # rotating waits: the strings used after ``wait``, in turn
    end_grace: int = 0  # tokens the thinking may run past the maximum to end its line or sentence
    wrapup: tuple[int, ...] = ()  # forced before the closing when the maximum (or the loop guard) ends the thinking
    loop_guard: bool = False
    # Token ids that end a line or a sentence (the server's, resolved once from the tokenizer; read under a grace).
    boundaries: frozenset[int] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.wait:
            raise ValueError("the wait string must encode to at least one token")
        if not self.closing or self.closing[0] != self.end:
            raise ValueError("the closing sequence must start with the end-of-thinking token")
        if self.end in self.eos:
            raise ValueError("the end-of-thinking token cannot also be an EOS token")
        if self.tool_open is not None and (self.tool_open == self.end or self.tool_open in self.eos):
            raise ValueError("the tool-call start token must differ from the end-of-thinking and EOS tokens")
        for name, size, most in (
            ("wait tokens (all strings)", sum(map(len, self.wait_strings)), MAX_FORCED_TOKENS),
            ("closing tokens (wrap-up included)", len(self.wrapup) + len(self.closing), MAX_FORCED_TOKENS),
            ("start tokens", len(self.start), MAX_DELIMITER_TOKENS), ("EOS ids", len(self.eos), MAX_DELIMITER_TOKENS),
            ("wait strings", len(self.wait_strings), MAX_WAIT_STRINGS), ("grace tokens", self.end_grace, MAX_END_GRACE),
        ):  # fmt: skip
            if size > most:
                raise ValueError(f"{size} {name}; at most {most}")
        if not all(self.more_waits) or self.end_grace < 0:
            raise ValueError("every wait string must encode to at least one token, and the grace cannot be negative")

    @property
    def wait_strings(self) -> tuple[tuple[int, ...], ...]:
        """The wait strings, in the order they are used."""
        return (self.wait, *self.more_waits)

    def wait_for(self, k: int) -> tuple[int, ...]:
        """The k-th forced wait (k = 0, 1, ...): the strings in turn."""
        return self.wait_strings[k % len(self.wait_strings)]

    def sequence(self, replacement: Replacement, waits: int = 0) -> tuple[int, ...]:
        """What ``replacement`` forces; ``waits``: the waits begun before it (which wait string is whose turn)."""
        if replacement is Replacement.WAIT:
            return self.wait_for(waits)
        return self.wrapup + self.closing if replacement is Replacement.CLOSING else (self.end,)


@dataclass
class BudgetState:
    phase: Phase
    thinking_tokens: int = 0
    waits: int = 0
    forced_end: bool = False
    forcing: Replacement | None = None  # a forced sequence under way: its next token is ``at``
    at: int = 0
    observed: int = 0  # output tokens seen so far
    recent: list[int] = field(default_factory=list)  # tail of the output, to spot a generated start
    at_boundary: bool = True  # under a grace: the last thinking token ends a line or sentence (none yet: it does)
    loops_broken: int = 0  # under the loop guard, flags: RELEASED (the same conclusion again), CYCLE (a verbatim one)
    loop: LoopWatch = field(default_factory=LoopWatch)  # under the loop guard: the thinking's tail, watched

    def as_dict(self) -> dict[str, int | bool]:
        return {"thinking_tokens": self.thinking_tokens, "waits": self.waits, "forced_end": self.forced_end}


def initial_state(budget: Budget, prompt_opens_thinking: bool) -> BudgetState:
    return BudgetState(Phase.THINKING if prompt_opens_thinking or not budget.start else Phase.BEFORE)


def _needs_more_thinking(budget: Budget, state: BudgetState) -> bool:
    """The minimum holds, unless the thinking looped: the budget has stopped insisting."""
    unmet = state.waits < budget.min_waits or state.thinking_tokens < budget.min_tokens
    return unmet and not state.loops_broken


def _room_for_a_wait(budget: Budget, state: BudgetState) -> bool:
    """Whether the wait whose turn it is fits whole under the maximum."""
    return budget.max_tokens is None or state.thinking_tokens + len(budget.wait_for(state.waits)) <= budget.max_tokens


def _grace_is_over(budget: Budget, state: BudgetState) -> bool:
    """At the maximum: the line or sentence has ended, or the grace is spent (no grace: at once)."""
    assert budget.max_tokens is not None
    return state.at_boundary or state.thinking_tokens >= budget.max_tokens + budget.end_grace


def _decision(budget: Budget, state: BudgetState, kind: Kind, replacement: Replacement, at: int = 0) -> Decision:
    # A wait under way (at > 0) was counted when it began: its string is the one before the count.
    return Decision(kind, replacement, at, budget.sequence(replacement, state.waits - (at > 0))[at])


def _closing_for_an_attempt(budget: Budget, state: BudgetState) -> Decision:
    """An attempt to end that the budget turns into the closing is the model's own ending: the closing starts
    at the end delimiter, past the wrap-up. (A guard whose token were the wrap-up's first would also fire
    whenever the model wrote that token of its own accord, a space or a newline, cutting the thinking there.)"""
    return _decision(budget, state, Kind.GUARD, Replacement.CLOSING, at=len(budget.wrapup))


def decide(budget: Budget, state: BudgetState) -> Decision:
    """What to do with the next token, given everything observed so far (pure)."""
    if state.forcing is not None:
        return _decision(budget, state, Kind.FORCE, state.forcing, state.at)
    if state.phase is not Phase.THINKING:
        return FREE
    at_max = budget.max_tokens is not None and state.thinking_tokens >= budget.max_tokens
    if state.loops_broken & CYCLE or (at_max and _grace_is_over(budget, state)):
        return _decision(budget, state, Kind.FORCE, Replacement.CLOSING)
    if at_max:  # within the grace: the model writes on, and an attempt to end becomes the closing
        return _closing_for_an_attempt(budget, state)
    if _needs_more_thinking(budget, state):
        # The maximum wins: with no room left for a whole wait string, an attempt to end closes.
        if not _room_for_a_wait(budget, state):
            return _closing_for_an_attempt(budget, state)
        return _decision(budget, state, Kind.GUARD, Replacement.WAIT)
    return _decision(budget, state, Kind.REDIRECT, Replacement.END) if budget.eos else FREE


def observe(budget: Budget, state: BudgetState, token: int, decision: Decision) -> bool:
    """Record the token produced under ``decision`` (what :func:`decide` said for it).

    Returns whether the budget put the token in place (a wait string's or the
    closing's token), which stop strings must not cut.

    A replacement counts as inserted whenever its first token came out, so the
    state is a function of the output tokens alone: the front end replays it to
    report what the budget did, and a preempted request rebuilds it exactly.
    (s1 would not count a ``Wait`` the model writes itself while the minimum holds;
    here it counts as one of the waits.) A forced token that did not come out (a
    grammar masked it) is forced again at the next step.
    """
    state.observed += 1
    inserted = decision.kind in (Kind.FORCE, Kind.GUARD) and token == decision.token
    if inserted:
        assert decision.replacement is not None
        following = decision.at + 1
        more = following < len(budget.sequence(decision.replacement, state.waits - (decision.at > 0)))
        state.forcing, state.at = (decision.replacement, following) if more else (None, 0)
        if decision.at == 0 or decision.kind is Kind.GUARD:  # a replacement starts (a guard's always does)
            state.waits += decision.replacement is Replacement.WAIT
            state.forced_end |= decision.replacement is Replacement.CLOSING
            if budget.loop_guard and decision.replacement is Replacement.WAIT:  # before the wait's token is seen
                state.loop = state.loop.conclude()
    if state.phase is Phase.BEFORE:
        state.recent = [*state.recent, token][-len(budget.start) :]
        if tuple(state.recent) == budget.start:
            state.phase = Phase.THINKING
    elif state.phase is Phase.THINKING:
        if token == budget.end or token == budget.tool_open:  # (after the end, a forced closing may go on)
            state.phase = Phase.ANSWER
        else:
            _think(budget, state, token)
    return inserted


def _think(budget: Budget, state: BudgetState, token: int) -> None:
    """One more thinking token: counted; under a grace, whether it ends a line; under the guard, watched."""
    state.thinking_tokens += 1
    if budget.end_grace:
        state.at_boundary = token in budget.boundaries
    if budget.loop_guard:
        state.loop = state.loop.see(token)
        state.loops_broken |= CYCLE * state.loop.looping | RELEASED * state.loop.concluded_again


def replay(budget: Budget, state: BudgetState, tokens: list[int]) -> Decision:
    """Catch ``state`` up with ``tokens`` (the whole output so far); the decision for the next token."""
    for token in tokens[state.observed :]:
        observe(budget, state, token, decide(budget, state))
    return decide(budget, state)


def summarize(budget: Budget, prompt_opens_thinking: bool, tokens: list[int]) -> BudgetState:
    """The state after ``tokens``: what the budget did to an output, or where a resumed request stands."""
    state = initial_state(budget, prompt_opens_thinking)
    replay(budget, state, tokens)
    return state
