"""Stop strings on budgeted requests: matched in the front end, never inside the text the budget inserted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from server.serving.stop_guard import StopGuard, guard_stops
from transformers import AutoTokenizer
from vllm import CompletionOutput, RequestOutput

from server.ops.settings import SHIPPED_MODEL
from server.thinking.budget import Budget
from server.thinking.formats import resolve_thinking_tokens
from server.thinking.spec import BudgetSpec, to_budget

TOKENIZER = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
THINKING = resolve_thinking_tokens(TOKENIZER)


def enc(text: str) -> list[int]:
    return TOKENIZER.encode(text, add_special_tokens=False)


def budget(min_waits: int = 0, max_tokens: int | None = None) -> Budget:
    return to_budget(BudgetSpec(0, max_tokens, min_waits, "Wait", "Final Answer:"), THINKING, TOKENIZER)


# What the engine emits under each budget (the prompt opened the thinking):
WAITED = enc("Quick guess: 46.\n") + enc("Wait") + enc(", let me add.\n2+4+0=6\n</think>\n\n46")  # forced Wait
CLOSED = enc("Quic") + enc("</think>\n\nFinal Answer:") + enc(" 46")  # maximum 4: closing forced


def deltas(tokens: list[int], size: int, index: int = 0) -> list[CompletionOutput]:
    """The engine's delta outputs, ``size`` tokens each, the last one finished by EOS."""
    chunks = [tokens[i : i + size] for i in range(0, len(tokens), size)]
    return [
        CompletionOutput(
            index, TOKENIZER.decode(chunk), chunk, None, None, finish_reason="stop" if i == len(chunks) - 1 else None
        )
        for i, chunk in enumerate(chunks)
    ]


def guarded_text(stops: tuple[str, ...], tokens: list[int], b: Budget, size: int = 1) -> tuple[str, list[int], str]:
    guard = StopGuard(stops, b, True, TOKENIZER, skip_special_tokens=True, n=1)
    text, kept, finish = "", [], ""
    for delta in deltas(tokens, size):
        out = guard.apply(delta)
        if out is None:
            break
        text, kept, finish = text + out.text, kept + list(out.token_ids), out.finish_reason or finish
    return text, kept, finish


@pytest.mark.parametrize("size", [1, 3])
def test_a_forced_wait_is_not_a_stop_but_the_model_s_own_text_is(size: int) -> None:
    whole = TOKENIZER.decode(WAITED)
    assert guarded_text(("Wait",), WAITED, budget(min_waits=1), size) == (whole, WAITED, "stop")
    assert guarded_text(("46.\nWa",), WAITED, budget(min_waits=1), size)[0] == whole  # straddles the forced Wait
    text, kept, finish = guarded_text((", let",), WAITED, budget(min_waits=1), size)
    assert (text, finish) == ("Quick guess: 46.\nWait", "stop")
    assert TOKENIZER.decode(kept).startswith(text + ", let") and len(kept) < len(WAITED)


@pytest.mark.parametrize("size", [1, 4])
def test_a_forced_closing_is_never_cut(size: int) -> None:
    whole = TOKENIZER.decode(CLOSED)
    assert guarded_text(("Final",), CLOSED, budget(max_tokens=4), size)[0] == whole
    assert guarded_text(("\n\n",), CLOSED, budget(max_tokens=4), size)[0] == whole
    assert guarded_text(("Answer: 4",), CLOSED, budget(max_tokens=4), size)[0] == whole
    assert guarded_text((" 46",), CLOSED, budget(max_tokens=4), size)[0] == "Quic</think>\n\nFinal Answer:"


def test_the_same_stop_string_in_the_model_s_text_stops_it() -> None:
    tokens = enc("Wait") + CLOSED  # here the model wrote "Wait" itself: no minimum is set
    assert guarded_text(("Wait",), tokens, budget(max_tokens=8)) == ("", enc("Wait"), "stop")


class Engine:
    """Delta outputs for ``n`` choices; records whether the stream was closed (the request aborted)."""

    def __init__(self, n: int, tokens: list[int]) -> None:
        self.n, self.tokens, self.closed = n, tokens, False

    async def generate(self) -> AsyncIterator[RequestOutput]:
        try:
            for step in zip(*(deltas(self.tokens, 1, i) for i in range(self.n)), strict=True):
                yield RequestOutput("r", None, [1], None, list(step), finished=step[0].finish_reason is not None)
        finally:
            self.closed = True


async def collect(engine: Engine, stops: tuple[str, ...]) -> dict[int, str]:
    guard = StopGuard(stops, budget(min_waits=1), True, TOKENIZER, skip_special_tokens=True, n=engine.n)
    texts: dict[int, str] = {}
    async for result in guard_stops(engine.generate(), guard):
        for output in result.outputs:
            texts[output.index] = texts.get(output.index, "") + output.text
    return texts


def test_the_engine_stream_is_closed_once_every_choice_stopped() -> None:
    engine = Engine(2, WAITED + enc(" and more text to come") * 5)
    texts = asyncio.run(collect(engine, ("2+4",)))
    assert texts == {0: "Quick guess: 46.\nWait, let me add.\n", 1: "Quick guess: 46.\nWait, let me add.\n"}
    assert engine.closed
