"""Resolving the delimiters in a tokenizer: auto, a format, vLLM's parser names, explicit strings."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from transformers import AutoTokenizer

from bench.server_process import running_server
from server.ops.settings import SHIPPED_MODEL
from server.thinking.spec import BudgetSpec, to_budget
from server.thinking.tokens import FormatChoice, ThinkingFormatError, resolve_thinking_tokens

TOKENIZER = AutoTokenizer.from_pretrained(SHIPPED_MODEL)


def test_auto_picks_think_when_the_tokenizer_has_it() -> None:
    tokens = resolve_thinking_tokens(TOKENIZER)
    assert tokens.format.name == "think" and TOKENIZER.decode([tokens.end]) == "</think>"
    assert tokens.skip_special_tokens  # </think> shows in the text


def test_s1_ends_the_thinking_at_im_start_and_keeps_special_tokens_visible() -> None:
    tokens = resolve_thinking_tokens(TOKENIZER, "s1")
    assert TOKENIZER.decode([tokens.end]) == "<|im_start|>" and not tokens.skip_special_tokens
    budget = to_budget(BudgetSpec(0, 4, 0, "Wait", "Final Answer:"), tokens, TOKENIZER)
    assert TOKENIZER.decode(list(budget.closing)) == "<|im_start|>answer\nFinal Answer:"
    assert budget.start == tuple(TOKENIZER.encode("<|im_start|>think", add_special_tokens=False))


def test_a_tokenizer_without_the_end_token_fails_at_startup() -> None:
    class Plain:
        eos_token_id = 0

        def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
            return list(text.encode())

        def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
            return bytes(ids).decode()

    with pytest.raises(ThinkingFormatError, match="--thinking-format"):
        resolve_thinking_tokens(Plain())


def test_vllm_parser_names_pick_the_format() -> None:
    tokens = resolve_thinking_tokens(TOKENIZER, FormatChoice(reasoning_parser="deepseek_r1"))
    assert tokens.format.name == "think" and tokens.source == "--reasoning-parser deepseek_r1"
    assert "'<think>'" in tokens.describe() and "--reasoning-parser deepseek_r1" in tokens.describe()


@pytest.mark.parametrize(("parser", "family"), [("openai_gptoss", "gpt-oss"), ("granite", "Granite")])
def test_parsers_whose_end_cannot_be_guarded_are_refused_by_family(parser: str, family: str) -> None:
    with pytest.raises(ThinkingFormatError, match=f"--reasoning-parser {parser}: {family}"):
        resolve_thinking_tokens(TOKENIZER, FormatChoice(reasoning_parser=parser))


def test_an_unknown_parser_asks_for_explicit_delimiters() -> None:
    with pytest.raises(ThinkingFormatError, match="--thinking-start and --thinking-end"):
        resolve_thinking_tokens(TOKENIZER, FormatChoice(reasoning_parser="hunyuan_a13b"))


def test_explicit_delimiters_win_and_may_span_several_tokens_after_an_own_first_token() -> None:
    choice = FormatChoice(start="<|im_start|>think", end="<|im_start|>answer", reasoning_parser="qwen3")
    tokens = resolve_thinking_tokens(TOKENIZER, choice)
    assert TOKENIZER.decode([tokens.end]) == "<|im_start|>" and tokens.format.end_rest == "answer"
    assert tokens.source == "--thinking-start/--thinking-end"


def test_an_explicit_end_starting_with_an_ordinary_token_is_refused() -> None:
    with pytest.raises(ThinkingFormatError, match="starts with the ordinary token 'H'"):
        resolve_thinking_tokens(TOKENIZER, FormatChoice(end="Here is my response:"))
    with pytest.raises(ThinkingFormatError, match="needs --thinking-end"):
        resolve_thinking_tokens(TOKENIZER, FormatChoice(start="<think>"))
    with pytest.raises(ThinkingFormatError, match="both name the delimiters"):
        resolve_thinking_tokens(TOKENIZER, FormatChoice(format="think", end="</think>"))


def test_auto_picks_s1_only_when_the_template_writes_its_start() -> None:
    """A plain ChatML model has <|im_start|> too; without </think> and s1's template it is refused."""

    class ChatML:
        eos_token_id, chat_template = 0, "{{ '<|im_start|>assistant\\n' }}"

        def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
            return [1] if text == "<|im_start|>" else [2 + ord(c) for c in text]

        def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
            return "".join("<|im_start|>" if i == 1 else chr(i - 2) for i in ids)

    with pytest.raises(ThinkingFormatError):
        resolve_thinking_tokens(ChatML())
    ChatML.chat_template = "{{ '<|im_start|>assistant\\n<|im_start|>think' }}"
    assert resolve_thinking_tokens(ChatML()).format.name == "s1"


@pytest.fixture(scope="module")
def s1_server() -> Iterator[str]:
    with running_server("--thinking-format", "s1") as url:
        yield url


@pytest.mark.engine
def test_s1_format_forces_its_own_closing_on_the_real_engine(s1_server: str) -> None:
    prompt = "<|im_start|>user\n12+34<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\n"
    body = {"prompt": prompt, "max_tokens": 40, "temperature": 0, "max_thinking_tokens": 4}
    choice = httpx.post(f"{s1_server}/v1/completions", json=body, timeout=120).json()["choices"][0]
    assert choice["thinking_budget"] == {"thinking_tokens": 4, "waits": 0, "forced_end": True}
    thinking, _, answer = choice["text"].partition("<|im_start|>answer\nFinal Answer:")
    assert len(TOKENIZER.encode(thinking, add_special_tokens=False)) == 4 and answer


@pytest.mark.parametrize(
    ("parser", "start", "end"), [("mistral", "[THINK]", "[/THINK]"), ("seed_oss", "<seed:think>", "</seed:think>")]
)
def test_other_families_resolve_by_parser_name_once_the_tokenizer_has_their_tokens(
    parser: str, start: str, end: str
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
    with pytest.raises(ThinkingFormatError, match="no single token for the end of thinking"):
        resolve_thinking_tokens(tokenizer, FormatChoice(reasoning_parser=parser))
    tokenizer.add_tokens([start, end])
    tokens = resolve_thinking_tokens(tokenizer, FormatChoice(reasoning_parser=parser))
    assert tokenizer.decode([tokens.end]) == end and tokenizer.decode(list(tokens.start)) == start
