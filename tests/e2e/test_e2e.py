"""End to end: ``python -m server`` on the real vLLM engine and the shipped model, via the OpenAI SDK."""

from __future__ import annotations

import httpx
import openai
import pytest

pytestmark = pytest.mark.engine
QUESTION = [{"role": "user", "content": "What is 482 + 397?"}]


def test_chat_returns_reasoning_and_content(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(model="tiny-reasoner", messages=QUESTION, temperature=0)
    message = completion.choices[0].message
    assert message.reasoning_content.startswith("Quick guess:")  # type: ignore[attr-defined]
    assert "reasoning" not in (message.model_extra or {})  # one field: clients that read both show it once
    assert message.content is not None and message.content.strip().isdigit()
    assert completion.choices[0].finish_reason == "stop"
    details = completion.usage.completion_tokens_details  # type: ignore[union-attr]
    assert 0 < details.reasoning_tokens < completion.usage.completion_tokens  # type: ignore[union-attr]


def test_chat_stream_carries_reasoning_then_content_then_usage(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="tiny-reasoner", messages=QUESTION, temperature=0, stream=True, stream_options={"include_usage": True}
    )
    kinds, usage = [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            if getattr(delta, "reasoning_content", None):
                kinds.append("reasoning")
            if delta.content:
                kinds.append("content")
    assert kinds[0] == "reasoning" and kinds[-1] == "content"
    assert kinds == sorted(kinds, key=lambda kind: kind == "content")  # reasoning strictly before content
    assert usage is not None and usage.completion_tokens > 0 and usage.completion_tokens_details.reasoning_tokens > 0


def test_streamed_and_plain_greedy_answers_agree(sdk: openai.OpenAI) -> None:
    plain = sdk.chat.completions.create(model="tiny-reasoner", messages=QUESTION, temperature=0)
    stream = sdk.chat.completions.create(model="tiny-reasoner", messages=QUESTION, temperature=0, stream=True)
    content = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert content == plain.choices[0].message.content


def test_seeded_sampling_is_reproducible_and_n_gives_choices(sdk: openai.OpenAI) -> None:
    def sample() -> list[str | None]:
        completion = sdk.chat.completions.create(
            model="tiny-reasoner", messages=QUESTION, n=4, seed=11, temperature=1.0
        )
        return [choice.message.content for choice in completion.choices]

    first = sample()
    assert len(first) == 4 and first == sample()


def test_text_completion(sdk: openai.OpenAI) -> None:
    prompt = "<|im_start|>user\n12+34<|im_end|>\n<|im_start|>assistant\n<think>\n"
    completion = sdk.completions.create(model="tiny-reasoner", prompt=prompt, max_tokens=8, temperature=0)
    assert completion.choices[0].text.startswith("Quick")
    assert completion.choices[0].finish_reason == "length" and completion.usage.completion_tokens == 8  # type: ignore[union-attr]


def test_client_errors_are_openai_errors(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="gpt-5", messages=QUESTION)
    with pytest.raises(openai.BadRequestError) as too_long:
        sdk.chat.completions.create(model="tiny-reasoner", messages=[{"role": "user", "content": "1" * 5000}])
    assert too_long.value.body["param"] == "messages"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as too_many:
        sdk.chat.completions.create(model="tiny-reasoner", messages=QUESTION, max_tokens=100_000)
    assert too_many.value.body["param"] == "max_tokens"  # type: ignore[index]


def test_models_health_version(base_url: str, sdk: openai.OpenAI) -> None:
    assert [model.id for model in sdk.models.list()] == ["tiny-reasoner"]
    assert httpx.get(f"{base_url}/health").status_code == 200
    versions = httpx.get(f"{base_url}/version").json()
    assert versions["version"].startswith("0.") and versions["thinkserve"]  # vLLM's where vllm serve puts it


def test_budget_fields_through_extra_body(sdk: openai.OpenAI) -> None:
    checked = [{"role": "user", "content": "What is 563 + 278?"}]  # one the model's careful pass gets right
    waited = sdk.chat.completions.create(
        model="tiny-reasoner", messages=checked, temperature=0, extra_body={"min_thinking_waits": 1}
    )
    message = waited.choices[0].message
    assert "Wait" in message.reasoning_content and message.content == "841"  # type: ignore[attr-defined]
    assert waited.choices[0].thinking_budget["waits"] == 1  # type: ignore[attr-defined]
    capped = sdk.chat.completions.create(
        model="tiny-reasoner", messages=QUESTION, temperature=0, extra_body={"max_thinking_tokens": 5}
    )
    assert not capped.choices[0].message.content.startswith("Final")  # the forced prefix is scaffolding
    assert capped.choices[0].thinking_budget == {"thinking_tokens": 5, "waits": 0, "forced_end": True}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "extra",
    [{"thinking_token_budget": 0}, {"thinking": {"type": "disabled"}}, {"reasoning_effort": "none"}],
)
def test_budget_aliases(sdk: openai.OpenAI, extra: dict) -> None:
    reply = sdk.chat.completions.create(model="tiny-reasoner", messages=QUESTION, temperature=0, extra_body=extra)
    assert reply.choices[0].thinking_budget["forced_end"]  # type: ignore[attr-defined]
    assert reply.usage.completion_tokens_details.reasoning_tokens == 0  # type: ignore[union-attr]


def test_budget_streamed_equals_plain(sdk: openai.OpenAI) -> None:
    extra = {"min_thinking_tokens": 120}
    plain = sdk.chat.completions.create(model="tiny-reasoner", messages=QUESTION, temperature=0, extra_body=extra)
    stream = sdk.chat.completions.create(
        model="tiny-reasoner", messages=QUESTION, temperature=0, extra_body=extra, stream=True
    )
    reasoning, content, report = "", "", None
    for chunk in stream:
        for choice in chunk.choices:
            reasoning += getattr(choice.delta, "reasoning_content", None) or ""
            content += choice.delta.content or ""
            report = getattr(choice, "thinking_budget", None) or report
    message = plain.choices[0].message
    assert (reasoning, content) == (message.reasoning_content, message.content)  # type: ignore[attr-defined]
    assert report == plain.choices[0].thinking_budget and report["thinking_tokens"] >= 120  # type: ignore[attr-defined]


def test_budget_with_n_and_seeded_sampling(sdk: openai.OpenAI) -> None:
    def sample() -> list[dict]:
        reply = sdk.chat.completions.create(
            model="tiny-reasoner", messages=QUESTION, n=3, seed=5, temperature=1.0, extra_body={"min_thinking_waits": 1}
        )
        return [choice.thinking_budget for choice in reply.choices]  # type: ignore[attr-defined]

    reports = sample()
    assert reports == sample() and all(report["waits"] >= 1 for report in reports)


def chat(sdk: openai.OpenAI, **fields: object) -> openai.types.chat.ChatCompletion:
    return sdk.chat.completions.create(model="tiny-reasoner", messages=QUESTION, temperature=0, **fields)  # type: ignore[call-overload]


def test_stop_strings_never_cut_what_the_budget_forced(sdk: openai.OpenAI) -> None:
    capped = {"max_thinking_tokens": 5, "include_answer_prefix": True}
    plain = chat(sdk, extra_body=capped).choices[0]
    stopped = chat(sdk, extra_body=capped, stop=["Final", "Answer:"]).choices[0]
    assert stopped.message.content == plain.message.content and plain.message.content.startswith("Final Answer:")  # type: ignore[union-attr]
    waited = {"min_thinking_waits": 1, "stop_in_thinking": True}
    plain = chat(sdk, extra_body=waited).choices[0]
    assert chat(sdk, extra_body=waited, stop=["Wait"]).choices[0].message == plain.message


def test_stop_strings_in_the_thinking_stop_the_model_s_own_text_when_asked(sdk: openai.OpenAI) -> None:
    waited = {"min_thinking_waits": 1, "stop_in_thinking": True}
    whole = chat(sdk, extra_body=waited).choices[0].message.reasoning_content  # type: ignore[attr-defined]
    cut = whole[: whole.index("carry", whole.index("Wait"))]  # the model writes column lines after the Wait
    stopped = chat(sdk, extra_body=waited, stop=["carry"]).choices[0]
    assert (stopped.message.reasoning_content, stopped.message.content, stopped.finish_reason) == (cut, None, "stop")  # type: ignore[attr-defined]
    assert stopped.thinking_budget["waits"] == 1  # type: ignore[attr-defined]
    stream = chat(sdk, extra_body=waited, stop=["carry"], stream=True)
    streamed = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in stream if c.choices)
    assert streamed == cut
