"""One choice on its way out: stop strings that never cut forced text, the split, logprobs by role."""

from __future__ import annotations

from itertools import pairwise

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from server.engine.types import ChoiceOutput, TokenLogprob
from server.ops.settings import SHIPPED_MODEL
from server.serving.choice import ChoiceOptions, ChoiceTrack, Position, Step
from server.thinking.budget import Budget, Kind, decide
from server.thinking.plan import GenerationPlan
from server.thinking.spec import BudgetSpec, to_budget
from server.thinking.tokens import resolve_thinking_tokens
from server.thinking.tracker import TokenTracker
from tests.fakes import FakeEngine

TOKENIZER = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
THINKING = resolve_thinking_tokens(TOKENIZER)
SPECIAL = frozenset(TOKENIZER.all_special_ids)
EOS = TOKENIZER.eos_token_id


def enc(text: str) -> list[int]:
    return TOKENIZER.encode(text, add_special_tokens=False)


def budget(min_waits: int = 0, max_tokens: int | None = None) -> Budget:
    return to_budget(BudgetSpec(0, max_tokens, min_waits, "Wait", "Final Answer:"), THINKING, TOKENIZER)


# What the engine emits under each budget (the prompt opened the thinking), EOS last:
WAITED_THINKING = enc("Quick guess: 46.\n") + enc("Wait") + enc(", let me add.\n2+4+0=6\n")  # forced Wait
WAITED = [*WAITED_THINKING, *enc("</think>\n\n46"), EOS]
CLOSED = [*enc("Quic"), *enc("</think>\n\nFinal Answer:"), *enc(" 46"), EOS]  # maximum 4: closing forced


def track(b: Budget | None, opens: bool = True, **options) -> ChoiceTrack:  # type: ignore[no-untyped-def]
    tracker = TokenTracker.of(GenerationPlan(b, opens_thinking=opens), THINKING.end, THINKING.start, SPECIAL)
    return ChoiceTrack.create(tracker, THINKING.format.delimiters, ChoiceOptions(**options), TOKENIZER)


def deltas(tokens: list[int], cuts: list[int]) -> list[ChoiceOutput]:
    """The engine's delta outputs, cut before each of ``cuts``; the last one finished (by EOS, or the limit)."""
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(tokens)}), len(tokens)]
    chunks = [tokens[a:b] for a, b in pairwise(bounds)]
    return [
        ChoiceOutput(
            0, TOKENIZER.decode(chunk, skip_special_tokens=True), chunk, [{t: TokenLogprob(-0.5, 1)} for t in chunk],
            finish_reason=("stop" if chunk[-1] == EOS else "length") if i == len(chunks) - 1 else None,
        )
        for i, chunk in enumerate(chunks)
    ]  # fmt: skip


def run(choice: ChoiceTrack, tokens: list[int], size: int = 1, cuts: list[int] | None = None) -> Step:
    """The choice's steps joined, the tokens fed ``size`` per delta (or cut before each of ``cuts``)."""
    whole = Step()
    for output in deltas(tokens, list(range(size, len(tokens), size)) if cuts is None else cuts):
        step = choice.feed(output)
        if step is None:
            break
        whole.extend(step)
    return whole


def ids(positions: list[Position] | None) -> list[int]:
    return [token for token, _ in positions or []]


def cut(stops: tuple[str, ...], tokens: list[int], b: Budget, size: int = 1, **options) -> tuple[str, list[int], str]:  # type: ignore[no-untyped-def]
    """(text, tokens kept, finish_reason) under ``stops``."""
    step = run(track(b, stops=stops, **options), tokens, size)
    return step.text, ids(step.text_logprobs), step.finish_reason or ""


def whole(tokens: list[int]) -> str:
    return TOKENIZER.decode(tokens, skip_special_tokens=True)


# Stop strings where they may match in the thinking too (``stop_in_thinking``, the old behaviour).


@pytest.mark.parametrize("size", [1, 3])
def test_a_forced_wait_is_not_a_stop_even_in_an_open_thinking(size: int) -> None:
    b, kept = budget(min_waits=1), WAITED[:-1]  # EOS has no text logprobs
    assert cut(("Wait",), WAITED, b, size, stop_in_thinking=True) == (whole(WAITED), kept, "stop")
    assert cut(("46.\nWa",), WAITED, b, size, stop_in_thinking=True)[0] == whole(WAITED)  # straddles the Wait


@pytest.mark.parametrize("size", [1, 3])
def test_a_cut_keeps_the_tokens_up_to_the_one_completing_the_match(size: int) -> None:
    step = run(track(budget(min_waits=1), stops=(", let",), stop_in_thinking=True), WAITED, size)
    assert (step.text, step.reasoning, step.content) == ("Quick guess: 46.\nWait", "Quick guess: 46.\nWait", "")
    assert (step.finish_reason, step.stop_reason) == ("stop", ", let")
    assert ids(step.text_logprobs) == WAITED_THINKING[: len(enc("Quick guess: 46.\nWait, let"))]  # as vLLM


