"""Stop strings over a growing text that must not match inside protected spans.

Pure text processing, no engine types. vLLM matches stop strings in its
detokenizer, where a stop string could cut a wait string or a forced closing in
half; for budgeted requests the front end matches them here instead, ignoring
any match that overlaps text the budget inserted. The rest is vLLM's
semantics: the match that completes first wins, the text is cut where the stop
string begins, and text that could still become a match is held back; with
``include`` (vLLM's ``include_stop_str_in_output``) the cut is where it ends,
and nothing is held back: the text up to a match is shown either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StopMatch:
    stop: str
    start: int  # where the stop string begins: the text is cut here (unless it is included)

    @property
    def end(self) -> int:
        return self.start + len(self.stop)


@dataclass
class StopScanner:
    stops: tuple[str, ...]
    text: str = ""
    match: StopMatch | None = None
    released: int = 0  # characters handed out so far
    protected: list[tuple[int, int]] = field(default_factory=list)  # [start, end) character spans
    include: bool = False  # the matched stop string stays in the text

    def __post_init__(self) -> None:
        if not self.stops or not all(self.stops):
            raise ValueError("stop strings must be non-empty")

    @property
    def hold(self) -> int:
        """Characters at the end of the text that may still begin a match (to be cut, unless it is included)."""
        return 0 if self.include else max(len(stop) for stop in self.stops) - 1

    def protect(self, start: int, end: int) -> None:
        """No match may overlap ``[start, end)`` (positions in the whole text, arrived or not)."""
        if end <= start:
            return
        if self.protected and self.protected[-1][1] >= start >= self.protected[-1][0]:
            self.protected[-1] = (self.protected[-1][0], max(end, self.protected[-1][1]))  # one span per run
        else:
            self.protected.append((start, end))

    def feed(self, delta: str) -> StopMatch | None:
        """Append ``delta``; the first match so far, if any (the text after it is ignored)."""
        if self.match is None and delta:
            before = len(self.text)
            self.text += delta
            self.match = self._first_match(searched=before)
        return self.match

    def release(self, final: bool = False) -> str:
        """The text that can be handed out now: up to a match (its end, when included), all of it when ``final``,
        else less the hold."""
        if self.match is not None:
            end = self.match.end if self.include else self.match.start
        elif final:
            end = len(self.text)
        else:
            end = len(self.text) - self.hold
        out = self.text[self.released : max(end, self.released)]
        self.released += len(out)
        return out

    def _first_match(self, searched: int) -> StopMatch | None:
        """The match that completes first among those ending after ``searched`` characters."""
        best: StopMatch | None = None
        for stop in self.stops:
            found = self._find(stop, max(0, searched - len(stop) + 1))
            if found is not None and (best is None or found.end < best.end):
                best = found
        return best

    def _find(self, stop: str, start: int) -> StopMatch | None:
        while (index := self.text.find(stop, start)) != -1:
            if not self._overlaps_protected(index, index + len(stop)):
                return StopMatch(stop, index)
            start = index + 1
        return None

    def _overlaps_protected(self, start: int, end: int) -> bool:
        return any(start < p_end and p_start < end for p_start, p_end in self.protected)
