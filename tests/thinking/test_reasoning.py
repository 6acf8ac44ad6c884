"""Splitting thinking from answer, whole and streamed (pure; hypothesis for arbitrary chunkings)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.thinking.reasoning import ReasoningSplitter, ThinkingDelimiters, split_reasoning

DELIMITERS = ThinkingDelimiters()
TEXT = st.text(alphabet="ab</>thinkW\n ", max_size=30)


def stream(text: str, cuts: list[int], thinking: bool, drop_prefix: str = "", call_opener: str = "") -> tuple[str, str]:
    splitter = ReasoningSplitter(DELIMITERS, thinking, drop_prefix, call_opener)
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


@given(
    reasoning=TEXT.filter(lambda t: "</think>" not in t and not t.lstrip().startswith("<think>")),
    prefix=st.sampled_from(["Final Answer:", "ab", "W"]),
    rest=TEXT,
    forced=st.booleans(),
    cuts=st.lists(st.integers(0, 80)),
)
def test_any_chunking_drops_the_same_prefix(
    reasoning: str, prefix: str, rest: str, forced: bool, cuts: list[int]
) -> None:
    # ``forced``: the answer starts with the prefix, as after a forced closing; else it may or may not.
    text = f"{reasoning}</think>\n\n{prefix if forced else ''}{rest}"
    streamed = stream(text, cuts, thinking=True, drop_prefix=prefix)
    assert streamed == stream(text, [], thinking=True, drop_prefix=prefix)
    assert streamed[0] == reasoning
    if forced:
        assert streamed[1] == rest.lstrip()


@given(text=TEXT, cuts=st.lists(st.integers(0, 40)), thinking=st.booleans())
def test_streaming_loses_no_text(text: str, cuts: list[int], thinking: bool) -> None:
    reasoning, content = stream(text, cuts, thinking)
    whole = split_reasoning(text, DELIMITERS, thinking)
    assert (reasoning, content) == (whole[0] or "", whole[1] or "")


def drop(pieces: list[str], prefix: str = "Final Answer:") -> str:
    """The content of a stream whose thinking the prompt opened, with ``prefix`` dropped."""
    splitter = ReasoningSplitter(DELIMITERS, thinking=True, drop_prefix=prefix)
    return "".join(splitter.feed(piece)[1] for piece in pieces) + splitter.flush()[1]


def test_a_prefix_split_across_deltas_is_dropped() -> None:
    assert drop(["a</think>\n\nFin", "al Ans", "wer", ":", " 46"]) == "46"


def test_the_blank_lines_before_the_prefix_go_too() -> None:
    assert drop(["a</think>", "\n", "\n", "Final Answer:", " 4"]) == "4"


def test_the_white_space_after_the_prefix_goes_too() -> None:
    assert drop(["a</think>\n\nFinal Answer:", " ", "\n ", "4", " 6"]) == "4 6"


def test_a_prefix_cut_short_by_the_end_of_the_stream_is_dropped() -> None:
    # The token limit can end the stream inside the forced prefix: it is scaffolding all the same.
    assert drop(["a</think>\n\nFinal Ans"]) == ""
    assert drop(["a</think>\n\nFinal Answer:"]) == ""


def test_text_that_is_not_the_prefix_is_kept() -> None:
    assert drop(["a</think>\n\nFinal", "ly 46"]) == "Finally 46"
    assert drop(["a</think>\n\n46. Final Answer: 46"]) == "46. Final Answer: 46"  # only at the start


@given(cuts=st.lists(st.integers(0, 60), max_size=8))
def test_a_call_opened_in_the_thinking_ends_it_and_stays_in_the_answer(cuts: list[int]) -> None:
    text = 'so add.\n<tool_call>{"name": "add"}</tool_call>'
    assert stream(text, cuts, thinking=True, call_opener="<tool_call>") == ("so add.\n", text[8:])


def test_an_opener_after_the_end_is_answer_text_and_without_tools_nothing_changes() -> None:
    with_tools = ReasoningSplitter(ThinkingDelimiters(), thinking=True, call_opener="<tool_call>")
    assert with_tools.feed("a</think>\n\n<tool_call>x") == ("a", "<tool_call>x")
    assert split_reasoning("a<tool_call>x", ThinkingDelimiters(), thinking=True) == ("a<tool_call>x", None)
