"""Stop strings over streamed text, with spans no match may overlap."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.thinking.stop_strings import StopMatch, StopScanner

Spans = list[tuple[int, int]]


def run(
    stops: tuple[str, ...], deltas: list[str], protected: Spans = (), include: bool = False
) -> tuple[str, StopMatch | None]:  # type: ignore[assignment]
    scanner = StopScanner(stops, include=include)
    for span in protected:
        scanner.protect(*span)
    shown = ""
    for delta in deltas:
        if scanner.feed(delta) is not None:
            break
        shown += scanner.release()
    return shown + scanner.release(final=True), scanner.match


def test_cuts_where_the_stop_string_begins() -> None:
    assert run(("STOP",), ["hello ST", "OP and more"]) == ("hello ", StopMatch("STOP", 6))


def test_holds_back_what_may_still_become_a_match() -> None:
    scanner = StopScanner(("STOP",))
    scanner.feed("abcST")
    assert scanner.release() == "ab"  # "cST" could begin "STOP"
    scanner.feed("x")
    assert scanner.release() == "c"  # the last len("STOP") - 1 characters wait
    assert scanner.release(final=True) == "STx"


def test_the_match_that_completes_first_wins_and_ties_go_to_list_order() -> None:
    assert run(("bcd", "abcdef"), ["abcdefg"])[1] == StopMatch("bcd", 1)
    assert run(("cd", "bcd"), ["abcd"])[1] == StopMatch("cd", 2)


def test_a_match_overlapping_protected_text_is_ignored() -> None:
    text = "x Wait y Wait"
    protected = [(2, 6)]  # the first "Wait" was forced
    assert run(("Wait",), [text], protected) == ("x Wait y ", StopMatch("Wait", 9))
    assert run(("t y",), [text], protected) == (text, None)  # straddles the forced word's end


def test_protection_may_arrive_before_its_text() -> None:
    assert run(("Final",), ["abc", "Final Answer: 4"], [(3, 16)]) == ("abcFinal Answer: 4", None)


def test_an_included_stop_string_stays_and_nothing_is_held_back() -> None:
    scanner = StopScanner(("STOP",), include=True)
    scanner.feed("abcST")
    assert scanner.release() == "abcST"  # shown whether or not it becomes a match
    assert scanner.feed("OP and more") == StopMatch("STOP", 3)
    assert scanner.release() == "OP"  # up to the end of the match; the rest is cut
    assert run(("Wait",), ["x Wait y Wait z"], [(2, 6)], include=True) == ("x Wait y Wait", StopMatch("Wait", 9))


def test_empty_stop_strings_are_refused() -> None:
    with pytest.raises(ValueError):
        StopScanner(("",))


def reference(text: str, stops: tuple[str, ...], protected: list[tuple[int, int]]) -> str:
    """Brute force: the first end position at which some stop string ends, away from protected spans."""
    for end in range(1, len(text) + 1):
        for stop in stops:
            start = end - len(stop)
            free = all(not (start < p_end and p_start < end) for p_start, p_end in protected)
            if start >= 0 and text[start:end] == stop and free:
                return text[:start]
    return text


# A text cut into deltas anywhere, stop strings, and protected spans: the scanner's whole input space.
chunked = given(
    text=st.text(alphabet="abW", max_size=40),
    stops=st.lists(st.text(alphabet="abW", min_size=1, max_size=4), min_size=1, max_size=3),
    cuts=st.lists(st.integers(0, 40), max_size=8),
    spans=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 4)), max_size=3),
)


def chunks(text: str, cuts: list[int], spans: list[tuple[int, int]]) -> tuple[list[str], list[tuple[int, int]]]:
    """The deltas ``cuts`` make of ``text``, and the protected spans as (start, end)."""
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    return [text[a:b] for a, b in pairwise(bounds)], [(start, start + size) for start, size in spans]


@chunked
def test_any_chunking_shows_the_text_up_to_the_first_allowed_match(
    text: str, stops: list[str], cuts: list[int], spans: list[tuple[int, int]]
) -> None:
    deltas, protected = chunks(text, cuts, spans)
    shown, _ = run(tuple(stops), deltas, protected)
    assert shown == reference(text, tuple(stops), protected)


@chunked
def test_an_included_match_shows_the_same_text_and_the_stop_string(
    text: str, stops: list[str], cuts: list[int], spans: list[tuple[int, int]]
) -> None:
    deltas, protected = chunks(text, cuts, spans)
    shown, match = run(tuple(stops), deltas, protected, include=True)
    cut = reference(text, tuple(stops), protected)
    assert shown == (cut if match is None else cut + match.stop)
