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
BOUNDARIES = frozenset({6, 7, 8})  # the tokens that end a line or a sentence (a graceful maximum reads them)
CYCLE = (10, 11, 12)  # what a looping request writes over and over (every third request: rid % 3 == 0)
# What a redoing request (rid % 4 == 3) writes, then it tries to end: after a wait it resumes the script, so its
# next attempt to end follows the same 16 tokens as the last (the loop guard's second rule: the same conclusion).
REDO = (0, 4, 6, 7, 8, 9, 10, 11, 12, 18, 19, 22, 23, 6, 9, 12, 19, END)  # none of the test's waits or closing


@st.composite
def budgets(draw: st.DrawFn) -> Budget:
    """Any budget the rules accept: odd wait and closing strings (ends, EOS, tool calls inside) included; rotating
    waits, a grace, a wrap-up and the loop guard on or off."""
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
        more_waits=tuple(draw(st.lists(st.lists(TOKENS, min_size=1, max_size=2).map(tuple), max_size=3))),
        end_grace=draw(st.sampled_from([0, 0, 1, 4])),
        wrapup=tuple(draw(st.lists(TOKENS, max_size=2))),
        loop_guard=draw(st.booleans()),
        boundaries=BOUNDARIES,
    )


def extra_args(budget: Budget | None, opens: bool) -> dict | None:
    return GenerationPlan(budget, opens).to_extra_args()


def model_logits(rid: int, output: list[int], grammar: bool = True) -> torch.Tensor:
    """The 'model': float32 logits that are a function of the request and its own output only, never of its slot.

    It tries to end often (the end of thinking, EOS or the tool-call start gets a boost half of the time: the
    last ends the thinking where the budget has ``tool_open``, elsewhere it is a plain token) and masks a token
    now and then (as a grammar would, unless ``grammar`` is off), sometimes the one the budget wants. Every third
    request loops: it favours ``CYCLE`` in turn, so the loop guard (31 tokens of it) has something to catch; every
    fourth from the third on redoes ``REDO`` (by its position in the output), concluding the same way each time."""
    generator = torch.Generator().manual_seed(hash((rid, len(output), tuple(output[-3:]))) % 2**63)
    logits = torch.randn(VOCAB, generator=generator) * 2
    if rid % 4 == 3:
        logits[REDO[len(output) % len(REDO)]] += 14.0
    elif rid % 3 == 0:
        logits[CYCLE[len(output) % len(CYCLE)]] += 14.0
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


class BoundaryTokenizer:
    """The engine's tokenizer as far as the boundary set goes: ``BOUNDARIES`` decode to ".", the rest to "a"."""

    def __len__(self) -> int:
        return VOCAB

    def batch_decode(self, ids: list[list[int]], **_: object) -> list[str]:
        return ["." if i in BOUNDARIES else "a" for [i] in ids]
