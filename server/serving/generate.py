"""Generate: a plan's engine requests run, each choice's deltas through its :class:`ChoiceTrack`.

``Generation.steps`` yields each choice's steps as the engine produces them. A choice that
finishes carries its budget report and is recorded in the metrics once; when every choice
of a prompt has stopped on a stop string, that prompt's engine request is aborted.
Closing the generator (a client that left) aborts every engine request still running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import TypeVar

from server.engine.types import EngineOutput
from server.ops.access_log import note_usage
from server.protocol.common import BudgetReport, Usage, usage
from server.serving.choice import ChoiceTrack, Step
from server.serving.context import ServerContext
from server.serving.merge import Merged
from server.serving.plan import Plan
from server.thinking.tracker import TokenTracker

T = TypeVar("T")


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

    async def steps(self) -> AsyncIterator[Step]:
        streams = [self.context.engine.generate(request) for request in self.plan.engine_requests]
        merged = Merged(streams)
        async with aclosing(merged.items()) as outputs:
            async for prompt, output in outputs:
                self.cached[prompt] = max(self.cached[prompt], output.cached_tokens)
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
    the first chunk then means the model has started (clients time TTFT on it).
    """
    plan, first = generation.plan, True
    async with aclosing(generation.steps()) as steps:
        async for step in steps:
            for chunk in opening:
                yield chunk
            opening = []
            if first and step.has_output:
                generation.context.first_token_sent(plan.model, plan.arrived)
                first = False
            for chunk in render(step):
                yield chunk
    totals = generation.usage()
    if usage_chunk is not None:
        yield usage_chunk(totals)
