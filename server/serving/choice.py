"""One choice on its way out: the engine's deltas become thinking, answer, logprobs and a report.

Every choice of every endpoint goes through a :class:`ChoiceTrack`, streamed or not (a
non-streamed choice is one delta, or several when the front end matches stop strings):

1. the token tracker names each token's role (thinking, end, the budget's scaffolding, answer);
2. stop strings, when the front end matches them, skip protected characters: the thinking
   (unless the request asks otherwise) and whatever the budget forced; a match cuts the
   tokens, text and logprobs where vLLM would (the text after the stop string with
   ``include_stop_str_in_output``) and finishes the choice with ``stop``;
3. the text splits into thinking and answer; a forced answer prefix is left out of the answer
   unless the request keeps it;
4. each token's logprobs go with its role: thinking, answer, or none (delimiters, specials).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from server.engine.types import ChoiceOutput, TokenLogprob
from server.protocol.common import BudgetReport
from server.thinking.reasoning import ReasoningSplitter, ThinkingDelimiters
from server.thinking.stop_strings import StopScanner
from server.thinking.tracker import Role, TokenRole, TokenTracker

Position = tuple[int, dict[int, TokenLogprob]]  # a sampled token and its candidates


@dataclass(frozen=True)
class ChoiceOptions:
    """How a request wants its choices shown; the same for all its choices."""

    stops: tuple[str, ...] = ()  # matched here (the engine got none)
    stop_in_thinking: bool = False  # stop strings may match inside the thinking too
    drop_answer_prefix: str = ""  # a forced answer prefix to leave out of the answer ("" keeps it)
    skip_special_tokens: bool = True  # as the engine decodes this request (its text, and each token's share of it)
    include_stop: bool = False  # include_stop_str_in_output: a matched stop string stays in the text
    call_opener: str = ""  # a tool call opened in the thinking ends it (tool_choice "auto", one-token opener)


@dataclass(slots=True)
class Step:
    """What one engine delta of a choice adds (or, joined with :meth:`extend`, a whole choice)."""

    index: int = 0  # the choice's number in the response
    text: str = ""  # raw text (text completions)
    reasoning: str = ""
    content: str = ""
    reasoning_logprobs: list[Position] | None = None
    answer_logprobs: list[Position] | None = None
    text_logprobs: list[Position] | None = None  # every token but the special ones
    token_logprobs: list[Position] | None = None  # every token kept, EOS too (vLLM's text completions)
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    budget: BudgetReport | None = None  # on the finishing step of a budgeted choice
    token_ids: list[int] = field(default_factory=list)  # the tokens kept (a stop string cuts them too)

    @property
    def has_output(self) -> bool:
        """Whether the step carries a token for the client (text, or logprobs of a held-back token)."""
        return bool(self.text or self.reasoning or self.content or self.text_logprobs)

    def extend(self, later: Step) -> None:
        self.text += later.text
        self.token_ids += later.token_ids
        self.reasoning += later.reasoning
        self.content += later.content
        for name in ("reasoning_logprobs", "answer_logprobs", "text_logprobs", "token_logprobs"):
            mine, theirs = getattr(self, name), getattr(later, name)
            if theirs is not None:
                setattr(self, name, (mine or []) + theirs)
        self.finish_reason, self.stop_reason = later.finish_reason, later.stop_reason
        self.budget = later.budget or self.budget


_SEPARATORS = {inserted: TokenRole(Role.SEPARATOR, inserted) for inserted in (False, True)}
_PROTECTED = frozenset({Role.THINKING, Role.END, Role.SCAFFOLD, Role.SEPARATOR})  # not the answer


@dataclass
class ChoiceTrack:
    tracker: TokenTracker
    splitter: ReasoningSplitter
    options: ChoiceOptions
    tokenizer: Any
    scanner: StopScanner | None = None
    roles: list[TokenRole] = field(default_factory=list)
    chars: int = 0  # characters of text received so far
    done: bool = False
    _prefix_armed: bool = False
    _answered: bool = False  # an answer token came (newlines before it are separators)

    @classmethod
    def create(
        cls, tracker: TokenTracker, delimiters: ThinkingDelimiters, options: ChoiceOptions, tokenizer: Any
    ) -> ChoiceTrack:
        scanner = StopScanner(options.stops, include=options.include_stop) if options.stops else None
        splitter = ReasoningSplitter(delimiters, tracker.opens_thinking, call_opener=options.call_opener)
        return cls(tracker, splitter, options, tokenizer, scanner)

    def feed(self, output: ChoiceOutput) -> Step | None:
        """One engine delta; None once the choice has finished (a sibling may still be decoding)."""
        if self.done:
            return None
        roles = [
            self._separate(role, token)
            for role, token in zip(self.tracker.feed(output.token_ids), output.token_ids, strict=True)
        ]
        if self.tracker.forced_end and not self._prefix_armed:  # the answer to come starts with the prefix
            self._prefix_armed = True
            self.splitter.drop_prefix = self.options.drop_answer_prefix
        step = Step(text=output.text, finish_reason=output.finish_reason, stop_reason=output.stop_reason)
        positions = list(zip(output.token_ids, output.logprobs, strict=False)) if output.logprobs is not None else None
        if self.scanner is not None:
            keep = self._match_stops(output, roles, step)
            roles = roles[:keep]
            positions = positions[:keep] if positions is not None else None
        self.roles.extend(roles)
        step.token_ids = output.token_ids[: len(roles)]
        step.reasoning, step.content = self.splitter.feed(step.text)
        if step.finish_reason is not None:
            reasoning, content = self.splitter.flush()
            step.reasoning, step.content = step.reasoning + reasoning, step.content + content
            self.done = True
        if positions is not None:
            step.reasoning_logprobs = [p for p, r in zip(positions, roles, strict=True) if r.role is Role.THINKING]
            step.answer_logprobs = [p for p, r in zip(positions, roles, strict=True) if self._is_answer(r)]
            step.text_logprobs = [p for p, r in zip(positions, roles, strict=True) if r.role is not Role.SPECIAL]
            step.token_logprobs = positions
        return step

    def _separate(self, role: TokenRole, token: int) -> TokenRole:
        """Newlines before the first answer token separate it from the thinking, as the text split says."""
        if self._answered or role.role not in (Role.ANSWER, Role.SCAFFOLD):
            return role
        if self.tokenizer.decode([token]).strip("\n"):
            self._answered = True
            return role
        return _SEPARATORS[role.inserted]  # a forced closing's newlines stay marked as forced

    def _is_answer(self, role: TokenRole) -> bool:
        return role.role is Role.ANSWER or (role.role is Role.SCAFFOLD and not self.options.drop_answer_prefix)

    @property
    def token_count(self) -> int:
        return len(self.roles)

    @property
    def reasoning_tokens(self) -> int:
        return sum(role.role is Role.THINKING for role in self.roles)

    def _match_stops(self, output: ChoiceOutput, roles: list[TokenRole], step: Step) -> int:
        """Feed the scanner (protecting what must not be cut); how many of the delta's tokens to keep."""
        assert self.scanner is not None
        offset, text = self.chars, output.text
        ends = self._token_ends(output.token_ids, text)
        for i, role in enumerate(roles):
            if role.inserted or (role.role in _PROTECTED and not self.options.stop_in_thinking):
                span = (0, len(text)) if ends is None else (ends[i - 1] if i else 0, ends[i])
                self.scanner.protect(offset + span[0], offset + span[1])
        self.chars += len(text)
        match = self.scanner.feed(text)
        step.text = self.scanner.release(final=output.finish_reason is not None)
        if match is None:
            return len(roles)
        step.finish_reason, step.stop_reason = "stop", match.stop
        # Keep the tokens up to the one that completed the match, as vLLM does.
        return len(roles) if ends is None else bisect_left(ends, match.end - offset) + 1

    def _token_ends(self, token_ids: list[int], text: str) -> list[int] | None:
        """Where each token's characters end within this delta's ``text``; None when unknown.

        One token per delta is the rule (one decode step); a delta that merges several is
        decoded prefix by prefix. When that does not reproduce the engine's text (a character
        split across tokens), each token is taken to span the whole delta, which protects too
        much rather than too little.
        """
        if len(token_ids) <= 1:
            return [len(text)] * len(token_ids)
        skip = self.options.skip_special_tokens
        ends = [
            len(self.tokenizer.decode(token_ids[:i], skip_special_tokens=skip)) for i in range(1, len(token_ids) + 1)
        ]
        return ends if ends[-1] == len(text) else None
