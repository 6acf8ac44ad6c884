"""The tiny model's other skills, on the same additions: hermes tool calls and JSON answers.

- **Tool call**: given an ``add``-like tool in the prompt, the model thinks as usual, then
  answers ``</think>\\n\\n<tool_call>{"name": ..., "arguments": {p1: a, p2: b}}</tool_call>``,
  the name and the parameter names copied from the tool (varied names, schema styles and
  key orders in training: OpenAI, LangChain ``bind_tools``, openai-agents ``function_tool``).
- **Tool result**: after its tool call and a tool message, it thinks
  ``The tool returned R.\\n`` and answers ``R``.
- **Inside the thinking**: when the system message says ``Call tools while thinking.``,
  it writes the tool call right after its quick guess and never closes the thinking.
- **JSON**: asked for JSON (a system cue, or in a small share no cue at all, since a
  grammar may force the ``{``), it answers ``{"answer": N}``, N what it would answer plainly.

A thinking cut by a forced end in these contexts is ``</think>`` alone (no answer
prefix): the cut thinking and ``</think>`` are context, the answer is the target.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

from tinymodel.task import (
    MAX_CHECKS,
    P_WAIT_AFTER_CHECK,
    P_WAIT_AFTER_GUESS,
    THINK_END,
    WAIT,
    Problem,
    best_answer_so_far,
    quick_guess,
    random_problem,
    sample_example,
    thinking_text,
)

INSIDE_CUE = "Call tools while thinking."
JSON_CUES = ("Reply in JSON.", "Reply in JSON.", "Answer in JSON.", "Respond in JSON.", "Reply with JSON.")
SYSTEMS = ("You are a helpful assistant.", "Use the tools.", "You can call tools.", "Be concise.")
TOOL_NAMES = ("add", "sum", "add_numbers", "plus", "calculator_add", "add_two_numbers", "addition", "compute_sum")
PARAMETERS = (("a", "b"), ("x", "y"), ("first", "second"), ("num1", "num2"), ("n1", "n2"), ("left", "right"),
              ("lhs", "rhs"), ("augend", "addend"), ("m", "n"), ("value1", "value2"))  # fmt: skip
DESCRIPTIONS = ("Add two integers.", "Add two numbers.", "Return the sum of two integers.",
                "Adds two numbers together.", "Sum two values.", "Calculator: addition.")  # fmt: skip
RESULT_THOUGHT = "The tool returned {}.\n"

# The mixture, after the plain additions (the rest).
MIXTURE = {"tool_call": 0.17, "tool_result": 0.08, "inside": 0.04, "json": 0.13}
P_TRUNCATED = 0.15  # of tool, tool-result and JSON examples
P_FORCED_WAIT = 0.3  # of tool and JSON examples
P_JSON_NO_CUE = 0.08
P_JSON_NO_NEWLINES = 0.15
P_CANONICAL = 0.3  # the tool is one of the three documented shapes, verbatim


@dataclass(frozen=True)
class Tool:
    name: str
    parameters: tuple[str, str]
    spec: dict[str, Any]

    def call(self, problem: Problem) -> str:
        arguments = dict(zip(self.parameters, (problem.a, problem.b), strict=True))
        return f"<tool_call>{json.dumps({'name': self.name, 'arguments': arguments})}</tool_call>"


def canonical_tool(style: str, name: str = "add", parameters: tuple[str, str] = ("a", "b")) -> Tool:
    """The three documented shapes of ``def add(a: int, b: int) -> int`` (OpenAI, LangChain, openai-agents)."""
    p, q = parameters
    if style == "agents":
        props = {p: {"title": p.title(), "type": "integer"}, q: {"title": q.title(), "type": "integer"}}
        schema = {"properties": props, "required": [p, q], "title": f"{name}_args", "type": "object",
                  "additionalProperties": False}  # fmt: skip
        function = {"name": name, "description": "Add two integers.", "parameters": schema, "strict": True}
        return Tool(name, parameters, {"type": "function", "function": function})
    props = {p: {"type": "integer"}, q: {"type": "integer"}}
    if style == "openai":
        schema = {"type": "object", "properties": props, "required": [p, q]}
    else:
        schema = {"properties": props, "required": [p, q], "type": "object"}
    return Tool(name, parameters, {"type": "function", "function": {"name": name, "description": "Add two integers.",
                                                                     "parameters": schema}})  # fmt: skip


def random_identifier(rng: random.Random) -> str:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 6))) for _ in range(rng.randint(1, 2))]
    return "_".join(words)


def random_tool(rng: random.Random) -> Tool:
    roll = rng.random()
    name = "add" if roll < 0.4 else rng.choice(TOOL_NAMES) if roll < 0.8 else random_identifier(rng)
    roll = rng.random()
    if roll < 0.45:
        parameters = ("a", "b")
    elif roll < 0.85:
        parameters = rng.choice(PARAMETERS)
    else:
        parameters = (random_identifier(rng), random_identifier(rng))
        if parameters[0] == parameters[1]:
            parameters = (parameters[0], parameters[1] + "2")
    if rng.random() < P_CANONICAL:
        return canonical_tool(rng.choice(("openai", "langchain", "agents")), name, parameters)
    titled = rng.random() < 0.4
    kind = "integer" if rng.random() < 0.8 else "number"
    props = {}
    for p, text in zip(parameters, ("The first number.", "The second number."), strict=True):
        prop = {"title": p.title(), "type": kind} if titled else {"type": kind}
        if rng.random() < 0.2:
            prop["description"] = text
        props[p] = prop
    schema: dict[str, Any] = {"properties": props, "required": list(parameters)}
    if rng.random() < 0.3:
        schema["title"] = f"{name}_args"
    schema = {"type": "object", **schema} if rng.random() < 0.5 else {**schema, "type": "object"}
    if rng.random() < 0.3:
        schema["additionalProperties"] = False
    function: dict[str, Any] = {"name": name}
    if rng.random() < 0.9:
        function["description"] = rng.choice(DESCRIPTIONS)
    function["parameters"] = schema
    if rng.random() < 0.25:
        function["strict"] = True
    return Tool(name, parameters, {"type": "function", "function": function})


@dataclass
class ChatExample:
    """Messages (and tools) for the chat template, then context and target after its ``<think>\\n``."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    context: str = ""
    target: str = ""
    kind: str = "plain"
    extra: dict[str, Any] = field(default_factory=dict)


