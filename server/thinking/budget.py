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

Thinking tokens are all tokens between the start and the end of thinking,
forced wait tokens included. Forced sequences are never interrupted by the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Phase(Enum):
    BEFORE = "before"  # the prompt did not open the thinking and the model has not yet
    THINKING = "thinking"
    ANSWER = "answer"


# The longest sequences a budget may force or watch for: the device kernel keeps them in fixed-width tables.
MAX_FORCED_TOKENS = 64  # the wait string; the closing (end of thinking + separator + answer prefix)
MAX_DELIMITER_TOKENS = 16  # the start-of-thinking delimiter; the EOS ids


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

    def __post_init__(self) -> None:
        if not self.wait:
            raise ValueError("the wait string must encode to at least one token")
        if not self.closing or self.closing[0] != self.end:
            raise ValueError("the closing sequence must start with the end-of-thinking token")
        if self.end in self.eos:
            raise ValueError("the end-of-thinking token cannot also be an EOS token")
        if self.tool_open is not None and (self.tool_open == self.end or self.tool_open in self.eos):
            raise ValueError("the tool-call start token must differ from the end-of-thinking and EOS tokens")
        for name, ids, most in (
            ("wait", self.wait, MAX_FORCED_TOKENS), ("closing", self.closing, MAX_FORCED_TOKENS),
            ("start", self.start, MAX_DELIMITER_TOKENS), ("eos", self.eos, MAX_DELIMITER_TOKENS),
        ):  # fmt: skip
            if len(ids) > most:
                raise ValueError(f"the {name} sequence is {len(ids)} tokens; at most {most}")

    def sequence(self, replacement: Replacement) -> tuple[int, ...]:
        if replacement is Replacement.WAIT:
            return self.wait
        return self.closing if replacement is Replacement.CLOSING else (self.end,)


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

    def as_dict(self) -> dict[str, int | bool]:
        return {"thinking_tokens": self.thinking_tokens, "waits": self.waits, "forced_end": self.forced_end}


def initial_state(budget: Budget, prompt_opens_thinking: bool) -> BudgetState:
    return BudgetState(Phase.THINKING if prompt_opens_thinking or not budget.start else Phase.BEFORE)


def _needs_more_thinking(budget: Budget, state: BudgetState) -> bool:
    return state.waits < budget.min_waits or state.thinking_tokens < budget.min_tokens


def _room_for_a_wait(budget: Budget, state: BudgetState) -> bool:
    return budget.max_tokens is None or state.thinking_tokens + len(budget.wait) <= budget.max_tokens


def _decision(budget: Budget, kind: Kind, replacement: Replacement, at: int = 0) -> Decision:
    return Decision(kind, replacement, at, budget.sequence(replacement)[at])


def decide(budget: Budget, state: BudgetState) -> Decision:
    """What to do with the next token, given everything observed so far (pure)."""
    if state.forcing is not None:
        return _decision(budget, Kind.FORCE, state.forcing, state.at)
    if state.phase is not Phase.THINKING:
        return FREE
    if budget.max_tokens is not None and state.thinking_tokens >= budget.max_tokens:
        return _decision(budget, Kind.FORCE, Replacement.CLOSING)
    if _needs_more_thinking(budget, state):
        # The maximum wins: with no room left for a whole wait string, an attempt to end closes.
        fits = _room_for_a_wait(budget, state)
        return _decision(budget, Kind.GUARD, Replacement.WAIT if fits else Replacement.CLOSING)
    return _decision(budget, Kind.REDIRECT, Replacement.END) if budget.eos else FREE


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
        more = following < len(budget.sequence(decision.replacement))
        state.forcing, state.at = (decision.replacement, following) if more else (None, 0)
        if decision.at == 0:  # a replacement starts
            state.waits += decision.replacement is Replacement.WAIT
            state.forced_end |= decision.replacement is Replacement.CLOSING
    if state.phase is Phase.BEFORE:
        state.recent = [*state.recent, token][-len(budget.start) :]
        if tuple(state.recent) == budget.start:
            state.phase = Phase.THINKING
    elif state.phase is Phase.THINKING:
        if token == budget.end or token == budget.tool_open:  # (after the end, a forced closing may go on)
            state.phase = Phase.ANSWER
        else:
            state.thinking_tokens += 1
    return inserted


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
