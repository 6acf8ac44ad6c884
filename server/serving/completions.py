"""Text completions: a plan's steps as OpenAI's completion, or as its stream of chunks.

The text is the model's raw output (thinking included); with ``echo`` the prompt comes first.
Choices are numbered ``prompt * n + choice``.
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


def _choice(plan: Plan, context: ServerContext, step: Step, prefix: str = "") -> CompletionChoice:
    return CompletionChoice(
        index=step.index,
        text=prefix + step.text,
        logprobs=completion_logprobs(context.tokenizer, step.text_logprobs, plan.top_logprobs, len(prefix)),
        finish_reason=step.finish_reason,
        thinking_budget=step.budget,
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
    return stream(Generation(plan, context), opening, lambda step: [chunk(_choice(plan, context, step))], usage_chunk)