@pytest.mark.parametrize("size", [1, 4])
@pytest.mark.parametrize("stop_in_thinking", [False, True])
def test_a_forced_closing_is_never_cut(size: int, stop_in_thinking: bool) -> None:
    b = budget(max_tokens=4)
    for stop in ("Final", "\n\n", "Answer: 4", "</think>"):
        assert cut((stop,), CLOSED, b, size, stop_in_thinking=stop_in_thinking)[0] == whole(CLOSED)
    text = cut((" 46",), CLOSED, b, size, stop_in_thinking=stop_in_thinking)[0]
    assert text == "Quic</think>\n\nFinal Answer:"


@pytest.mark.parametrize("size", [1, 4])
def test_an_included_stop_string_stays_but_still_never_matches_forced_text(size: int) -> None:
    b = budget(max_tokens=4)
    for stop in ("Final", "Answer: 4", "</think>"):  # inside the forced closing: no match, included or not
        assert cut((stop,), CLOSED, b, size, include_stop=True)[0] == whole(CLOSED)
    text, kept, finish = cut(("4",), CLOSED, b, size, include_stop=True)
    assert (text, kept, finish) == (
        "Quic</think>\n\nFinal Answer: 4",
        CLOSED[: len(enc("Quic</think>\n\nFinal Answer: 4"))],
        "stop",
    )
    step = run(track(b, stops=("4",), include_stop=True, drop_answer_prefix="Final Answer:"), CLOSED, size)
    assert (step.reasoning, step.content, step.stop_reason) == ("Quic", "4", "4")


def test_the_model_s_own_text_in_the_thinking_stops_only_when_asked() -> None:
    tokens = enc("Wait") + CLOSED  # the model wrote "Wait" itself: no minimum is set
    assert cut(("Wait",), tokens, budget(max_tokens=8), stop_in_thinking=True) == ("", enc("Wait"), "stop")
    assert cut(("Wait",), tokens, budget(max_tokens=8)) == (whole(tokens), tokens[:-1], "stop")  # EOS finished it


# Stop strings on the answer only (the default).

OWN_END = [*enc("a\nb\n</think>\n\n46\nmore"), EOS]  # newlines in the thinking, the separator, the answer


@pytest.mark.parametrize("size", [1, 3])
def test_the_model_s_own_wait_in_the_answer_is_cut(size: int) -> None:
    tokens = [*WAITED_THINKING, *enc("</think>\n\n46. Wait, 46."), EOS]
    step = run(track(budget(min_waits=1), stops=("Wait",)), tokens, size)
    assert (step.reasoning, step.content, step.stop_reason) == (whole(WAITED_THINKING), "46. ", "Wait")


@pytest.mark.parametrize("size", [1, 3])
def test_a_stop_string_only_in_the_thinking_does_not_stop(size: int) -> None:
    step = run(track(budget(max_tokens=50), stops=("add",)), WAITED, size)
    assert (step.content, step.finish_reason, step.stop_reason) == ("46", "stop", None)  # finished by EOS


@pytest.mark.parametrize("size", [1, 3])
def test_a_newline_stop_cuts_the_answer_not_the_thinking_nor_the_separator(size: int) -> None:
    # The blank lines after </think> are no part of the answer: a match there would leave no answer at all.
    step = run(track(budget(max_tokens=50), stops=("\n",)), OWN_END, size)
    assert (step.reasoning, step.content, step.finish_reason, step.stop_reason) == ("a\nb\n", "46", "stop", "\n")


@pytest.mark.parametrize("size", [1, 3])
def test_a_newline_stop_in_an_open_thinking_cuts_it(size: int) -> None:
    step = run(track(budget(max_tokens=50), stops=("\n",), stop_in_thinking=True), OWN_END, size)
    assert (step.reasoning, step.content, step.stop_reason) == ("a", "", "\n")
    assert ids(step.reasoning_logprobs) == enc("a\n")  # the token that completed the match stays


# The forced answer prefix.


@pytest.mark.parametrize("size", [1, 3])
def test_a_dropped_prefix_is_not_in_the_content(size: int) -> None:
    step = run(track(budget(max_tokens=4), drop_answer_prefix="Final Answer:"), CLOSED, size)
    assert (step.reasoning, step.content) == ("Quic", "46")
    assert step.text == whole(CLOSED)  # the raw text keeps everything


@pytest.mark.parametrize("size", [1, 3])
def test_a_kept_prefix_is_in_the_content(size: int) -> None:
    assert run(track(budget(max_tokens=4)), CLOSED, size).content == "Final Answer: 46"


def test_the_prefix_is_dropped_only_when_the_budget_forced_it() -> None:
    tokens = [*enc("ab</think>\n\nFinal Answer: 46"), EOS]  # the model's own closing, under the maximum
    assert run(track(budget(max_tokens=50), drop_answer_prefix="Final Answer:"), tokens).content == "Final Answer: 46"


