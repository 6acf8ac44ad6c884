"""What each output token is: thinking, the end delimiter, the budget's scaffolding, the answer, or special.

The serving layer feeds a choice's tokens as they come; the tracker replays the budget's
rules (:mod:`server.thinking.budget`) over them, so it knows the phase of every token and
which tokens the budget put in place. A request without a budget is tracked with an
unlimited one, which only follows the phases. Pure: no torch, no vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from server.thinking.budget import Budget, BudgetState, Phase, decide, initial_state, observe
from server.thinking.plan import GenerationPlan


class Role(Enum):
    THINKING = "thinking"  # the start delimiter, the thinking, forced waits
    END = "end"  # the end-of-thinking token (a tool call's start, which also ends the thinking, is the ANSWER's)
    SCAFFOLD = "scaffold"  # the rest of a forced closing: the delimiter's tail, separator, answer prefix
    SEPARATOR = "separator"  # blank lines before the answer (given by the serving layer, which sees the text)
    ANSWER = "answer"
    SPECIAL = "special"  # EOS and the tokenizer's other special tokens, outside the thinking


@dataclass(frozen=True, slots=True)
class TokenRole:
    role: Role
    inserted: bool  # the budget put this token in place (a wait string's or the closing's)


_ROLES = {(role, inserted): TokenRole(role, inserted) for role in Role for inserted in (False, True)}  # no allocation


@dataclass
class TokenTracker:
    """One choice's tokens, fed in order (``feed`` takes each step's new tokens)."""

    budget: Budget
    opens_thinking: bool
    special: frozenset[int]
    state: BudgetState = field(init=False)

    def __post_init__(self) -> None:
        self.state = initial_state(self.budget, self.opens_thinking)

    @classmethod
    def of(
        cls,
        plan: GenerationPlan,
        end: int,
        start: tuple[int, ...],
        special: frozenset[int],
        tool_open: int | None = None,
    ) -> TokenTracker:
        """The plan's budget, or, without one, a budget that never acts and only follows the phases.

        ``tool_open``: the tool-call start token, for a request without a budget that offers tools
        (a budget carries its own)."""
        budget = plan.budget or Budget(
            end=end, eos=frozenset(), wait=(end,), closing=(end,), start=start, tool_open=tool_open
        )
        return cls(budget, plan.opens_thinking, special)

    def feed(self, tokens: list[int]) -> list[TokenRole]:
        return [self._one(token) for token in tokens]

    def _one(self, token: int) -> TokenRole:
        phase = self.state.phase
        inserted = observe(self.budget, self.state, token, decide(self.budget, self.state))
        if phase is Phase.THINKING:
            role = Role.END if token == self.budget.end else Role.THINKING
            if token == self.budget.tool_open:  # ends the thinking and opens a tool call: the answer's
                role = Role.ANSWER
        elif phase is Phase.BEFORE and self.state.phase is Phase.THINKING:
            role = Role.THINKING  # the token that completed a generated start delimiter
        elif inserted:
            role = Role.SCAFFOLD
        else:
            role = Role.SPECIAL if token in self.special else Role.ANSWER
        return _ROLES[role, inserted]

    @property
    def forced_end(self) -> bool:
        return self.state.forced_end
