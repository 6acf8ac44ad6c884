"""s1's reference budget forcing: several ``generate()`` calls, one re-prefill per forced token run.

This is the procedure of the s1 repository's evaluation harness, batched over
requests, on ``vllm.LLM`` with token ids throughout (re-feeding text would
re-tokenize differently):

1. The prompt ends inside the thinking.
2. A round decodes greedily until the end-of-thinking token (or EOS, also an
   attempt to end) or until the thinking budget runs out.
3. An attempt to end while ``min_waits`` ignores remain or the thinking is shorter
   than ``min_thinking_tokens``: drop the end token, append the wait string's ids,
   go to 2 (a new prefill of everything so far). If the whole wait string does not
   fit under the maximum, the maximum wins: go to 4.
4. Budget exhausted: append the end-of-thinking token and the answer prefix's ids.
   Otherwise: append the end-of-thinking token.
5. A last call decodes the answer.

It is the baseline the in-decode logits processor must match token for token,
and the one it must beat on speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Budget:
    min_waits: int = 0
    min_thinking_tokens: int = 0
    max_thinking_tokens: int | None = None


@dataclass(frozen=True)
class ForcingTokens:
    """Token ids of the thinking delimiters and s1's strings, in the model's tokenizer."""

    end: int
    stops: tuple[int, ...]  # end of thinking and EOS ids: attempts to end the thinking
    wait: tuple[int, ...]
    answer_prefix: tuple[int, ...]  # what follows the end token when the maximum forces it

    @classmethod
    def from_tokenizer(
        cls, tokenizer: Any, end: str = "</think>", wait: str = "Wait", answer_prefix: str = "\n\nFinal Answer:"
    ) -> ForcingTokens:
        (end_id,) = tokenizer.encode(end, add_special_tokens=False)
        eos = {tokenizer.eos_token_id, *tokenizer.convert_tokens_to_ids(["<|endoftext|>"])}
        eos.discard(None)
        return cls(
            end=end_id,
            stops=(end_id, *sorted(eos)),
            wait=tuple(tokenizer.encode(wait, add_special_tokens=False)),
            answer_prefix=tuple(tokenizer.encode(answer_prefix, add_special_tokens=False)),
        )


@dataclass
class Trace:
    """One request's output under the reference procedure."""

    prompt: list[int]
    thinking: list[int] = field(default_factory=list)
    waits: int = 0
    forced_end: bool = False
    closing: list[int] = field(default_factory=list)  # end token (+ answer prefix when forced)
    answer: list[int] = field(default_factory=list)
    rounds: int = 0
    attempts: list[int] = field(default_factory=list)  # the token of each attempt to end (end of thinking or EOS)

    @property
    def output_ids(self) -> list[int]:
        return self.thinking + self.closing + self.answer


def run_reference(
    llm: Any,
    prompts: list[list[int]],
    budget: Budget,
    tokens: ForcingTokens,
    max_answer_tokens: int = 64,
    max_round_tokens: int = 512,
) -> list[Trace]:
    """Greedy s1 budget forcing over a batch of prompts (one ``generate`` call per round)."""
    from vllm import SamplingParams, TokensPrompt

    traces = [Trace(prompt=list(p)) for p in prompts]
    thinking = [t for t in traces if not _close_if_out_of_budget(t, budget, tokens)]
    while thinking:
        rooms = [_room(t, budget, max_round_tokens) for t in thinking]
        params = [SamplingParams(temperature=0.0, max_tokens=room, stop_token_ids=list(tokens.stops)) for room in rooms]
        prompts_now = [TokensPrompt(prompt_token_ids=t.prompt + t.thinking) for t in thinking]
        outputs = llm.generate(prompts_now, params, use_tqdm=False)
        still_thinking = []
        for trace, output in zip(thinking, outputs, strict=True):
            trace.rounds += 1
            new = list(output.outputs[0].token_ids)
            tried_to_end = bool(new) and new[-1] in tokens.stops
            trace.thinking += new[:-1] if tried_to_end else new
            trace.attempts += new[-1:] if tried_to_end else []
            if not tried_to_end:  # the round ran out of budget
                trace.forced_end, trace.closing = True, [tokens.end, *tokens.answer_prefix]
            elif trace.waits < budget.min_waits or len(trace.thinking) < budget.min_thinking_tokens:
                if (
                    budget.max_thinking_tokens is not None
                    and len(trace.thinking) + len(tokens.wait) > budget.max_thinking_tokens
                ):
                    trace.forced_end, trace.closing = True, [tokens.end, *tokens.answer_prefix]  # the maximum wins
                else:
                    trace.thinking += tokens.wait
                    trace.waits += 1
                    if not _close_if_out_of_budget(trace, budget, tokens):
                        still_thinking.append(trace)
            else:
                trace.closing = [tokens.end]  # an EOS too: the end token in its place, the model goes on
        thinking = still_thinking
    answers = llm.generate(
        [TokensPrompt(prompt_token_ids=t.prompt + t.thinking + t.closing) for t in traces],
        SamplingParams(temperature=0.0, max_tokens=max_answer_tokens),
        use_tqdm=False,
    )
    for trace, answer in zip(traces, answers, strict=True):
        trace.answer = list(answer.outputs[0].token_ids)
    return traces


def _room(trace: Trace, budget: Budget, cap: int) -> int:
    return cap if budget.max_thinking_tokens is None else budget.max_thinking_tokens - len(trace.thinking)


