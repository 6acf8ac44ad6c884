"""OpenAI's fields mean what OpenAI says, on the real engine: logit_bias, answer-only logprobs and stop strings,
and a forced answer prefix that stays out of the answer."""

from __future__ import annotations

import openai
import pytest
from transformers import AutoTokenizer

from server.ops.settings import SHIPPED_MODEL

pytestmark = pytest.mark.engine
QUESTION = [{"role": "user", "content": "What is 482 + 397?"}]


def chat(sdk: openai.OpenAI, **fields: object) -> openai.types.chat.ChatCompletion:
    fields = {"messages": QUESTION, **fields}
    return sdk.chat.completions.create(model="tiny-reasoner", temperature=0, **fields)  # type: ignore[call-overload]


def test_logit_bias_reaches_the_sampler(sdk: openai.OpenAI) -> None:
    (nine,) = AutoTokenizer.from_pretrained(SHIPPED_MODEL).encode("9", add_special_tokens=False)
    guessed = [{"role": "user", "content": "What is 563 + 278?"}]  # the shipped model's quick guess: 900
    assert "9" in (chat(sdk, messages=guessed).choices[0].message.content or "")
    biased = chat(sdk, messages=guessed, logit_bias={str(nine): -100}).choices[0].message
    assert "9" not in (biased.content or "") and "9" not in (biased.reasoning_content or "")  # type: ignore[attr-defined]


def test_logprobs_content_covers_the_answer_and_the_thinking_has_its_own(sdk: openai.OpenAI) -> None:
    choice = chat(sdk, logprobs=True, top_logprobs=2).choices[0]
    logprobs = choice.logprobs.model_dump()  # type: ignore[union-attr]
    assert "".join(t["token"] for t in logprobs["content"]) == choice.message.content
    assert "".join(t["token"] for t in logprobs["reasoning"]) == choice.message.reasoning_content  # type: ignore[attr-defined]
    assert all(len(t["top_logprobs"]) == 2 for t in logprobs["content"])


def test_stop_strings_apply_to_the_answer(sdk: openai.OpenAI) -> None:
    plain = chat(sdk).choices[0].message
    assert "\n" in plain.reasoning_content  # type: ignore[attr-defined]  # the thinking has lines; a stop there
    stopped = chat(sdk, stop=["\n"]).choices[0]  # would leave no answer (it did: content null)
    assert stopped.message.content == plain.content and stopped.message.reasoning_content == plain.reasoning_content  # type: ignore[attr-defined]
    last = plain.content[-1]  # type: ignore[index]
    cut = chat(sdk, stop=[last]).choices[0]
    assert (cut.message.content, cut.finish_reason) == (plain.content[: plain.content.index(last)] or None, "stop")  # type: ignore[union-attr]


def test_a_forced_answer_prefix_is_scaffolding(sdk: openai.OpenAI) -> None:
    forced = chat(sdk, extra_body={"max_thinking_tokens": 5}).choices[0]
    kept = chat(sdk, extra_body={"max_thinking_tokens": 5, "include_answer_prefix": True}).choices[0]
    assert forced.thinking_budget["forced_end"]  # type: ignore[attr-defined]
    assert kept.message.content.startswith("Final Answer:")  # type: ignore[union-attr]
    assert forced.message.content == kept.message.content.removeprefix("Final Answer:").strip()  # type: ignore[union-attr]
    stream = chat(sdk, extra_body={"max_thinking_tokens": 5}, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == forced.message.content
