"""A tool call opened inside the thinking ends it (``Budget.tool_open``): the pure rules, the edit, the plan.

Models such as Qwen3.5 open a tool call inside their thinking without writing the end token; a maximum
that then forced the end token would put it inside the call's arguments (vLLM #44676).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.thinking.budget import (
    FREE,
    Budget,
    Kind,
    Phase,
    Replacement,
    decide,
    initial_state,
    observe,
    replay,
    summarize,
)
from server.thinking.edit import edit, stops
from server.thinking.plan import KEY, GenerationPlan
from tests.thinking.test_budget import (
    ANSWER,
    COMMA,
    END,
    EOS,
    VOCAB,
    WAIT,
    Model,
    apply_decision,
    budgets,
    hook_decode,
    make_budget,
)

TOOL = 9  # the tool-call start token
PLAIN = 6  # a token no rule knows
TOOL_VOCAB = (*VOCAB, TOOL)


def tool_budget(**kwargs) -> Budget:  # type: ignore[no-untyped-def]
    return replace(make_budget(**kwargs), tool_open=TOOL)


def run(budget: Budget, tokens: list[int]) -> list:  # type: ignore[type-arg]
    """The decision before each token, observing the tokens as they are (the prompt opened the thinking)."""
    state, decisions = initial_state(budget, prompt_opens_thinking=True), []
    for token in tokens:
        decisions.append(decide(budget, state))
        observe(budget, state, token, decisions[-1])
    return [*decisions, decide(budget, state)]


def test_a_tool_call_ends_the_thinking_and_nothing_is_forced_after_it() -> None:
    budget = tool_budget(max_tokens=3)
    state = summarize(budget, True, [PLAIN, 7, TOOL])
    assert state.phase is Phase.ANSWER and state.thinking_tokens == 2
    tokens = [PLAIN] * 10 + [END, 7, EOS]  # far past the maximum: the call's arguments, then more
    assert run(budget, [PLAIN, 7, TOOL, *tokens])[3:] == [FREE] * (len(tokens) + 1)
    state = summarize(budget, True, [PLAIN, 7, TOOL, *tokens])
    assert state.thinking_tokens == 2 and state.waits == 0 and not state.forced_end


def test_a_tool_call_that_comes_out_instead_of_a_forced_end_still_ends_the_thinking() -> None:
    # At the maximum the closing is forced; a grammar masked the end token and the tool call came out.
    budget = tool_budget(max_tokens=2)
    decisions = run(budget, [PLAIN, 7, TOOL, PLAIN, PLAIN])
    assert decisions[2].kind is Kind.FORCE and decisions[2].token == END
    assert decisions[3:] == [FREE] * 3
    state = summarize(budget, True, [PLAIN, 7, TOOL])
    assert state.phase is Phase.ANSWER and state.thinking_tokens == 2 and not state.forced_end


def test_below_the_minimum_a_tool_call_becomes_a_wait() -> None:
    calls_a_tool = Model({k: TOOL for k in range(11)}, 0, TOOL_VOCAB)
    out, state, _ = hook_decode(calls_a_tool, tool_budget(min_waits=2), 10)
    assert out[:3] == [WAIT, WAIT, TOOL] and state.waits == 2
    assert state.phase is Phase.ANSWER and state.thinking_tokens == 2
    out, state, _ = hook_decode(calls_a_tool, tool_budget(min_tokens=3, wait=(WAIT, COMMA)), 10)
    assert out[:5] == [WAIT, COMMA, WAIT, COMMA, TOOL] and state.thinking_tokens == 4


def test_below_the_minimum_with_no_room_for_a_wait_a_tool_call_closes() -> None:
    budget = tool_budget(min_tokens=5, max_tokens=5, wait=(WAIT, COMMA))
    decision = replay(budget, initial_state(budget, True), [PLAIN] * 4)
    assert decision.kind is Kind.GUARD and decision.replacement is Replacement.CLOSING
    assert apply_decision(decision, TOOL, budget) == END


@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_a_guard_hands_the_tool_call_s_probability_to_the_wait(temperature: float) -> None:
    budget = tool_budget(min_waits=1)
    decision = decide(budget, initial_state(budget, True))
    assert decision.kind is Kind.GUARD and stops(budget, decision) == (END, TOOL, EOS)
    row = [0.5 * i for i in range(len(TOOL_VOCAB) + 1)]
    row[TOOL] = 6.0  # the model would open a tool call
    changes = edit(budget, decision, row, temperature)
    assert {token for token, value in changes.items() if value == -math.inf} == {END, TOOL, EOS}
    edited = [changes.get(i, x) for i, x in enumerate(row)]
    if temperature == 0.0:
        assert max(range(len(edited)), key=edited.__getitem__) == WAIT
    else:
        before, after = softmax(row, temperature), softmax(edited, temperature)
        assert after[WAIT] == pytest.approx(before[WAIT] + before[END] + before[TOOL] + before[EOS])
        assert after[PLAIN] == pytest.approx(before[PLAIN])


def softmax(row: list[float], temperature: float) -> list[float]:
    weights = [math.exp(x / temperature) if x > -math.inf else 0.0 for x in row]
    return [w / sum(weights) for w in weights]


def test_a_redirect_leaves_a_tool_call_alone() -> None:
    budget = tool_budget(max_tokens=50)  # no minimum: only EOS is redirected to the end
    decision = decide(budget, initial_state(budget, True))
    assert decision.kind is Kind.REDIRECT and stops(budget, decision) == (EOS,)
    assert TOOL not in edit(budget, decision, [1.0] * len(TOOL_VOCAB) + [9.0], 0.0)
    assert apply_decision(decision, TOOL, budget) == TOOL


def test_tool_open_must_be_neither_the_end_nor_eos() -> None:
    for token in (END, EOS):
        with pytest.raises(ValueError, match="tool-call start"):
            replace(make_budget(), tool_open=token)


tool_models = st.builds(
    Model, st.dictionaries(st.integers(0, 10), st.sampled_from(TOOL_VOCAB), max_size=6), st.integers(0, 10**6),
    st.just(TOOL_VOCAB),
)  # fmt: skip
streams = st.lists(st.sampled_from(TOOL_VOCAB), max_size=60)


@settings(max_examples=300)
@given(budget=budgets, tokens=streams)
def test_without_tool_open_a_tool_call_is_a_plain_token(budget: Budget, tokens: list[int]) -> None:
    """tool_open None changes nothing: the tool-call token behaves as any token no rule knows."""
    plain = [PLAIN if token == TOOL else token for token in tokens]
    assert run(budget, tokens) == run(budget, plain)
    assert summarize(budget, True, tokens) == summarize(budget, True, plain)
    assert all(TOOL not in stops(budget, d) for d in run(budget, tokens))


@settings(max_examples=300)
@given(model=tool_models, budget=budgets, max_tokens=st.integers(1, 120))
def test_a_tool_call_ends_the_thinking_only_once_the_minimum_holds(
    model: Model, budget: Budget, max_tokens: int
) -> None:
    budget = replace(budget, tool_open=TOOL)
    out, state, _ = hook_decode(model, budget, max_tokens)
    if budget.max_tokens is not None:
        assert state.thinking_tokens <= budget.max_tokens
    ends = [i for i, token in enumerate(out) if token in (END, TOOL)]
    if ends and out[ends[0]] == TOOL:  # the tool call ended the thinking: the minimum held, nothing forced since
        assert state.thinking_tokens == ends[0] and not state.forced_end
        assert state.thinking_tokens >= budget.min_tokens and state.waits >= budget.min_waits
        assert run(budget, out)[ends[0] + 1 :] == [FREE] * (len(out) - ends[0])
    untooled = replace(budget, tool_open=None)  # the same until a tool call gets through
    cut = ends[0] if ends and out[ends[0]] == TOOL else len(out)
    assert run(untooled, out[:cut]) == run(budget, out[:cut])


def test_the_plan_carries_tool_open_and_reads_older_plans_without_it() -> None:
    with_tools = GenerationPlan(tool_budget(max_tokens=9), opens_thinking=True)
    args = json.loads(json.dumps(with_tools.to_extra_args()))
    assert args[KEY]["tool_open"] == TOOL and GenerationPlan.from_extra_args(args) == with_tools
    without = GenerationPlan(make_budget(min_waits=1), opens_thinking=False)
    args = json.loads(json.dumps(without.to_extra_args()))
    assert args[KEY]["tool_open"] is None and GenerationPlan.from_extra_args(args) == without
    del args[KEY]["tool_open"]  # a plan made before tool_open existed
    assert GenerationPlan.from_extra_args(args) == without
    with pytest.raises(ValueError):
        GenerationPlan.from_extra_args({KEY: {**args[KEY], "tool_open": END}})


def test_a_tool_call_in_the_answer_changes_nothing() -> None:
    budget = tool_budget(max_tokens=1)  # a forced closing, then a tool call in the answer
    tokens = [PLAIN, END, ANSWER, TOOL, PLAIN]
    assert run(budget, tokens)[3:] == [FREE] * 3
    assert summarize(budget, True, tokens) == summarize(replace(budget, tool_open=None), True, tokens)