def _close_if_out_of_budget(trace: Trace, budget: Budget, tokens: ForcingTokens) -> bool:
    """At the maximum (before any round, or after a wait): force the end and the answer prefix."""
    if budget.max_thinking_tokens is not None and len(trace.thinking) >= budget.max_thinking_tokens:
        trace.forced_end, trace.closing = True, [tokens.end, *tokens.answer_prefix]
        return True
    return False


# Budgets the exactness oracle compares (tests/e2e/test_budget_oracle.py), as request fields and as Budget.
ORACLE_BUDGETS: dict[str, dict[str, int]] = {
    "waits-1": {"min_thinking_waits": 1},
    "waits-2": {"min_thinking_waits": 2},
    "min-120": {"min_thinking_tokens": 120},
    "max-5": {"max_thinking_tokens": 5},
    "max-0": {"max_thinking_tokens": 0},
    "waits-3-max-150": {"min_thinking_waits": 3, "max_thinking_tokens": 150},
}
# For models that may never end their thinking by themselves (random weights, tests/e2e/test_families.py):
# every budget has a maximum, so every reference round ends.
BOUNDED_BUDGETS: dict[str, dict[str, int]] = {
    "waits-1-max-40": {"min_thinking_waits": 1, "max_thinking_tokens": 40},
    "waits-3-max-64": {"min_thinking_waits": 3, "max_thinking_tokens": 64},
    "min-24-max-48": {"min_thinking_tokens": 24, "max_thinking_tokens": 48},
    "max-5": {"max_thinking_tokens": 5},
    "max-0": {"max_thinking_tokens": 0},
}


def as_budget(fields: dict[str, int]) -> Budget:
    return Budget(
        min_waits=fields.get("min_thinking_waits", 0),
        min_thinking_tokens=fields.get("min_thinking_tokens", 0),
        max_thinking_tokens=fields.get("max_thinking_tokens"),
    )


def forcing_tokens(tokenizer: Any, thinking: Any) -> ForcingTokens:
    """s1's ids for a model as this server resolves it (``thinking``: ``server.thinking.tokens.ThinkingTokens``):
    every EOS id is an attempt to end, and the forced closing is written as the server writes it."""
    from server.thinking.spec import BudgetSpec, to_budget

    budget = to_budget(BudgetSpec(0, 0, 0, "Wait", "Final Answer:"), thinking, tokenizer)  # the server's ids
    return ForcingTokens(
        end=thinking.end,
        stops=(thinking.end, *sorted(thinking.eos)),
        wait=budget.wait,
        answer_prefix=budget.closing[1:],
    )


def opened_prompts(tokenizer: Any, thinking: Any, problems: int) -> list[list[int]]:
    """Held-out questions through the chat template; where it leaves the thinking to the model (Qwen3's hybrid
    template), the start delimiter is appended, as the model would write it first."""
    from bench.offline import encode_chats
    from server.thinking.formats import PromptThinking, prompt_thinking
    from tinymodel.task import held_out_problems

    start = tokenizer.encode(thinking.format.delimiters.start + "\n", add_special_tokens=False)
    chats = encode_chats(tokenizer, [p.question for p in held_out_problems(problems, seed=7)])
    return [p if prompt_thinking(p, thinking.start, thinking.end) is PromptThinking.OPEN else p + start for p in chats]


def reference_outputs(
    llm: Any, tokenizer: Any, thinking: Any, prompts: list[list[int]], budgets: dict[str, dict[str, int]],
    max_answer_tokens: int,
) -> dict[str, Any]:  # fmt: skip
    """Each budget's traces: text (decoded as the server decodes), token count, waits, ids, attempts to end."""
    tokens, skip = forcing_tokens(tokenizer, thinking), thinking.skip_special_tokens
    results: dict[str, Any] = {"prompts": [tokenizer.decode(p) for p in prompts], "prompt_ids": prompts}
    for name, fields in budgets.items():
        traces = run_reference(llm, prompts, as_budget(fields), tokens, max_answer_tokens=max_answer_tokens)
        results[name] = [
            {"text": tokenizer.decode(t.output_ids, skip_special_tokens=skip), "tokens": len(t.output_ids),
             "waits": t.waits, "ids": t.output_ids, "attempts": t.attempts}
            for t in traces
        ]  # fmt: skip
    return results


def main() -> None:
    """``python -m bench.s1_reference --problems 20 --out ref.json``: the oracle's reference outputs.

    ``--model DIR``: another model than the shipped one, with the ids this server resolves for it (delimiters
    from its tokenizer and template, EOS from its generation config).
    """
    import argparse
    import json

    from vllm import LLM

    from bench.offline import thinking_tokens
    from server.ops.settings import SHIPPED_MODEL

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--model", default=str(SHIPPED_MODEL))
    parser.add_argument("--budgets", choices=["oracle", "bounded"], default="oracle")
    parser.add_argument("--max-answer-tokens", type=int, default=200)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    llm = LLM(args.model, gpu_memory_utilization=0.1, enforce_eager=True, seed=0)
    tokenizer, thinking = llm.get_tokenizer(), thinking_tokens(llm)
    prompts = opened_prompts(tokenizer, thinking, args.problems)
    budgets = ORACLE_BUDGETS if args.budgets == "oracle" else BOUNDED_BUDGETS
    results = reference_outputs(llm, tokenizer, thinking, prompts, budgets, args.max_answer_tokens)
    with open(args.out, "w") as out:
        json.dump(results, out)


if __name__ == "__main__":
    main()
