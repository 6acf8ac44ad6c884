"""Stop strings for budgeted requests, matched in the front end so they never cut forced text.

vLLM would match a request's stop strings in its detokenizer, where a stop
string may end the request in the middle of a wait string or of the forced
closing (``</think>`` + ``Final Answer:``). A budgeted request with stop strings
therefore reaches the engine without them and with delta outputs; this module
replays the budget over each choice's tokens, protects the characters of the
tokens the budget inserted, matches the stop strings with
:class:`server.stop_strings.StopScanner`, and closes the engine stream (which
aborts the request) once every choice has stopped.

With ``n > 1``, a choice that stops early keeps decoding in the engine until its
siblings finish (vLLM aborts a request's choices together); its output ends at
the stop string all the same.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from vllm import CompletionOutput, RequestOutput

from server.budget import Budget, BudgetState, decide, initial_state, observe
from server.stop_strings import StopScanner
from server.thinking_format import ThinkingTokens


def needs_stop_guard(budget: Budget | None, stops: list[str]) -> bool:
    """Whether the front end, not the engine, must match this request's stop strings."""
    return budget is not None and bool(stops)


@dataclass
class _Choice:
    state: BudgetState
    scanner: StopScanner
    chars: int = 0  # characters of text received so far
    done: bool = False


@dataclass
class StopGuard:
    """Per-choice stop matching for one engine request (all of whose choices share a budget)."""

    stops: tuple[str, ...]
    budget: Budget
    prompt_opens_thinking: bool
    tokenizer: Any
    skip_special_tokens: bool
    n: int
    _choices: dict[int, _Choice] = field(default_factory=dict)

    @property
    def all_done(self) -> bool:
        return len(self._choices) == self.n and all(c.done for c in self._choices.values())

    def apply(self, output: CompletionOutput) -> CompletionOutput | None:
        """One choice's delta with the text it may show; None once that choice has stopped."""
        choice = self._choices.get(output.index)
        if choice is None:
            state = initial_state(self.budget, self.prompt_opens_thinking)
            choice = self._choices[output.index] = _Choice(state, StopScanner(self.stops))
        if choice.done:
            return None
        token_ids, text, offset = list(output.token_ids), output.text, choice.chars
        ends = self._token_ends(token_ids, text)
        for i, token in enumerate(token_ids):
            if observe(self.budget, choice.state, token, decide(self.budget, choice.state)):
                span = (0, len(text)) if ends is None else (ends[i - 1] if i else 0, ends[i])
                choice.scanner.protect(offset + span[0], offset + span[1])
        choice.chars += len(text)
        match = choice.scanner.feed(text)
        output.text = choice.scanner.release(final=output.finish_reason is not None)
        if match is not None:
            # Keep the tokens up to the one that completed the match, as vLLM does.
            keep = len(token_ids) if ends is None else bisect_left(ends, match.end - offset) + 1
            output.token_ids = token_ids[:keep]
            if output.logprobs is not None:
                output.logprobs = output.logprobs[:keep]
            output.finish_reason, output.stop_reason = "stop", match.stop
        choice.done = output.finish_reason is not None
        return output

    def _token_ends(self, token_ids: list[int], text: str) -> list[int] | None:
        """Where each token's characters end within this delta's ``text``; None when unknown.

        One token per delta is the rule (one decode step); a delta that merges
        several is decoded prefix by prefix. When that does not reproduce the
        engine's text (a character split across tokens), each token is taken to
        span the whole delta, which protects too much rather than too little.
        """
        if len(token_ids) <= 1:
            return [len(text)] * len(token_ids)
        ends = [
            len(self.tokenizer.decode(token_ids[:i], skip_special_tokens=self.skip_special_tokens))
            for i in range(1, len(token_ids) + 1)
        ]
        return ends if ends[-1] == len(text) else None


async def guard_stops(outputs: AsyncIterator[RequestOutput], guard: StopGuard) -> AsyncIterator[RequestOutput]:
    """The engine's delta outputs with stop strings applied; closing the engine stream once all choices stopped."""
    async with aclosing(outputs):  # type: ignore[type-var]
        async for result in outputs:
            result.outputs = [kept for kept in map(guard.apply, result.outputs) if kept is not None]
            if guard.all_done:
                result.finished = True
                yield result
                return
            if result.outputs:
                yield result


def guard_outputs(
    outputs: AsyncIterator[RequestOutput],
    *,
    budget: Budget | None,
    stops: list[str],
    prompt_opens_thinking: bool,
    thinking: ThinkingTokens,
    tokenizer: Any,
    n: int,
) -> AsyncIterator[RequestOutput]:
    """``outputs`` as they are, or through a :class:`StopGuard` when :func:`needs_stop_guard`."""
    if budget is None or not needs_stop_guard(budget, stops):
        return outputs
    guard = StopGuard(tuple(stops), budget, prompt_opens_thinking, tokenizer, thinking.skip_special_tokens, n)
    return guard_stops(outputs, guard)
