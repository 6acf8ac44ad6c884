"""Chat completions: engine outputs become OpenAI responses and stream chunks.

The thinking is split from the answer at the end-of-thinking delimiter into
``reasoning`` (and its alias ``reasoning_content``) and ``content``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import cached_property

from starlette.concurrency import run_in_threadpool
from vllm import CompletionOutput, RequestOutput, SamplingParams

from server.access_log import note_usage
from server.budget import Budget
from server.budget_request import extra_args, report, request_budget
from server.context import ServerContext, new_request_id
from server.errors import APIError
from server.logprobs import chat_logprobs
from server.prompts import render_chat
from server.protocol.chat import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    Delta,
)
from server.protocol.common import usage
from server.reasoning import ReasoningSplitter, count_reasoning_tokens, split_reasoning
from server.sampling import check_message_count, check_prompt_length, resolve_max_tokens, to_sampling_params
from server.stop_guard import guard_outputs, needs_stop_guard
from server.thinking_format import prompt_opens_thinking


@dataclass
class ChatCall:
    """One chat request on its way through the engine."""

    request: ChatCompletionRequest
    context: ServerContext
    request_id: str
    model: str
    prompt_ids: list[int]
    budget: Budget | None = None
    arrived: float = field(default_factory=time.monotonic)
    token_sent: bool = False  # streamed: whether a chunk with a token went out (time to first token)

    @cached_property
    def opens_thinking(self) -> bool:
        """Whether the prompt (the chat template) already opened the thinking."""
        return prompt_opens_thinking(self.prompt_ids, self.context.thinking.start)

    @property
    def top_logprobs(self) -> int:
        return self.request.top_logprobs or 0

    def chunk(self, *choices: ChunkChoice) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=self.request_id, model=self.model, choices=list(choices))

    def generate(self, params: SamplingParams) -> AsyncIterator[RequestOutput]:
        """The engine's outputs for this call (stop strings matched here when the budget needs it)."""
        outputs = self.context.engine.generate(self.prompt_ids, params, self.request_id)
        return guard_outputs(
            outputs,
            budget=self.budget,
            stops=self.request.stop_list(),
            prompt_opens_thinking=self.opens_thinking,
            thinking=self.context.thinking,
            tokenizer=self.context.tokenizer,
            n=self.request.n,
        )


async def prepare(request: ChatCompletionRequest, context: ServerContext) -> tuple[ChatCall, SamplingParams]:
    """Validate against the model and the context, render the prompt, map the sampling fields."""
    model = context.resolve_model(request.model)
    check_message_count(len(request.messages), context.limits)
    if request.top_logprobs and not request.logprobs:
        raise APIError("top_logprobs requires logprobs to be true.", param="top_logprobs")
    prompt_ids = await run_in_threadpool(render_chat, context.tokenizer, request.messages)
    check_prompt_length(len(prompt_ids), context.limits, "messages")
    param = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
    max_tokens = resolve_max_tokens(request.token_limit(), len(prompt_ids), context.limits, param)
    logprobs = (request.top_logprobs or 0) if request.logprobs else None
    budget = request_budget(
        request.budget_fields(), context.budget_defaults, context.thinking, context.tokenizer, (max_tokens, param)
    )
    call = ChatCall(request, context, new_request_id("chatcmpl"), model, prompt_ids, budget)
    if budget is not None:
        context.metrics.record_budget_request(model)
    extra = extra_args(budget, call.opens_thinking, request.seed)
    params = to_sampling_params(
        request,
        max_tokens=max_tokens,
        logprobs=logprobs,
        limits=context.limits,
        extra_args=extra,
        skip_special_tokens=context.thinking.skip_special_tokens,
        front_end_stops=needs_stop_guard(budget, request.stop_list()),
    )
    return call, params


