"""Held-out rates of the shipped model's other skills: ``python -m tinymodel.evaluate --skills``.

Greedy, on vLLM's ``LLM.generate`` over the chat template, one check per held-out problem:

- tool call: the answer after ``</think>`` is exactly ``\\n\\n<tool_call>{...}</tool_call>``, for the three
  documented shapes of ``add(a, b)`` and for varied tool and parameter names;
- after a forced ``Wait`` or a forced end (``</think>`` alone) in a tool context, still the exact tool call;
- tool result: the answer after ``</think>`` is exactly the tool's result;
- JSON with a cue: exactly ``{"answer": N}``, N the best answer its thinking reached;
- JSON forced: the plain prompt's own thinking, ``</think>\\n\\n{`` (or ``</think>{``) appended: the
  continuation is exactly ``"answer": N}`` with N its plain answer;
- inside the thinking: with the cue, ``Quick guess: G.\\n<tool_call>...</tool_call>`` and no ``</think>``;
  without it, never a tool call before ``</think>``;
- plain prompts (no tools, no cue) still answer bare digits, well formed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from tinymodel.task import THINK_END, Problem, best_answer_so_far, held_out_problems, is_well_formed, parse_answer
from tinymodel.tools_task import INSIDE_CUE, Tool, canonical_tool, random_tool

TOOL_CALL = "<tool_call>"
STYLES = ("openai", "langchain", "agents")


class Skills:
    def __init__(self, llm: Any, problems: list[Problem]) -> None:
        self.llm, self.problems = llm, problems
        self.tokenizer = llm.get_tokenizer()

    def prompt(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
        return self.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)

    def generate(self, prompts: list[str]) -> list[str]:
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(temperature=0.0, max_tokens=400)
        encoded = [TokensPrompt(prompt_token_ids=self.tokenizer.encode(p, add_special_tokens=False)) for p in prompts]
        return [o.outputs[0].text for o in self.llm.generate(encoded, params, use_tqdm=False)]

    def rate(self, prompts: list[str], check: Callable[[int, str], bool]) -> float:
        return sum(check(i, text) for i, text in enumerate(self.generate(prompts))) / len(prompts)

    def user(self, p: Problem, system: str | None = None) -> list[dict[str, Any]]:
        user = {"role": "user", "content": p.question}
        return [{"role": "system", "content": system}, user] if system else [user]


def after_end(text: str) -> str | None:
    thinking, sep, answer = text.partition(THINK_END)
    return answer if sep and TOOL_CALL not in thinking else None


def evaluate_skills(llm: Any, n: int) -> dict[str, float]:
    problems = held_out_problems(n)
    s = Skills(llm, problems)
    rng = random.Random(99)
    varied = [random_tool(rng) for _ in problems]
    rows: dict[str, float] = {}

    def tool_rate(tools: list[Tool], suffix: str = "", system: str | None = None) -> float:
        prompts = [s.prompt(s.user(p, system), [t.spec]) + suffix for p, t in zip(problems, tools, strict=True)]
        return s.rate(prompts, lambda i, text: after_end(suffix + text) == "\n\n" + tools[i].call(problems[i]))

    for style in STYLES:
        rows[f"tool call, {style} add(a, b)"] = tool_rate([canonical_tool(style)] * n)
    rows["tool call, varied names and shapes"] = tool_rate(varied)
    rows["tool call, system message without cue"] = tool_rate(varied, system="You are a helpful assistant.")
    rows["tool call after a forced end (</think> alone)"] = tool_rate(varied, "Quick gu" + THINK_END)

    # The model's own thinking (greedy, plain prompt), to append forced tokens to.
    plain_prompts = [s.prompt(s.user(p)) for p in problems]
    plain = s.generate(plain_prompts)
    rows["plain: well-formed digit answer"] = sum(is_well_formed(t) for t in plain) / n
    rows["plain: accuracy (no forced Wait)"] = (
        sum(parse_answer(t) == p.answer for t, p in zip(plain, problems, strict=True)) / n
    )
    rows["plain: any tool call or JSON"] = sum(TOOL_CALL in t or "{" in t for t in plain) / n
    own = [t.partition(THINK_END)[0] for t in plain]

    tools = [canonical_tool(STYLES[i % 3]) for i in range(n)]

    def call_of(i: int) -> str:
        return tools[i].call(problems[i])

    prompts = [s.prompt(s.user(p), [t.spec]) + o + "Wait" for p, t, o in zip(problems, tools, own, strict=True)]
    rows["tool call after a forced Wait (careful pass, then call)"] = s.rate(
        prompts,
        lambda i, text: f"So {problems[i].answer}." in text and after_end(text) == "\n\n" + call_of(i),
    )

    results = [p.answer if i % 4 else random.Random(i).randint(10, 1999) for i, p in enumerate(problems)]
    prompts = []
    for p, t, r in zip(problems, varied, results, strict=True):
        arguments = dict(zip(t.parameters, (p.a, p.b), strict=True))
        call = {"id": "c1", "type": "function", "function": {"name": t.name, "arguments": json.dumps(arguments)}}
        history = [*s.user(p), {"role": "assistant", "content": None, "tool_calls": [call]},
                   {"role": "tool", "tool_call_id": "c1", "content": str(r)}]  # fmt: skip
        prompts.append(s.prompt(history, [t.spec]))
    rows["tool result: answers the result"] = s.rate(prompts, lambda i, text: after_end(text) == f"\n\n{results[i]}")

    def json_ok(i: int, text: str) -> bool:
        best = best_answer_so_far(problems[i], text.partition(THINK_END)[0])
        return after_end(text) in (f'\n\n{{"answer": {best}}}', f'{{"answer": {best}}}')

    rows["JSON with cue 'Reply in JSON.'"] = s.rate([s.prompt(s.user(p, "Reply in JSON.")) for p in problems], json_ok)
    answers = [parse_answer(t) for t in plain]
    for forced in ("\n\n{", "{"):
        prompts = [q + o + THINK_END + forced for q, o in zip(plain_prompts, own, strict=True)]
        rows[f"JSON forced {json.dumps(THINK_END + forced)}, no cue"] = s.rate(
            prompts, lambda i, text: text == f'"answer": {answers[i]}}}'
        )

    def inside_ok(i: int, text: str) -> bool:
        return THINK_END not in text and text.endswith(tools[i].call(problems[i])) and text.count(TOOL_CALL) == 1

    cue = [s.prompt(s.user(p, INSIDE_CUE), [t.spec]) for p, t in zip(problems, tools, strict=True)]
    rows["inside thinking, with the cue"] = s.rate(cue, inside_ok)
    no_cue = [s.prompt(s.user(p), [t.spec]) for p, t in zip(problems, tools, strict=True)]
    rows["inside thinking, without the cue (want 0)"] = s.rate(
        no_cue, lambda i, text: TOOL_CALL in text.partition(THINK_END)[0]
    )
    return rows
