"""Text completions: one engine request per prompt, choices numbered ``prompt * n + choice``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from vllm import RequestOutput, SamplingParams
from vllm.utils.async_utils import merge_async_iterators

from server.budget import Budget
from server.budget_request import extra_args, report, request_budget
from server.context import ServerContext, new_request_id
from server.logprobs import completion_logprobs
from server.prompts import encode_prompts
from server.protocol.common import BudgetReport, usage
from server.protocol.completions import Completion, CompletionChoice, CompletionRequest
from server.reasoning import count_reasoning_tokens
from server.sampling import check_prompt_length, resolve_max_tokens, to_sampling_params
from server.thinking_format import prompt_opens_thinking


@dataclass
class CompletionCall:
    request: CompletionRequest
    context: ServerContext
    request_id: str
    model: str
    prompts: list[list[int]]
    budget: Budget | None = None

    def opens_thinking(self, prompt: int) -> bool:
        return prompt_opens_thinking(self.prompts[prompt], self.context.thinking.start)

    def report(self, prompt: int, token_ids: list[int]) -> BudgetReport | None:
        return report(self.budget, self.opens_thinking(prompt), token_ids)

    def choice_index(self, prompt: int, output_index: int) -> int:
        return prompt * self.request.n + output_index

    def echo_text(self, prompt: int) -> str:
        return self.context.tokenizer.decode(self.prompts[prompt]) if self.request.echo else ""

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
    params = [
        to_sampling_params(
            request,
            max_tokens=cap,
            logprobs=request.logprobs,
            limits=context.limits,
            extra_args=extra_args(budget, call.opens_thinking(index), request.seed),
        )
        for index, cap in enumerate(caps)
    ]
    return call, params


def _reasoning_tokens(call: CompletionCall, token_ids: list[int]) -> int:
    return count_reasoning_tokens(token_ids, call.context.end_token_id, thinking=False)


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
                    thinking_budget=call.report(prompt, list(output.token_ids)),
                )
            )
            completion_tokens += len(output.token_ids)
            reasoning_tokens += _reasoning_tokens(call, list(output.token_ids))
    prompt_tokens = sum(len(p) for p in call.prompts)
    return Completion(
        id=call.request_id,
        model=call.model,
        choices=choices,
        usage=usage(prompt_tokens, completion_tokens, reasoning_tokens),
    )


async def stream_chunks(call: CompletionCall, streams: list[AsyncIterator[RequestOutput]]) -> AsyncIterator[Completion]:
    """Text deltas from all prompts as they come; usage last when asked for."""
    tokens: dict[int, list[int]] = {}

    def chunk(*choices: CompletionChoice) -> Completion:
        return Completion(id=call.request_id, model=call.model, choices=list(choices))

    for prompt in range(len(call.prompts)) if call.request.echo else ():
        for i in range(call.request.n):
            yield chunk(CompletionChoice(index=call.choice_index(prompt, i), text=call.echo_text(prompt)))
    async for prompt, result in merge_async_iterators(*streams):
        for output in result.outputs:
            index = call.choice_index(prompt, output.index)
            tokens.setdefault(index, []).extend(output.token_ids)
            choice = CompletionChoice(
                index=index, text=output.text, logprobs=call.logprobs_of(output), finish_reason=output.finish_reason
            )
            if output.finish_reason is not None:
                choice.thinking_budget = call.report(prompt, tokens[index])
            yield chunk(choice)
    if call.request.stream_options and call.request.stream_options.include_usage:
        final = chunk()
        completion = sum(len(t) for t in tokens.values())
        reasoning = sum(_reasoning_tokens(call, t) for t in tokens.values())
        final.usage = usage(sum(len(p) for p in call.prompts), completion, reasoning)
        yield final


async def gather_finals(streams: list[AsyncIterator[RequestOutput]]) -> list[RequestOutput]:
    """Each prompt's final output, in prompt order (the requests run concurrently in the engine)."""
    finals: list[RequestOutput | None] = [None] * len(streams)
    async for prompt, output in merge_async_iterators(*streams):
        finals[prompt] = output
    return [final for final in finals if final is not None]
