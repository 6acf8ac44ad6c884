"""s1's reference budget forcing: several ``generate()`` calls, one re-prefill per forced token run.

This is the procedure of the s1 repository's evaluation harness, batched over
requests, on ``vllm.LLM`` with token ids throughout (re-feeding text would
re-tokenize differently):

1. The prompt ends inside the thinking.
2. A round decodes greedily until the end-of-thinking token (or EOS, also an
   attempt to end) or until the thinking budget runs out.
3. An attempt to end while ``min_waits`` ignores remain or the thinking is shorter
   than ``min_thinking_tokens``: drop the end token, append the wait string's ids,
   go to 2 (a new prefill of everything so far).
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
    answer_prefix: tuple[int, ...]

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
    thinking = list(traces)
    while thinking:
        params = []
        for trace in thinking:
            room = (
                max_round_tokens
                if budget.max_thinking_tokens is None
                else budget.max_thinking_tokens - len(trace.thinking)
            )
            params.append(
                SamplingParams(
                    temperature=0.0,
                    max_tokens=max(1, room),
                    stop_token_ids=list(tokens.stops),
                    skip_special_tokens=False,
                )
            )
        outputs = llm.generate(
            [TokensPrompt(prompt_token_ids=t.prompt + t.thinking) for t in thinking], params, use_tqdm=False
        )
        still_thinking = []
        for trace, output in zip(thinking, outputs, strict=True):
            trace.rounds += 1
            new = list(output.outputs[0].token_ids)
            tried_to_end = bool(new) and new[-1] in tokens.stops
            trace.thinking += new[:-1] if tried_to_end else new
            if _out_of_budget(trace, budget) or not tried_to_end:
                trace.forced_end, trace.closing = True, [tokens.end, *tokens.answer_prefix]
            elif trace.waits < budget.min_waits or len(trace.thinking) < budget.min_thinking_tokens:
                trace.thinking += tokens.wait
                trace.waits += 1
                still_thinking.append(trace)
            else:
                trace.closing = [tokens.end]
        thinking = still_thinking
    answers = llm.generate(
        [TokensPrompt(prompt_token_ids=t.prompt + t.thinking + t.closing) for t in traces],
        SamplingParams(temperature=0.0, max_tokens=max_answer_tokens, skip_special_tokens=False),
        use_tqdm=False,
    )
    for trace, answer in zip(traces, answers, strict=True):
        trace.answer = list(answer.outputs[0].token_ids)
    return traces


def _out_of_budget(trace: Trace, budget: Budget) -> bool:
    return budget.max_thinking_tokens is not None and len(trace.thinking) >= budget.max_thinking_tokens
