"""Text completions: a plan's steps as OpenAI's completion, or as its stream of chunks.

The text is the model's raw output (thinking included); with ``echo`` the prompt comes first.
Choices are numbered ``prompt * n + choice``. With vLLM's ``return_token_ids``, each choice carries its
``token_ids`` (a chunk: the delta's) and its prompt's ``prompt_token_ids`` (a stream: in its first chunk).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from server.protocol.common import Usage
from server.protocol.completions import Completion, CompletionChoice
from server.serving.choice import Step
from server.serving.context import ServerContext
from server.serving.generate import Generation, collect, stream
from server.serving.logprobs import completion_logprobs
from server.serving.plan import Plan


def _echo(plan: Plan, context: ServerContext, index: int, echo: bool) -> str:
    return context.tokenizer.decode(plan.prompts[plan.prompt_of(index)]) if echo else ""


def _choice(plan: Plan, context: ServerContext, step: Step, prefix: str = "", first: bool = True) -> CompletionChoice:
    ids = plan.return_token_ids
    return CompletionChoice(
        index=step.index,
        text=prefix + step.text,
        logprobs=completion_logprobs(context.tokenizer, step.text_logprobs, plan.top_logprobs, len(prefix)),
        finish_reason=step.finish_reason,
        thinking_budget=step.budget,
        token_ids=step.token_ids if ids else None,
        prompt_token_ids=plan.prompts[plan.prompt_of(step.index)] if ids and first else None,
    )


async def complete(plan: Plan, context: ServerContext, echo: bool) -> Completion:
    generation = Generation(plan, context)
    steps = await collect(generation)
    choices = [_choice(plan, context, step, _echo(plan, context, step.index, echo)) for step in steps]
    return Completion(id=plan.request_id, model=plan.model, choices=choices, usage=generation.usage())


def chunks(plan: Plan, context: ServerContext, echo: bool) -> AsyncIterator[Completion]:
    """The echoed prompts first (with the engine's first output), then text deltas; usage last when asked."""

    def chunk(*choices: CompletionChoice, usage: Usage | None = None) -> Completion:
        return Completion(id=plan.request_id, model=plan.model, choices=list(choices), usage=usage)

    count = len(plan.prompts) * plan.n
    opening = (
        [chunk(CompletionChoice(index=i, text=_echo(plan, context, i, True))) for i in range(count)] if echo else []
    )
    usage_chunk = (lambda totals: chunk(usage=totals)) if plan.include_usage else None
    started: set[int] = set()  # choices that sent a chunk: the prompt's ids go with a choice's first (vLLM's way)

    def render(step: Step) -> list[Completion]:
        first = step.index not in started
        started.add(step.index)
        return [chunk(_choice(plan, context, step, first=first))]

    return stream(Generation(plan, context), opening, render, usage_chunk)
