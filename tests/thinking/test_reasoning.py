"""Splitting thinking from answer, whole and streamed (pure; hypothesis for arbitrary chunkings)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.thinking.reasoning import ReasoningSplitter, ThinkingDelimiters, split_reasoning

DELIMITERS = ThinkingDelimiters()
TEXT = st.text(alphabet="ab</>thinkW\n ", max_size=30)


def stream(text: str, cuts: list[int], thinking: bool) -> tuple[str, str]:
    splitter = ReasoningSplitter(DELIMITERS, thinking)
    pieces, start = [], 0
    for cut in [*sorted({min(c, len(text)) for c in cuts}), len(text)]:
        pieces.append(splitter.feed(text[start:cut]))
        start = cut
    pieces.append(splitter.flush())
    return "".join(r for r, _ in pieces), "".join(c for _, c in pieces)


def test_prompt_opened_thinking() -> None:
    assert split_reasoning("guess 4.\n</think>\n\n4", DELIMITERS, thinking=True) == ("guess 4.\n", "4")


def test_generated_start_delimiter_opens_thinking() -> None:
    assert split_reasoning("<think>plan</think>\n\nok", DELIMITERS, thinking=False) == ("plan", "ok")


def test_unfinished_thinking_is_all_reasoning_and_no_thinking_is_all_content() -> None:
    assert split_reasoning("still going", DELIMITERS, thinking=True) == ("still going", None)
    assert split_reasoning("plain answer", DELIMITERS, thinking=False) == (None, "plain answer")


def test_only_the_first_end_delimiter_splits() -> None:
    assert split_reasoning("a</think>b</think>c", DELIMITERS, thinking=True) == ("a", "b</think>c")


@given(
    reasoning=TEXT.filter(lambda t: "</think>" not in t and not t.lstrip().startswith("<think>")),
    content=TEXT,
    cuts=st.lists(st.integers(0, 80)),
)
def test_any_chunking_streams_the_same_split(reasoning: str, content: str, cuts: list[int]) -> None:
    text = f"{reasoning}</think>\n\n{content}"
    whole = split_reasoning(text, DELIMITERS, thinking=True)
    streamed = stream(text, cuts, thinking=True)
    assert streamed == (whole[0] or "", whole[1] or "")
    assert streamed[0] == reasoning


@given(text=TEXT, cuts=st.lists(st.integers(0, 40)), thinking=st.booleans())
def test_streaming_loses_no_text(text: str, cuts: list[int], thinking: bool) -> None:
    reasoning, content = stream(text, cuts, thinking)
    whole = split_reasoning(text, DELIMITERS, thinking)
    assert (reasoning, content) == (whole[0] or "", whole[1] or "")


