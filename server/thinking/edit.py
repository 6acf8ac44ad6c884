"""How a :class:`~server.thinking.budget.Decision` changes one row of logits: the contract the kernel is proven against.

Pure Python over a row of floats (slow, obvious, for tests and for reading); the
device kernel (:mod:`server.engine.forcing.kernel`) does the same for a whole batch.

- FORCE: the token's logit is raised by :data:`FORCED_LOGIT`, far above any other.
- GUARD / REDIRECT: the *stop* tokens (GUARD: end of thinking, the tool-call start if the
  budget has one, and EOS; REDIRECT: EOS)
  hand their probability to the replacement's token and are masked. At temperature
  ``T`` the token's new logit is ``T * logsumexp([x_token, x_stops...] / T)``, so
  ``p'(token) = p(token) + p(stops)`` and every other token keeps its probability:
  exactly "sample, and put the replacement in place of an end". Greedy (``T`` under
  :data:`GREEDY_TEMPERATURE`) takes the max instead: the token wins where a stop
  was the argmax, and the argmax is unchanged elsewhere.
- A token already at ``-inf`` (masked by a grammar or a ``logit_bias``) is never
  revived: the row is left as it is, and the rules force it again at the next step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from server.thinking.budget import Budget, Decision, Kind

FORCED_LOGIT = 1e9  # added to a forced token's logit: float32 logits stay far below it
GREEDY_TEMPERATURE = 1e-5  # vLLM's threshold below which a temperature means greedy


def stops(budget: Budget, decision: Decision) -> tuple[int, ...]:
    """The tokens a GUARD or REDIRECT takes the place of."""
    if decision.kind is Kind.GUARD:
        tool_open = () if budget.tool_open is None else (budget.tool_open,)
        return (budget.end, *tool_open, *sorted(budget.eos))
    return tuple(sorted(budget.eos)) if decision.kind is Kind.REDIRECT else ()


def pooled(values: Sequence[float], temperature: float) -> float:
    """The logit that carries the probability of ``values`` together at ``temperature``."""
    if temperature < GREEDY_TEMPERATURE:
        return max(values)
    top = max(values)
    if top == -math.inf:
        return top
    return top + temperature * math.log(sum(math.exp((v - top) / temperature) for v in values))


def edit(budget: Budget, decision: Decision, row: Sequence[float], temperature: float) -> dict[int, float]:
    """The entries of ``row`` that ``decision`` changes, with their new values."""
    if decision.kind is Kind.FREE or row[decision.token] == -math.inf:
        return {}
    target = decision.token
    if decision.kind is Kind.FORCE:
        return {target: row[target] + FORCED_LOGIT}
    replaced = [s for s in dict.fromkeys(stops(budget, decision)) if s != target]
    changes = dict.fromkeys(replaced, -math.inf)
    changes[target] = pooled([row[target], *(row[s] for s in replaced)], temperature)
    return changes