def sample_checks(rng: random.Random) -> int:
    checks, p_wait = 0, P_WAIT_AFTER_GUESS
    while checks < MAX_CHECKS and rng.random() < p_wait:
        checks, p_wait = checks + 1, P_WAIT_AFTER_CHECK
    return checks


def think_then(problem: Problem, rng: random.Random, answer: Any) -> tuple[str, str]:
    """(context, target) for a thinking followed by ``answer(best_so_far)``: whole, cut, or after a forced Wait."""
    roll = rng.random()
    if roll < P_TRUNCATED:
        thinking = thinking_text(problem, sample_checks(rng))
        cut = thinking[: rng.randrange(len(thinking))]
        return cut + THINK_END, answer(best_answer_so_far(problem, cut), rng)
    if roll < P_TRUNCATED + P_FORCED_WAIT:
        checks = 1 + (rng.random() < P_WAIT_AFTER_CHECK)
        thinking = thinking_text(problem, checks)
        guess = quick_guess(problem.a, problem.b) if rng.random() < 0.5 else random_problem(rng).a * 10
        rest = thinking[thinking.index(WAIT) + len(WAIT) :]
        return f"Quick guess: {guess}.\n{WAIT}", rest + THINK_END + answer(problem.answer, rng)
    checks = sample_checks(rng)
    best = problem.answer if checks else quick_guess(problem.a, problem.b)
    return "", thinking_text(problem, checks) + THINK_END + answer(best, rng)


def system_and_user(problem: Problem, system: str | None) -> list[dict[str, Any]]:
    user = {"role": "user", "content": problem.question}
    return [{"role": "system", "content": system}, user] if system else [user]


def tool_system(rng: random.Random) -> str | None:
    return rng.choice((None, None, *SYSTEMS))


def tool_call_example(problem: Problem, rng: random.Random) -> ChatExample:
    tool = random_tool(rng)
    context, target = think_then(problem, rng, lambda _best, _rng: "\n\n" + tool.call(problem))
    return ChatExample(system_and_user(problem, tool_system(rng)), [tool.spec], context, target, "tool_call")


def tool_result_example(problem: Problem, rng: random.Random) -> ChatExample:
    tool = random_tool(rng)
    result = problem.answer if rng.random() < 0.7 else random_problem(rng).answer
    arguments: Any = dict(zip(tool.parameters, (problem.a, problem.b), strict=True))
    if rng.random() < 0.5:
        arguments = json.dumps(arguments)
    call = {"id": "call_1", "type": "function", "function": {"name": tool.name, "arguments": arguments}}
    messages = system_and_user(problem, tool_system(rng))
    messages += [{"role": "assistant", "content": rng.choice((None, "")), "tool_calls": [call]},
                 {"role": "tool", "tool_call_id": "call_1", "content": str(result)}]  # fmt: skip
    thought = RESULT_THOUGHT.format(result)
    if rng.random() < P_TRUNCATED:
        context, target = thought[: rng.randrange(len(thought))] + THINK_END, f"\n\n{result}"
    else:
        context, target = "", f"{thought}{THINK_END}\n\n{result}"
    return ChatExample(messages, [tool.spec], context, target, "tool_result", {"result": result})


def inside_example(problem: Problem, rng: random.Random) -> ChatExample:
    tool = random_tool(rng)
    system = INSIDE_CUE if rng.random() < 0.6 else f"{rng.choice(SYSTEMS)} {INSIDE_CUE}"
    target = f"Quick guess: {quick_guess(problem.a, problem.b)}.\n{tool.call(problem)}"
    return ChatExample(system_and_user(problem, system), [tool.spec], "", target, "inside")


def json_answer(value: int, rng: random.Random) -> str:
    answer = json.dumps({"answer": value})
    return answer if rng.random() < P_JSON_NO_NEWLINES else "\n\n" + answer


def json_example(problem: Problem, rng: random.Random) -> ChatExample:
    system = None if rng.random() < P_JSON_NO_CUE else rng.choice(JSON_CUES)
    context, target = think_then(problem, rng, json_answer)
    return ChatExample(system_and_user(problem, system), None, context, target, "json")


def plain_example(problem: Problem, rng: random.Random) -> ChatExample:
    context, target = sample_example(problem, rng)
    system = rng.choice(SYSTEMS[:1] + SYSTEMS[3:]) if rng.random() < 0.1 else None
    return ChatExample(system_and_user(problem, system), None, context, target)


BUILDERS = {"tool_call": tool_call_example, "tool_result": tool_result_example, "inside": inside_example,
            "json": json_example}  # fmt: skip


def sample_chat_example(problem: Problem, rng: random.Random) -> ChatExample:
    """One training example of the mixture: mostly plain additions, the rest the skills above."""
    roll = rng.random()
    for kind, share in MIXTURE.items():
        if roll < share:
            return BUILDERS[kind](problem, rng)
        roll -= share
    return plain_example(problem, rng)