def build_completion(call: ChatCall, final: RequestOutput) -> ChatCompletion:
    choices, completion_tokens, reasoning_tokens = [], 0, 0
    thinking = call.opens_thinking
    for output in sorted(final.outputs, key=lambda o: o.index):
        token_ids = list(output.token_ids)
        reasoning, content = split_reasoning(output.text, call.context.delimiters, thinking)
        message = AssistantMessage(content=content, reasoning=reasoning, reasoning_content=reasoning)
        logprobs = chat_logprobs(call.context.tokenizer, token_ids, output.logprobs, call.top_logprobs)
        budget = report(call.budget, thinking, token_ids)
        choice_reasoning = count_reasoning_tokens(token_ids, call.context.end_token_id, thinking)
        call.context.metrics.record_choice(call.model, choice_reasoning, call.budget, budget)
        choices.append(
            ChatChoice(
                index=output.index,
                message=message,
                logprobs=logprobs,
                finish_reason=output.finish_reason,
                thinking_budget=budget,
            )
        )
        completion_tokens += len(token_ids)
        reasoning_tokens += choice_reasoning
    totals = usage(len(call.prompt_ids), completion_tokens, reasoning_tokens)
    note_usage(call.model, totals)
    return ChatCompletion(id=call.request_id, model=call.model, choices=choices, usage=totals)


@dataclass
class _ChoiceStream:
    splitter: ReasoningSplitter
    token_ids: list[int] = field(default_factory=list)


async def stream_chunks(call: ChatCall, outputs: AsyncIterator[RequestOutput]) -> AsyncIterator[ChatCompletionChunk]:
    """Role first, then reasoning deltas, then content deltas, a finish chunk, and usage if asked.

    The role goes out with the engine's first output, as OpenAI's and vLLM's servers send it: the first
    chunk then means the model has started (clients time TTFT on it), and the engine gets the request
    without waiting on a write.
    """
    thinking = call.opens_thinking
    streams = {i: _ChoiceStream(ReasoningSplitter(call.context.delimiters, thinking)) for i in range(call.request.n)}
    role = call.chunk(*(ChunkChoice(index=i, delta=Delta(role="assistant", content="")) for i in streams))
    async with aclosing(outputs):  # type: ignore[type-var]  # closed on a disconnect: the engine request is aborted
        async for result in outputs:
            if role is not None:
                yield role
                role = None
            for output in result.outputs:
                for chunk in _choice_chunks(call, streams[output.index], output):
                    yield chunk
    completion = sum(len(s.token_ids) for s in streams.values())
    reasoning_tokens = sum(
        count_reasoning_tokens(s.token_ids, call.context.end_token_id, thinking) for s in streams.values()
    )
    totals = usage(len(call.prompt_ids), completion, reasoning_tokens)
    note_usage(call.model, totals)
    if call.request.stream_options and call.request.stream_options.include_usage:
        final = call.chunk()
        final.usage = totals
        yield final


def _choice_chunks(call: ChatCall, state: _ChoiceStream, output: CompletionOutput) -> list[ChatCompletionChunk]:
    """One engine delta of one choice: its reasoning/content/logprobs chunk, and the finish chunk if it ended."""
    state.token_ids.extend(output.token_ids)
    reasoning, content = state.splitter.feed(output.text)
    if output.finish_reason is not None:
        tail_reasoning, tail_content = state.splitter.flush()
        reasoning, content = reasoning + tail_reasoning, content + tail_content
    logprobs = chat_logprobs(call.context.tokenizer, list(output.token_ids), output.logprobs, call.top_logprobs)
    chunks = []
    if reasoning or content or logprobs:
        if not call.token_sent:
            call.context.first_token_sent(call.model, call.arrived)
            call.token_sent = True
        delta = Delta(reasoning=reasoning or None, reasoning_content=reasoning or None, content=content or None)
        chunks.append(call.chunk(ChunkChoice(index=output.index, delta=delta, logprobs=logprobs)))
    if output.finish_reason is not None:
        thinking = call.opens_thinking
        budget = report(call.budget, thinking, state.token_ids)
        choice_reasoning = count_reasoning_tokens(state.token_ids, call.context.end_token_id, thinking)
        call.context.metrics.record_choice(call.model, choice_reasoning, call.budget, budget)
        finish = ChunkChoice(
            index=output.index, delta=Delta(), finish_reason=output.finish_reason, thinking_budget=budget
        )
        chunks.append(call.chunk(finish))
    return chunks
