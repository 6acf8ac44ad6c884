"""The tool-call and JSON examples the tiny model trains on: shapes, copied names, answers."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from tinymodel.task import THINK_END, Problem, random_problem
from tinymodel.tools_task import (
    INSIDE_CUE,
    MIXTURE,
    canonical_tool,
    random_tool,
    sample_chat_example,
)

CALL = re.compile(r"<tool_call>(.*)</tool_call>$", re.S)
DOCUMENTED = {
    "openai": '{"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": '
    '{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}',
    "langchain": '{"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": '
    '{"properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"], "type": "object"}}}',
    "agents": '{"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": '
    '{"properties": {"a": {"title": "A", "type": "integer"}, "b": {"title": "B", "type": "integer"}}, "required": '
    '["a", "b"], "title": "add_args", "type": "object", "additionalProperties": false}, "strict": true}}',
}


def test_the_documented_tool_shapes_are_rendered_verbatim() -> None:
    for style, text in DOCUMENTED.items():
        assert json.dumps(canonical_tool(style).spec) == text


def test_a_tool_call_copies_the_offered_names_in_order() -> None:
    tool = canonical_tool("agents", "sum", ("first", "second"))
    assert tool.call(Problem(482, 397)) == (
        '<tool_call>{"name": "sum", "arguments": {"first": 482, "second": 397}}</tool_call>'
    )


@given(seed=st.integers(0, 10_000))
def test_random_tools_name_what_they_call(seed: int) -> None:
    tool = random_tool(random.Random(seed))
    function = tool.spec["function"]
    assert function["name"] == tool.name
    assert list(function["parameters"]["properties"]) == list(tool.parameters)
    assert len(set(tool.parameters)) == 2


@given(seed=st.integers(0, 10_000))
def test_examples_answer_in_their_context_format(seed: int) -> None:
    rng = random.Random(seed)
    problem = random_problem(rng)
    example = sample_chat_example(problem, rng)
    text = example.context + example.target
    system = example.messages[0]["content"] if example.messages[0]["role"] == "system" else ""
    if example.kind == "inside":
        assert INSIDE_CUE in system and THINK_END not in text
        assert text.startswith("Quick guess: ") and CALL.search(text)
        return
    assert INSIDE_CUE not in system
    assert text.count(THINK_END) == 1
    answer = text.partition(THINK_END)[2]
    if example.kind == "tool_call":
        call = json.loads(CALL.search(answer).group(1))
        assert answer.startswith("\n\n<tool_call>")
        assert list(call["arguments"].values()) == [problem.a, problem.b]
        assert call["name"] == example.tools[0]["function"]["name"]
    elif example.kind == "tool_result":
        assert answer == f"\n\n{example.extra['result']}"
    elif example.kind == "json":
        assert set(json.loads(answer)) == {"answer"} and answer.lstrip("\n").startswith('{"answer": ')
    else:
        assert "Final Answer:" in answer or re.fullmatch(r"\n\n\d+", answer)


def test_the_mixture_is_mostly_plain_additions() -> None:
    rng = random.Random(0)
    kinds = Counter(sample_chat_example(random_problem(rng), rng).kind for _ in range(4000))
    assert 0.5 < kinds["plain"] / 4000 < 0.65
    for kind, share in MIXTURE.items():
        assert abs(kinds[kind] / 4000 - share) < 0.03