# Logprobs by role, and the counts.


def test_logprobs_split_into_thinking_and_answer() -> None:
    step = run(track(budget(min_waits=1)), WAITED)
    assert ids(step.reasoning_logprobs) == WAITED_THINKING  # the forced Wait included
    assert ids(step.answer_logprobs) == enc("46")  # no </think>, no separator, no EOS
    assert ids(step.text_logprobs) == WAITED[:-1]


def test_a_dropped_prefix_has_no_answer_logprobs() -> None:
    step = run(track(budget(max_tokens=4), drop_answer_prefix="Final Answer:"), CLOSED)
    assert ids(step.reasoning_logprobs) == enc("Quic")
    assert ids(step.answer_logprobs) == enc(" 46")  # the model's own tokens after the forced prefix


def test_a_kept_prefix_has_answer_logprobs_but_not_the_separator() -> None:
    step = run(track(budget(max_tokens=4)), CLOSED)
    assert ids(step.answer_logprobs) == enc("Final Answer: 46")  # as the content: no "\n\n" before it


def test_reasoning_tokens_and_token_count() -> None:
    choice = track(budget(min_waits=1))
    run(choice, WAITED)
    assert (choice.reasoning_tokens, choice.token_count) == (len(WAITED_THINKING), len(WAITED))
    stopped = track(budget(min_waits=1), stops=("2+4",), stop_in_thinking=True)
    run(stopped, WAITED)
    assert stopped.token_count == len(enc("Quick guess: 46.\nWait, let me add.\n2+4")) == stopped.reasoning_tokens


def test_a_start_the_model_writes_is_a_reasoning_token() -> None:
    choice = track(budget(max_tokens=50), opens=False)
    step = run(choice, [*enc("<think>ab</think>c"), EOS])
    assert (step.reasoning, step.content, choice.reasoning_tokens) == ("ab", "c", 3)


# Any chunking of the same tokens gives the same choice.

VOCAB = [*enc("a:F\n W"), THINKING.end, *THINKING.start, EOS, *budget().wait]


@settings(max_examples=60, deadline=None)
@given(
    max_tokens=st.one_of(st.none(), st.integers(0, 6)),
    min_waits=st.integers(0, 2),
    proposals=st.lists(st.sampled_from(VOCAB), min_size=1, max_size=24),
    stops=st.lists(st.sampled_from(["a", "\n", "W", "ait", "F", ": "]), max_size=2).map(tuple),
    stop_in_thinking=st.booleans(),
    drop=st.booleans(),
    cuts=st.lists(st.integers(1, 30)),
)
def test_any_chunking_gives_the_same_choice(  # type: ignore[no-untyped-def]
    max_tokens, min_waits, proposals, stops, stop_in_thinking, drop, cuts
) -> None:
    b = budget(min_waits, max_tokens)
    tokens = obeying(b, proposals)
    options = {"stops": stops, "stop_in_thinking": stop_in_thinking, "drop_answer_prefix": "Final Answer:" * drop}

    def joined(cuts: list[int]) -> tuple:  # type: ignore[type-arg]
        choice = track(b, **options)
        s = run(choice, tokens, cuts=cuts)
        logprobs = [ids(s.reasoning_logprobs), ids(s.answer_logprobs), ids(s.text_logprobs)]
        return s.text, s.reasoning, s.content, logprobs, s.finish_reason, s.stop_reason, choice.token_count

    assert joined(cuts) == joined([])


def obeying(b: Budget, proposals: list[int]) -> list[int]:
    """The tokens a logits processor applying ``b`` lets through when the model proposes ``proposals``."""
    tokens, probe = [], TokenTracker(b, True, SPECIAL)
    for proposal in proposals:
        decision, token = decide(b, probe.state), proposal
        if decision.kind is Kind.FORCE or (decision.kind is Kind.GUARD and proposal in {b.end, *b.eos}):
            token = decision.token
        elif decision.kind is Kind.REDIRECT and proposal in b.eos:
            token = decision.token
        tokens.append(token)
        probe.feed([token])
    return tokens


def test_the_engine_request_is_aborted_once_every_choice_stopped(client: TestClient, engine: FakeEngine) -> None:
    request = {
        "messages": [{"role": "user", "content": "12 + 34?"}], "n": 2, "stop": ["2+4"], "stop_in_thinking": True,
        "max_thinking_tokens": 500,  # a budget: the front end matches the stop strings
    }  # fmt: skip
    body = client.post("/v1/chat/completions", json=request).json()
    thinking = "Quick guess: 46.\nWait, let me add column by column.\n"  # cut before "2+4" (tests.fakes.SCRIPT)
    assert [c["message"]["reasoning_content"] for c in body["choices"]] == [thinking] * 2
    assert len(engine.aborted) == 1 and not engine.finished
