"""Text completions: a plan's steps as OpenAI's completion, or as its stream of chunks.

The text is the model's raw output (thinking included); ``logprobs`` cover every token the engine
produced, EOS included, as vLLM's (a scorer reads the one token it asked for after the prompt's).
With ``echo`` the prompt comes first, in a choice's first chunk when streamed (vLLM's way); with
``logprobs`` too, the prompt's tokens get theirs, the first one's null, from the engine's prompt
logprobs (``echo`` asks for them); ``max_tokens: 0`` returns the prompt alone.
Choices are numbered ``prompt * n + choice``. With vLLM's ``return_token_ids``, each choice carries its
``token_ids`` (a chunk: the delta's) and its prompt's ``prompt_token_ids`` (a stream: in its first chunk);
with ``prompt_logprobs`` (or ``echo`` with ``logprobs``), its prompt's ``prompt_logprobs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from server.protocol.common import Usage
from server.protocol.completions import Completion, CompletionChoice
from server.serving.choice import Step
from server.serving.context import ServerContext
from server.serving.generate import Generation, collect, stream
from server.serving.logprobs import completion_logprobs, next_offset, prompt_logprobs, prompt_positions, tokens_as_ids
from server.serving.plan import Plan


@dataclass(frozen=True)
class _Render:
    """One request's choices as its wire shape: what ``echo`` and ``max_tokens: 0`` ask, the names of tokens."""

    plan: Plan
    context: ServerContext
    generation: Generation
    echo: bool
    echo_only: bool  # max_tokens 0: the engine's one token is not shown

    def choice(self, step: Step, first: bool = True, offset: int = 0) -> CompletionChoice:
        """``first``: the choice's first chunk (or the whole choice), where the echo and the prompt's ids go."""
        plan, tokenizer = self.plan, self.context.tokenizer
        prompt = plan.prompt_of(step.index)
        text = "" if self.echo_only else step.text
        positions = None if step.token_logprobs is None else [] if self.echo_only else step.token_logprobs
        if self.echo and first:
            ids = plan.prompts[prompt]
            text = tokenizer.decode(ids) + text
            if positions is not None:
                positions = prompt_positions(ids, self.generation.prompt_logprobs[prompt]) + positions
        as_ids = tokens_as_ids(plan.return_tokens_as_token_ids, self.context.settings.return_tokens_as_token_ids)
        asked_ids = plan.return_token_ids
        return CompletionChoice(
            index=step.index,
            text=text,
            logprobs=completion_logprobs(tokenizer, positions, plan.top_logprobs, offset, as_ids),
            finish_reason=step.finish_reason,
            thinking_budget=step.budget,
            token_ids=step.token_ids if asked_ids else None,
            prompt_token_ids=plan.prompts[prompt] if asked_ids and first else None,
            prompt_logprobs=prompt_logprobs(self.generation.prompt_logprobs[prompt]) if not plan.stream else None,
        )


async def complete(plan: Plan, context: ServerContext, echo: bool, echo_only: bool = False) -> Completion:
    generation = Generation(plan, context)
    render = _Render(plan, context, generation, echo, echo_only)
    choices = [render.choice(step) for step in await collect(generation)]
    return Completion(id=plan.request_id, model=plan.model, choices=choices, usage=generation.usage())


def chunks(plan: Plan, context: ServerContext, echo: bool, echo_only: bool = False) -> AsyncIterator[Completion]:
    """Each choice's deltas (the first with the echoed prompt); usage last when asked."""

    def chunk(*choices: CompletionChoice, usage: Usage | None = None) -> Completion:
        return Completion(id=plan.request_id, model=plan.model, choices=list(choices), usage=usage)

    generation = Generation(plan, context)
    renderer = _Render(plan, context, generation, echo, echo_only)
    usage_chunk = (lambda totals: chunk(usage=totals)) if plan.include_usage else None
    offsets: dict[int, int] = {}  # each choice's next text_offset; a choice absent here has sent no chunk

    def render(step: Step) -> list[Completion]:
        first = step.index not in offsets
        choice = renderer.choice(step, first, offsets.get(step.index, 0))
        offsets[step.index] = next_offset(choice.logprobs, offsets.get(step.index, 0))
        if not first and renderer.echo_only and step.finish_reason is None:
            return []  # the prompt went out whole in the first chunk: nothing generated is shown
        return [chunk(choice)]

    return stream(generation, [], render, usage_chunk)
