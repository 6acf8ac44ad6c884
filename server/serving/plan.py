"""Plan: a request checked in order (request only → prompt → budget) and turned into engine requests.

Both endpoints end in :func:`_plan`, which resolves the budget, decides once who matches
the stop strings, and builds one :class:`EngineRequest` per prompt. Nothing is recorded
for a request that fails a check: metrics count accepted requests only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from starlette.concurrency import run_in_threadpool

from server.engine.types import Constraint, EngineRequest, Sampling
from server.protocol.chat import ChatCompletionRequest
from server.protocol.common import SamplingFields
from server.protocol.completions import CompletionRequest
from server.protocol.errors import APIError
from server.serving.chat_turn import ChatReply, chat_reply, check_turn, message_thinking
from server.serving.choice import ChoiceOptions
from server.serving.constraints import request_constraint
from server.serving.context import ServerContext, new_request_id
from server.serving.extensions import bad_word_ids, check_masks_spare_the_budget, check_priority, extra_args
from server.serving.fields import check_request, logit_bias
from server.serving.limits import (
    check_message_count,
    check_min_tokens,
    check_prompt_length,
    resolve_max_tokens,
    truncate_prompt,
)
from server.serving.prompts import encode_prompts, final_message_ids, render_chat, template_kwargs
from server.serving.tools import ToolPlan, plan_tools
from server.thinking.budget import Budget
from server.thinking.formats import PromptThinking, prompt_thinking
from server.thinking.plan import KEY, GenerationPlan
from server.thinking.spec import request_budget
from server.thinking.tokens import own_token


@dataclass(frozen=True)
class Plan:
    """An accepted request: one engine request (and generation plan) per prompt, ``n`` choices each."""

    request_id: str
    model: str
    n: int
    prompts: list[list[int]]
    generations: list[GenerationPlan]
    engine_requests: list[EngineRequest]
    choice: ChoiceOptions
    top_logprobs: int
    stream: bool
    include_usage: bool
    return_token_ids: bool = False
    tools: ToolPlan | None = None
    tool_open: int | None = None  # a call's opener, which ends the thinking ("auto" tool choice, one token)
    return_tokens_as_token_ids: bool | None = None  # vLLM's: logprobs name tokens token_id:N (None: the server's)
    continuous_usage: bool = False  # vLLM's stream_options.continuous_usage_stats: usage in every chunk
    reply: ChatReply = field(default_factory=ChatReply)  # chat's role, echo and include_reasoning (vLLM's extensions)
    arrived: float = field(default_factory=time.monotonic)

    def prompt_of(self, index: int) -> int:
        """The prompt a choice belongs to (choices are numbered ``prompt * n + choice``)."""
        return index // self.n


async def plan_chat(request: ChatCompletionRequest, context: ServerContext) -> Plan:
    model = context.resolve_model(request.model)
    check_request(request, context.limits, context.vocab_size)
    check_message_count(len(request.messages), context.limits)
    check_turn(request, context.settings.trust_request_chat_template)
    tools = plan_tools(request, context.tool_parser)
    tool_constraint = tools.constraint() if tools else None
    asked = (request.response_format, request.structured_outputs, tool_constraint)
    constraint = request_constraint(*asked, context.thinking)
    kwargs = template_kwargs(request.chat_template_kwargs, request.reasoning_effort, context.template_defaults)
    template_tools = tools.tools if tools else None
    turn = {"chat_template": request.chat_template, "add_generation_prompt": request.add_generation_prompt,
            "continue_final_message": request.continue_final_message,
            "add_special_tokens": request.add_special_tokens}  # fmt: skip
    prompt = await run_in_threadpool(render_chat, context.tokenizer, request.messages, kwargs, template_tools, **turn)
    prompt = truncate_prompt(prompt, request.truncate_prompt_tokens, request.truncation_side, context.limits)
    check_prompt_length(len(prompt), context.limits, "messages")
    param = "max_completion_tokens" if request.max_completion_tokens is not None else "max_tokens"
    cap = resolve_max_tokens(request.token_limit(), len(prompt), context.limits, param)
    logprobs = (request.top_logprobs or 0) if request.logprobs else None
    plan = _plan(
        request, context, new_request_id("chatcmpl"), model, [prompt], [cap], param, logprobs,
        constraint=constraint, tools=tools,
    )  # fmt: skip
    if request.continue_final_message:  # the thinking a continued message opened may lie many tokens back
        args = (context.tokenizer, request.messages, kwargs, template_tools, request.chat_template, prompt)
        message = await run_in_threadpool(final_message_ids, *args)
        plan = _continued(plan, context, message) if message is not None else plan
    return replace(plan, reply=chat_reply(request), continuous_usage=_continuous_usage(request))


def _continued(plan: Plan, context: ServerContext, message: list[int]) -> Plan:
    """A continued final message read whole for its thinking, where the prompt's tail told nothing."""
    start, end = context.thinking.start, context.thinking.end
    thinking = message_thinking(message, start, end)
    if prompt_thinking(plan.prompts[0], start, end) is not PromptThinking.NONE or thinking is PromptThinking.NONE:
        return plan
    old, request = plan.generations[0], plan.engine_requests[0]
    generation = _generation(old.budget, thinking, old.answer_prefix)
    args = {name: value for name, value in (request.sampling.extra_args or {}).items() if name != KEY}
    sampling = replace(request.sampling, extra_args={**args, **(generation.to_extra_args() or {})} or None)
    return replace(plan, generations=[generation], engine_requests=[replace(request, sampling=sampling)])


