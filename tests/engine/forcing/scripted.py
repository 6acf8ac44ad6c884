"""What the kernel tests share: a small vocabulary, random budgets, a scripted model and vLLM-like sampling."""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from server.thinking.budget import Budget, BudgetState, decide
from server.thinking.edit import GREEDY_TEMPERATURE, edit
from server.thinking.plan import GenerationPlan

VOCAB, END, EOS = 24, 3, (1, 2)
START = (20, 21)
TOOL = 5  # the tool-call start token, in the budgets that have one (requests offering tools)
TOKENS = st.integers(0, VOCAB - 1)


@st.composite
def budgets(draw: st.DrawFn) -> Budget:
    """Any budget the rules accept: odd wait and closing strings (ends, EOS, tool calls inside) included."""
    eos = draw(st.sets(st.sampled_from(EOS)))
    max_tokens = draw(st.one_of(st.none(), st.integers(0, 14)))
    return Budget(
        end=END,
        eos=frozenset(eos),
        wait=tuple(draw(st.lists(TOKENS, min_size=1, max_size=3))),
        closing=(END, *draw(st.lists(TOKENS, max_size=3))),
        start=draw(st.sampled_from([(), START[:1], START])),
        min_tokens=draw(st.integers(0, 10)),
        max_tokens=max_tokens,
        min_waits=draw(st.integers(0, 3)),
        tool_open=draw(st.sampled_from([None, TOOL])),
    )


def extra_args(budget: Budget | None, opens: bool) -> dict | None:
    return GenerationPlan(budget, opens).to_extra_args()


def model_logits(rid: int, output: list[int], grammar: bool = True) -> torch.Tensor:
    """The 'model': float32 logits that are a function of the request and its own output only, never of its slot.

    It tries to end often (the end of thinking, EOS or the tool-call start gets a boost half of the time: the
    last ends the thinking where the budget has ``tool_open``, elsewhere it is a plain token) and masks a token
    now and then (as a grammar would, unless ``grammar`` is off), sometimes the one the budget wants."""
    generator = torch.Generator().manual_seed(hash((rid, len(output), tuple(output[-3:]))) % 2**63)
    logits = torch.randn(VOCAB, generator=generator) * 2
    pick = int(torch.randint(4, (1,), generator=generator))
    if pick < 2:
        logits[(END, *EOS, TOOL)[int(torch.randint(4, (1,), generator=generator))]] += 4.0
    elif pick == 2 and grammar:
        logits[torch.randint(VOCAB, (3,), generator=generator)] = -math.inf
    return logits


def sample(row: torch.Tensor, temperature: float, seed: int, position: int) -> int:
    """vLLM's sampling: the argmax when greedy, else a Gumbel-max draw keyed by (seed, position)."""
    if temperature < GREEDY_TEMPERATURE:
        return int(row.argmax())
    generator = torch.Generator().manual_seed(seed * 1_000_003 + position)
    gumbel = -torch.log(-torch.log(torch.rand(row.shape, generator=generator, dtype=torch.float64)))
    return int((row.double() / temperature + gumbel).argmax())


def pure_row(budget: Budget | None, state: BudgetState | None, row: torch.Tensor, temperature: float) -> torch.Tensor:
    """The row as :func:`server.thinking.edit.edit` leaves it (float64)."""
    out = row.double().clone()
    if budget is None or state is None:
        return out
    for token, value in edit(budget, decide(budget, state), row.tolist(), temperature).items():
        out[token] = value
    return out


def assert_same_row(kernel: torch.Tensor, pure: torch.Tensor) -> None:
    """Same masked entries; finite entries equal up to float32 rounding (forced ones are ~1e9)."""
    assert torch.equal(torch.isneginf(kernel), torch.isneginf(pure)), (kernel, pure)
    finite = ~torch.isneginf(pure)
    assert torch.allclose(kernel.double()[finite], pure[finite], rtol=1e-6, atol=1e-4), (kernel, pure)
