"""Text completions: one engine request per prompt, choices numbered ``prompt * n + choice``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from vllm import RequestOutput, SamplingParams
from vllm.utils.async_utils import merge_async_iterators

from server.access_log import note_usage
from server.budget import Budget
from server.budget_request import extra_args, report, request_budget
from server.context import ServerContext, new_request_id
from server.engine import merge_output
from server.logprobs import completion_logprobs
from server.prompts import encode_prompts
from server.protocol.common import BudgetReport, usage
from server.protocol.completions import Completion, CompletionChoice, CompletionRequest
from server.reasoning import count_reasoning_tokens
from server.sampling import check_prompt_length, resolve_max_tokens, to_sampling_params
from server.stop_guard import guard_outputs, needs_stop_guard
from server.thinking_format import prompt_opens_thinking


@dataclass
class CompletionCall:
    request: CompletionRequest
    context: ServerContext
    request_id: str
    model: str
    prompts: list[list[int]]
    budget: Budget | None = None
    arrived: float = field(default_factory=time.monotonic)

    def opens_thinking(self, prompt: int) -> bool:
        return prompt_opens_thinking(self.prompts[prompt], self.context.thinking.start)

    def report(self, prompt: int, token_ids: list[int]) -> BudgetReport | None:
        return report(self.budget, self.opens_thinking(prompt), token_ids)

    def reasoning_tokens(self, prompt: int, token_ids: list[int]) -> int:
        return count_reasoning_tokens(token_ids, self.context.end_token_id, self.opens_thinking(prompt))

    def finish_choice(self, prompt: int, token_ids: list[int]) -> BudgetReport | None:
        """The choice's budget report; its thinking recorded in the metrics."""
        budget_report = self.report(prompt, token_ids)
        reasoning = self.reasoning_tokens(prompt, token_ids)
        self.context.metrics.record_choice(self.model, reasoning, self.budget, budget_report)
        return budget_report

    def choice_index(self, prompt: int, output_index: int) -> int:
        return prompt * self.request.n + output_index

    def echo_text(self, prompt: int) -> str:
        return self.context.tokenizer.decode(self.prompts[prompt]) if self.request.echo else ""

    def generate(self, prompt: int, params: SamplingParams) -> AsyncIterator[RequestOutput]:
        """One prompt's engine outputs (stop strings matched here when the budget needs it)."""
        outputs = self.context.engine.generate(self.prompts[prompt], params, f"{self.request_id}-{prompt}")
        return guard_outputs(
            outputs,
            budget=self.budget,
            stops=self.request.stop_list(),
            prompt_opens_thinking=self.opens_thinking(prompt),
            thinking=self.context.thinking,
            tokenizer=self.context.tokenizer,
            n=self.request.n,
        )

    def logprobs_of(self, output, offset: int = 0):  # type: ignore[no-untyped-def]
        top = self.request.logprobs or 0
        return completion_logprobs(self.context.tokenizer, list(output.token_ids), output.logprobs, top, offset)


async def prepare(request: CompletionRequest, context: ServerContext) -> tuple[CompletionCall, list[SamplingParams]]:
    """Encode and check each prompt; one SamplingParams per prompt (their token caps differ)."""
    model = context.resolve_model(request.model)
    prompts = await run_in_threadpool(encode_prompts, context.tokenizer, request.prompt)
    caps = []
    for prompt in prompts:
        check_prompt_length(len(prompt), context.limits, "prompt")
        caps.append(resolve_max_tokens(request.max_tokens, len(prompt), context.limits, "max_tokens"))
    # One budget for all prompts; its minimum must fit under the smallest cap.
    budget = request_budget(
        request.budget_fields(), context.budget_defaults, context.thinking, context.tokenizer, (min(caps), "max_tokens")
    )
    call = CompletionCall(request, context, new_request_id("cmpl"), model, prompts, budget)
    if budget is not None:
        context.metrics.record_budget_request(model)
    params = [
        to_sampling_params(
            request,
            max_tokens=cap,
            logprobs=request.logprobs,
            limits=context.limits,
            extra_args=extra_args(budget, call.opens_thinking(index), request.seed),
            skip_special_tokens=context.thinking.skip_special_tokens,
            front_end_stops=needs_stop_guard(budget, request.stop_list()),
        )
        for index, cap in enumerate(caps)
    ]
    return call, params


def build_completion(call: CompletionCall, finals: list[RequestOutput]) -> Completion:
    choices, completion_tokens, reasoning_tokens = [], 0, 0
    for prompt, final in enumerate(finals):
        for output in sorted(final.outputs, key=lambda o: o.index):
            echo = call.echo_text(prompt)
            choices.append(
                CompletionChoice(
                    index=call.choice_index(prompt, output.index),
                    text=echo + output.text,
                    logprobs=call.logprobs_of(output, len(echo)),
                    finish_reason=output.finish_reason,
                    thinking_budget=call.finish_choice(prompt, list(output.token_ids)),
                )
            )
            completion_tokens += len(output.token_ids)
            reasoning_tokens += call.reasoning_tokens(prompt, list(output.token_ids))
    totals = usage(sum(len(p) for p in call.prompts), completion_tokens, reasoning_tokens)
    note_usage(call.model, totals)
    return Completion(id=call.request_id, model=call.model, choices=choices, usage=totals)


async def stream_chunks(call: CompletionCall, streams: list[AsyncIterator[RequestOutput]]) -> AsyncIterator[Completion]:
    """Text deltas from all prompts as they come; usage last when asked for."""
    tokens: dict[int, list[int]] = {}
    prompt_of: dict[int, int] = {}
    first_token = True

    def chunk(*choices: CompletionChoice) -> Completion:
        return Completion(id=call.request_id, model=call.model, choices=list(choices))

    for prompt in range(len(call.prompts)) if call.request.echo else ():
        for i in range(call.request.n):
            yield chunk(CompletionChoice(index=call.choice_index(prompt, i), text=call.echo_text(prompt)))
    merged = merge_async_iterators(*streams)  # closing it closes every stream: a disconnect aborts them all
    async with aclosing(merged):
        async for prompt, result in merged:
            for output in result.outputs:
                index = call.choice_index(prompt, output.index)
                tokens.setdefault(index, []).extend(output.token_ids)
                prompt_of[index] = prompt
                if first_token and output.text:
                    call.context.first_token_sent(call.model, call.arrived)
                    first_token = False
                choice = CompletionChoice(
                    index=index, text=output.text, logprobs=call.logprobs_of(output), finish_reason=output.finish_reason
                )
                if output.finish_reason is not None:
                    choice.thinking_budget = call.finish_choice(prompt, tokens[index])
                yield chunk(choice)
    completion = sum(len(t) for t in tokens.values())
    reasoning = sum(call.reasoning_tokens(prompt_of[i], t) for i, t in tokens.items())
    totals = usage(sum(len(p) for p in call.prompts), completion, reasoning)
    note_usage(call.model, totals)
    if call.request.stream_options and call.request.stream_options.include_usage:
        final = chunk()
        final.usage = totals
        yield final


async def gather_finals(streams: list[AsyncIterator[RequestOutput]]) -> list[RequestOutput]:
    """Each prompt's final output, in prompt order (the requests run concurrently in the engine)."""
    finals: list[RequestOutput | None] = [None] * len(streams)
    async for prompt, output in merge_async_iterators(*streams):
        finals[prompt] = merge_output(finals[prompt], output)
    return [final for final in finals if final is not None]