def _continuous_usage(request: SamplingFields) -> bool:
    """vLLM's rule: usage in every chunk takes ``include_usage`` and ``continuous_usage_stats`` both."""
    options = request.stream_options
    return bool(options and options.include_usage and options.continuous_usage_stats)


async def plan_completion(request: CompletionRequest, context: ServerContext) -> Plan:
    model = context.resolve_model(request.model)
    check_request(request, context.limits, context.vocab_size)
    prompts = await run_in_threadpool(encode_prompts, context.tokenizer, request.prompt, request.add_special_tokens)
    prompts = [truncate_prompt(p, request.truncate_prompt_tokens, request.truncation_side, context.limits)
               for p in prompts]  # fmt: skip
    for prompt in prompts:
        check_prompt_length(len(prompt), context.limits, "prompt")
    caps = [resolve_max_tokens(request.token_limit(), len(p), context.limits, "max_tokens") for p in prompts]
    constraint = request_constraint(request.response_format, request.structured_outputs, None, context.thinking)
    plan = _plan(
        request, context, new_request_id("cmpl"), model, prompts, caps, "max_tokens", request.logprobs,
        constraint=constraint,
    )  # fmt: skip
    return replace(plan, continuous_usage=_continuous_usage(request))


def _plan(
    request: SamplingFields,
    context: ServerContext,
    request_id: str,
    model: str,
    prompts: list[list[int]],
    caps: list[int],
    cap_param: str,
    logprobs: int | None,
    *,
    constraint: Constraint | None = None,
    tools: ToolPlan | None = None,
) -> Plan:
    """The budget (one for all prompts: its minimum must fit under the smallest cap), then the engine requests."""
    check_min_tokens(request.min_tokens, min(caps))
    check_priority(request.priority, context.engine.scheduling_policy)
    thinking = context.thinking
    defaults = context.budget_defaults
    shaped = constraint is not None or (tools is not None and tools.shapes_answer)
    if shaped:  # the answer is a grammar's or a call: the forced end of thinking is the delimiter alone
        if request.thinking_answer_prefix:
            what = "a grammar" if constraint is not None else "tool calls"
            raise APIError(
                f"thinking_answer_prefix: with {what} the answer has no room for a forced prefix; send none.",
                param="thinking_answer_prefix",
            )
        defaults = replace(defaults, answer_prefix="")
    spec, budget = request_budget(
        request.budget_fields(), defaults, thinking, context.tokenizer, (min(caps), cap_param)
    )
    opener = tools.parser.start_marker if tools and tools.parser else None
    tool_open = own_token(context.tokenizer, opener) if opener else None
    if budget is not None:  # the tool-call opener, and the server's boundary set that a grace reads
        boundaries = context.boundaries if budget.end_grace else frozenset()
        budget = replace(budget, tool_open=tool_open, boundaries=boundaries)
    generations = [_generation(budget, prompt_thinking(p, thinking.start, thinking.end), spec.answer_prefix)
                   for p in prompts]  # fmt: skip
    allowed, banned = request.allowed_token_ids, bad_word_ids(request.bad_words, context.tokenizer)
    if budget is not None and any(g.budget is not None for g in generations):
        check_masks_spare_the_budget(budget, allowed, banned, context.tokenizer)
    # A special end of thinking stays in the text whatever the request says, as vLLM's reasoning parsers keep it.
    skip_special = request.skip_special_tokens and thinking.skip_special_tokens
    stops = tuple(request.stop_list())
    # The front end matches stop strings whenever the engine could not tell thinking, forced text and answer apart.
    front_end_stops = bool(stops) and (budget is not None or not request.stop_in_thinking)
    keep_prefix = request.include_answer_prefix
    keep_prefix = context.settings.include_answer_prefix if keep_prefix is None else keep_prefix
    choice = ChoiceOptions(
        stops=stops if front_end_stops else (),
        stop_in_thinking=request.stop_in_thinking,
        drop_answer_prefix="" if keep_prefix else spec.answer_prefix,
        skip_special_tokens=skip_special,
        include_stop=request.include_stop_str_in_output,
        call_opener=(tools.parser.start_marker or "") if tool_open is not None and tools and tools.parser else "",
    )
    bias = logit_bias(request.logit_bias, context.vocab_size)
    engine_requests = [
        EngineRequest(
            request_id if len(prompts) == 1 else f"{request_id}-{i}",
            prompt,
            Sampling(
                max_tokens=cap,
                n=request.n,
                temperature=1.0 if request.temperature is None else request.temperature,
                top_p=1.0 if request.top_p is None else request.top_p,
                top_k=request.top_k or 0,
                min_p=request.min_p or 0.0,
                seed=request.seed,
                presence_penalty=request.presence_penalty,
                frequency_penalty=request.frequency_penalty,
                repetition_penalty=1.0 if request.repetition_penalty is None else request.repetition_penalty,
                min_tokens=request.min_tokens,
                ignore_eos=request.ignore_eos,
                logprobs=logprobs,
                prompt_logprobs=request.engine_prompt_logprobs(),
                stop=() if front_end_stops else stops,
                stop_token_ids=tuple(request.stop_token_ids or ()),
                logit_bias=bias,
                skip_special_tokens=skip_special,
                deltas=request.stream or front_end_stops,
                extra_args=extra_args(request.vllm_xargs, generation.to_extra_args()),
                constraint=constraint,
                bad_words=tuple(request.bad_words),
                allowed_token_ids=None if allowed is None else tuple(allowed),
                spaces_between_special_tokens=request.spaces_between_special_tokens,
                include_stop_str_in_output=request.include_stop_str_in_output,
            ),
            priority=request.priority,
            cache_salt=request.cache_salt,
            adapter=context.adapter(model),  # a LoRA adapter's served name runs with it
        )
        for i, (prompt, cap, generation) in enumerate(zip(prompts, caps, generations, strict=True))
    ]
    if any(g.budget is not None for g in generations):  # every check passed: the request is accepted
        context.metrics.record_budget_request(model)
    options = request.stream_options
    return Plan(
        request_id, model, request.n, prompts, generations, engine_requests, choice,
        top_logprobs=logprobs or 0, stream=request.stream, include_usage=bool(options and options.include_usage),
        return_token_ids=request.return_token_ids, tools=tools, tool_open=tool_open,
        return_tokens_as_token_ids=request.return_tokens_as_token_ids,
    )  # fmt: skip


def _generation(budget: Budget | None, prompt: PromptThinking, answer_prefix: str) -> GenerationPlan:
    """A prompt that closed the thinking gets no budget: there is no thinking to enforce it on."""
    if prompt is PromptThinking.CLOSED:
        return GenerationPlan(None, False, answer_prefix, thinking_off=budget is not None)
    return GenerationPlan(budget, prompt is PromptThinking.OPEN, answer_prefix)
