"""Generate: a plan's engine requests run, each choice's deltas through its :class:`ChoiceTrack`.

``Generation.steps`` yields each choice's steps as the engine produces them. A choice that
finishes carries its budget report and is recorded in the metrics once; when every choice
of a prompt has stopped on a stop string, that prompt's engine request is aborted.
Closing the generator (a client that left) aborts every engine request still running.
With vLLM's ``continuous_usage_stats``, :func:`stream` puts each chunk's choice's usage so far on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from typing import Protocol, TypeVar, runtime_checkable

from server.engine.types import EngineOutput, PromptLogprobs
from server.ops.access_log import note_usage
from server.protocol.common import BudgetReport, Usage, usage
from server.serving.choice import ChoiceTrack, Step
from server.serving.context import ServerContext
from server.serving.merge import Merged
from server.serving.plan import Plan
from server.thinking.tracker import Role, TokenTracker

T = TypeVar("T")


class _Indexed(Protocol):
    @property
    def index(self) -> int: ...


@runtime_checkable
class Metered(Protocol):
    """A chunk that can carry usage (chat's and text completions'): its choices say whose."""

    usage: Usage | None

    @property
    def choices(self) -> Sequence[_Indexed]: ...


class Generation:
    """One plan's run: the steps of all its choices, then the usage (once the steps are exhausted).

    ``cached_tokens`` in the usage: each prompt's prefix-cache hits once, as its ``prompt_tokens`` count once
    whatever ``n`` is.
    """

    def __init__(self, plan: Plan, context: ServerContext) -> None:
        self.plan, self.context = plan, context
        thinking = context.thinking
        self.tracks = [
            ChoiceTrack.create(
                TokenTracker.of(
                    plan.generations[prompt], thinking.end, thinking.start, context.special_ids, plan.tool_open
                ),
                thinking.format.delimiters,
                plan.choice,
                context.tokenizer,
            )
            for prompt in range(len(plan.prompts))
            for _ in range(plan.n)
        ]
        self.cached = [0] * len(plan.prompts)  # each prompt's tokens found in the prefix cache
        self.prompt_logprobs: list[PromptLogprobs | None] = [None] * len(plan.prompts)  # with each first output
        self._counted = [0] * len(self.tracks)  # each choice's tokens whose role the running usage has read
        self._thinking = [0] * len(self.tracks)  # ... and how many of those were thinking

    async def steps(self) -> AsyncIterator[Step]:
        streams = [self.context.engine.generate(request) for request in self.plan.engine_requests]
        merged = Merged(streams)
        async with aclosing(merged.items()) as outputs:
            async for prompt, output in outputs:
                self.cached[prompt] = max(self.cached[prompt], output.cached_tokens)
                if output.prompt_logprobs is not None:  # before the steps: their rendering reads them
                    self.prompt_logprobs[prompt] = output.prompt_logprobs
                for step in self._feed(prompt, output):
                    yield step
                if self.plan.choice.stops and not output.finished and self._all_done(prompt):
                    merged.stop(prompt)  # every choice stopped on a stop string: abort the rest

    def _feed(self, prompt: int, output: EngineOutput) -> list[Step]:
        steps = []
        for choice in output.choices:
            index = prompt * self.plan.n + choice.index
            step = self.tracks[index].feed(choice)
            if step is None:
                continue
            step.index = index
            if step.finish_reason is not None:
                step.budget = self.finish_choice(index)
            steps.append(step)
        return steps

    def finish_choice(self, index: int) -> BudgetReport | None:
        """A choice ended: its budget report, and its thinking recorded in the metrics (once)."""
        track, generation = self.tracks[index], self.plan.generations[self.plan.prompt_of(index)]
        budget = generation.budget
        if budget is not None:
            state = track.tracker.state  # loops_broken: reported where the loop guard was on
            report: BudgetReport | None = BudgetReport(
                **state.as_dict(), loops_broken=int(state.loops_broken > 0) if budget.loop_guard else None
            )
        elif generation.thinking_off:
            report = BudgetReport(thinking_tokens=0, waits=0, forced_end=False, thinking_off=True)
        else:
            report = None
        self.context.metrics.record_choice(self.plan.model, track.reasoning_tokens, budget, report)
        return report

    def _all_done(self, prompt: int) -> bool:
        n = self.plan.n
        return all(track.done for track in self.tracks[prompt * n : (prompt + 1) * n])

    def usage(self) -> Usage:
        completion = sum(track.token_count for track in self.tracks)
        reasoning = sum(track.reasoning_tokens for track in self.tracks)
        totals = usage(sum(len(p) for p in self.plan.prompts), completion, reasoning, sum(self.cached))
        note_usage(self.plan.model, totals)
        return totals

    def usage_so_far(self, index: int, started: bool = True) -> Usage:
        """One choice's usage until now (vLLM's continuous usage): its prompt, and its tokens unless not started."""
        prompt, track = self.plan.prompt_of(index), self.tracks[index]
        new = track.roles[self._counted[index] :]  # counted once each: a long stream stays linear
        self._thinking[index] += sum(role.role is Role.THINKING for role in new)
        self._counted[index] += len(new)
        tokens, thinking = (track.token_count, self._thinking[index]) if started else (0, 0)
        return usage(len(self.plan.prompts[prompt]), tokens, thinking, self.cached[prompt])


async def collect(generation: Generation) -> list[Step]:
    """A non-streamed request: each choice's steps joined, in choice order."""
    whole: dict[int, Step] = {}
    async with aclosing(generation.steps()) as steps:
        async for step in steps:
            if step.index in whole:
                whole[step.index].extend(step)
            else:
                whole[step.index] = step
    return [whole[index] for index in sorted(whole)]


async def stream(
    generation: Generation,
    opening: list[T],
    render: Callable[[Step], list[T]],
    usage_chunk: Callable[[Usage], T] | None,
) -> AsyncIterator[T]:
    """A streamed request's chunks: ``opening`` with the engine's first output, each step rendered, usage last.

    The opening goes out with the first output, as OpenAI's and vLLM's servers send their role chunk:
    the first chunk then means the model has started (clients time TTFT on it). With continuous usage
    every chunk carries its choice's usage so far (an opening chunk: its prompt's tokens, none generated).
    """
    plan, first = generation.plan, True
    meter = _meter(generation) if plan.continuous_usage else None
    async with aclosing(generation.steps()) as steps:
        async for step in steps:
            for chunk in opening:
                yield meter(chunk, None) if meter else chunk
            opening = []
            if first and step.has_output:
                generation.context.first_token_sent(plan.model, plan.arrived)
                first = False
            for chunk in render(step):
                yield meter(chunk, step.index) if meter else chunk
    totals = generation.usage()
    if usage_chunk is not None:
        yield usage_chunk(totals)


def _meter(generation: Generation) -> Callable[[T, int | None], T]:
    """Puts on a chunk the usage of its choice (``index``; an opening chunk's: its first choice, not started)."""

    def meter(chunk: T, index: int | None) -> T:
        if isinstance(chunk, Metered):
            whose = index if index is not None else (chunk.choices[0].index if chunk.choices else 0)
            chunk.usage = generation.usage_so_far(whose, started=index is not None)
        return chunk

    return meter
