"""Chat completions: a plan's steps as OpenAI's chat completion, or as its stream of chunks.

The thinking goes in the field(s) the server is set to (``--reasoning-field``), the answer in
``content``; logprobs split the same way (``logprobs.content``: the answer's tokens;
``logprobs.reasoning``: the thinking's). vLLM's extensions (:mod:`server.serving.chat_turn`): the reply's
role, ``echo`` (the final message's content first; streamed, in a chunk after the role's) and
``include_reasoning: false`` (no thinking, thinking logprobs or token ids, which hold the thinking's).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from server.protocol.chat import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChoiceLogprobs,
    ChunkChoice,
    Delta,
)
from server.protocol.common import Usage
from server.serving.choice import Step
from server.serving.context import ServerContext
from server.serving.generate import Generation, collect, stream
from server.serving.logprobs import chat_logprobs, prompt_logprobs, tokens_as_ids
from server.serving.plan import Plan
from server.serving.tool_output import CallHold, delta_fields, finish_reason, message_fields


def _reasoning(context: ServerContext, text: str | None) -> dict[str, Any]:
    field = context.settings.reasoning_field
    names = ("reasoning", "reasoning_content") if field == "both" else (field,)
    return dict.fromkeys(names, text)


def _logprobs(context: ServerContext, plan: Plan, step: Step) -> ChoiceLogprobs | None:
    if step.answer_logprobs is None:
        return None
    top, tokenizer = plan.top_logprobs, context.tokenizer
    shown = step.reasoning_logprobs if plan.reply.include_reasoning else None
    as_ids = tokens_as_ids(plan.return_tokens_as_token_ids, context.settings.return_tokens_as_token_ids)
    return ChoiceLogprobs(
        content=chat_logprobs(tokenizer, step.answer_logprobs, top, as_ids),
        reasoning=chat_logprobs(tokenizer, shown, top, as_ids),
    )


def _thinking(plan: Plan, step: Step) -> str | None:
    return (step.reasoning or None) if plan.reply.include_reasoning else None


def _ids(plan: Plan, step: Step) -> list[int] | None:
    """A choice's token ids, when asked for and the thinking is shown (they hold the thinking's, as in vLLM)."""
    return step.token_ids if plan.return_token_ids and plan.reply.include_reasoning else None


def _choice(context: ServerContext, plan: Plan, step: Step) -> ChatChoice:
    content, calls = plan.tools.calls(step.content) if plan.tools else (step.content, [])
    said = _reasoning(context, _thinking(plan, step)) | (message_fields(plan.tools, calls) if plan.tools else {})
    echo = plan.reply.echo  # vLLM prepends the final message's content to the reply's
    text = echo + (content or "") if echo else content or None
    return ChatChoice(
        index=step.index,
        message=AssistantMessage(role=plan.reply.role, content=text, **said),
        logprobs=_logprobs(context, plan, step),
        finish_reason=finish_reason(plan.tools, step.finish_reason, calls),
        thinking_budget=step.budget,
        token_ids=_ids(plan, step),
    )


async def complete(plan: Plan, context: ServerContext) -> ChatCompletion:
    generation = Generation(plan, context)
    choices = [_choice(context, plan, step) for step in await collect(generation)]
    prompt = plan.prompts[0] if plan.return_token_ids else None
    return ChatCompletion(
        id=plan.request_id, model=plan.model, choices=choices, usage=generation.usage(), prompt_token_ids=prompt,
        prompt_logprobs=prompt_logprobs(generation.prompt_logprobs[0]),  # vLLM's prompt_logprobs, when asked
    )  # fmt: skip


def chunks(plan: Plan, context: ServerContext) -> AsyncIterator[ChatCompletionChunk]:
    """Role first (with the engine's first output), an echo, then thinking and answer deltas, a finish chunk, usage."""

    def chunk(*choices: ChunkChoice, usage: Usage | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(id=plan.request_id, model=plan.model, choices=list(choices), usage=usage)

    tools = plan.tools
    holds = [CallHold(tools) for _ in range(plan.n * len(plan.prompts))] if tools and tools.shapes_answer else None

    def render(step: Step) -> list[ChatCompletionChunk]:
        out = []
        logprobs = _logprobs(context, plan, step)
        content = holds[step.index].feed(step.content) if holds else step.content
        thinking, ids = _thinking(plan, step), _ids(plan, step)
        if thinking or content or (logprobs and (logprobs.content or logprobs.reasoning)):
            delta = Delta(content=content or None, **_reasoning(context, thinking))
            out.append(chunk(ChunkChoice(index=step.index, delta=delta, logprobs=logprobs, token_ids=ids)))
        elif ids:  # a delimiter's or a special token's: no text, but a token
            out.append(chunk(ChunkChoice(index=step.index, delta=Delta(), token_ids=ids)))
        if step.finish_reason is None:
            return out
        reason = step.finish_reason
        if holds and tools:
            rest, calls = holds[step.index].finish()
            if rest or calls:
                delta = Delta(content=rest or None, **delta_fields(tools, calls))
                out.append(chunk(ChunkChoice(index=step.index, delta=delta)))
            reason = finish_reason(tools, reason, calls)
        finish = ChunkChoice(index=step.index, delta=Delta(), finish_reason=reason, thinking_budget=step.budget)
        out.append(chunk(finish))
        return out

    reply = plan.reply
    role = [chunk(*(ChunkChoice(index=i, delta=Delta(role=reply.role, content="")) for i in range(plan.n)))]
    role[0].prompt_token_ids = plan.prompts[0] if plan.return_token_ids else None
    echo = [chunk(ChunkChoice(index=i, delta=Delta(content=reply.echo))) for i in range(plan.n)] if reply.echo else []
    usage_chunk = (lambda totals: chunk(usage=totals)) if plan.include_usage else None
    return stream(Generation(plan, context), role + echo, render, usage_chunk)
