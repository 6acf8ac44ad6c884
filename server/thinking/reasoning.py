"""Split a completion into its thinking and its answer, whole or as a stream of deltas.

Pure text processing, no engine types. The thinking opens with the start delimiter
(in the prompt, or generated first) and ends at the end delimiter; the blank
lines that follow the end are not part of the answer. A completion whose thinking
never ends is all thinking. A tool call opened inside the thinking (``call_opener``,
when the request offers tools) ends it too, and stays in the answer: it is the call.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ThinkingDelimiters:
    start: str = "<think>"
    end: str = "</think>"


@dataclass
class ReasoningSplitter:
    """Feed text deltas, get ``(reasoning, content)`` deltas back.

    ``thinking`` says whether the prompt already opened the thinking. Text that
    might be the beginning of a delimiter is held back until the next delta
    (or :meth:`flush`) decides it.
    """

    delimiters: ThinkingDelimiters
    thinking: bool
    drop_prefix: str = ""  # set once the budget forced the end: its answer prefix is left out of the answer
    call_opener: str = ""  # a tool call's opener ("<tool_call>"): ends the thinking, kept in the answer
    _pending: str = ""
    _started: bool = False  # some text was seen (a generated start must come first)
    _answer_started: bool = False
    _lead: str = ""  # the answer's first characters, held while they may still be the dropped prefix
    _skip_space: bool = False  # the prefix was dropped: so is the white space after it

    def feed(self, delta: str) -> tuple[str, str]:
        text = self._pending + delta
        self._pending = ""
        if not self._started:
            stripped = text.lstrip()
            if self.delimiters.start.startswith(stripped):
                self._pending = text  # could still become the start delimiter
                return "", ""
            self._started = True
            if stripped.startswith(self.delimiters.start):
                self.thinking = True
                text = stripped[len(self.delimiters.start) :]
        if self.thinking:
            return self._feed_thinking(text)
        return "", self._answer(text)

    def flush(self) -> tuple[str, str]:
        """Release held-back text at the end of the stream."""
        text, self._pending, self._started = self._pending, "", True
        if self.thinking:
            return text, ""
        content = self._answer(text)
        self._lead = ""  # a forced prefix cut short by the token limit is scaffolding all the same
        return "", content

    def _feed_thinking(self, text: str) -> tuple[str, str]:
        end, call = text.find(self.delimiters.end), text.find(self.call_opener) if self.call_opener else -1
        if call >= 0 and (end < 0 or call < end):
            self.thinking = False
            return text[:call], self._answer(text[call:])
        if end >= 0:
            self.thinking = False
            return text[:end], self._answer(text[end + len(self.delimiters.end) :])
        keep = max(partial_suffix(text, self.delimiters.end), partial_suffix(text, self.call_opener))
        self._pending = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep], ""

    def _answer(self, text: str) -> str:
        """Answer text, less the blank lines after the end delimiter and a forced answer prefix."""
        if self._answer_started:
            return text
        text = (self._lead + text).lstrip("\n")
        self._lead = ""
        if self.drop_prefix:
            if len(text) < len(self.drop_prefix) and self.drop_prefix.startswith(text):
                self._lead = text  # undecided: wait for more
                return ""
            if text.startswith(self.drop_prefix):
                text = text[len(self.drop_prefix) :]
                self._skip_space = True
            self.drop_prefix = ""
        if self._skip_space:
            text = text.lstrip()
        self._answer_started = bool(text)
        return text


def partial_suffix(text: str, delimiter: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``delimiter`` (0 for none or "")."""
    for size in range(min(len(text), len(delimiter) - 1), 0, -1):
        if delimiter.startswith(text[-size:]):
            return size
    return 0


def split_reasoning(text: str, delimiters: ThinkingDelimiters, thinking: bool) -> tuple[str | None, str | None]:
    """A whole completion as ``(reasoning, content)``; None for a part that is absent."""
    splitter = ReasoningSplitter(delimiters, thinking)
    reasoning, content = splitter.feed(text)
    tail_reasoning, tail_content = splitter.flush()
    reasoning, content = reasoning + tail_reasoning, content + tail_content
    return (reasoning if reasoning or splitter.thinking else None), (content or None)
