"""vLLM's chat extensions on the scripted engine (issue #18, A2): a continued final message and its thinking,
``echo``, any role, ``include_reasoning``, a request's ``chat_template``, usage in every chunk; each refusal a 400
naming its field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.ops.settings import Settings
from tests.fakes import FakeEngine

CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
USER = {"role": "user", "content": "12+34"}
OPENED = {"role": "assistant", "content": "<think>\nQuick guess:"}  # a thinking the reply goes on with
CONTINUE = {"add_generation_prompt": False, "continue_final_message": True}
# Writes every message as sent (the shipped template drops an assistant's thinking before its </think>).
VERBATIM = (
    "{%- for m in messages -%}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n<think>\\n' }}{%- endif -%}"
)
USAGE = {"include_usage": True, "continuous_usage_stats": True}


@pytest.fixture
def trusted(engine: FakeEngine) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(trust_request_chat_template=True), engine.lifetime)) as test_client:
        yield test_client


def ok(client: TestClient, path: str = CHAT, **body: Any) -> dict[str, Any]:
    response = client.post(path, json={"messages": [USER], "max_tokens": 200, **body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def refused(client: TestClient, body: dict[str, Any], path: str = CHAT) -> str:
    response = client.post(path, json=body)
    assert response.status_code == 400, response.text
    param: str = response.json()["error"]["param"]
    return param


def streamed(client: TestClient, body: dict[str, Any], path: str = CHAT) -> list[dict[str, Any]]:
    request = {"messages": [USER], "max_tokens": 200, **body, "stream": True}
    with client.stream("POST", path, json=request) as response:
        assert response.status_code == 200
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]


def prompt_text(engine: FakeEngine) -> str:
    return str(engine.tokenizer.decode(engine.requests[-1][0]))


def test_a_continued_message_stays_open_and_its_thinking_goes_on(client: TestClient, engine: FakeEngine) -> None:
    fresh = ok(client)["choices"][0]["message"]
    continued = ok(client, messages=[USER, OPENED], **CONTINUE)["choices"][0]
    assert prompt_text(engine).endswith("<|im_start|>assistant\n<think>\nQuick guess:")  # no end of turn
    # The <think> lies many tokens back from the prompt's end: the reply is still read as thinking, then answer.
    assert continued["message"]["reasoning_content"] == fresh["reasoning_content"]
    assert continued["message"]["content"] == "46"
    budgeted = ok(client, messages=[USER, OPENED], max_thinking_tokens=8, **CONTINUE)["choices"][0]
    assert engine.requests[-1][1].extra_args["thinking_budget"]["opens"] is True  # type: ignore[index]
    assert budgeted["thinking_budget"]["thinking_tokens"] > 0


def test_a_continued_message_that_closed_its_thinking_leaves_the_budget_nothing(
    trusted: TestClient, engine: FakeEngine
) -> None:
    closed = {"role": "assistant", "content": "<think>\nQuick guess: 46.\n</think>\n\nThe sum is"}
    body = {"messages": [USER, closed], "chat_template": VERBATIM, "max_thinking_tokens": 8, **CONTINUE}
    choice = ok(trusted, **body)["choices"][0]
    assert prompt_text(engine).endswith("</think>\n\nThe sum is")
    assert choice["thinking_budget"] == {"thinking_tokens": 0, "waits": 0, "forced_end": False, "thinking_off": True}
    assert (engine.requests[-1][1].extra_args or {}).get("thinking_budget") is None


def test_a_generation_prompt_and_a_continued_message_are_refused_together(client: TestClient) -> None:
    messages = [USER, OPENED]
    assert refused(client, {"messages": messages, "continue_final_message": True}) == "continue_final_message"
    body = {"messages": messages, "continue_final_message": True, "add_generation_prompt": True}
    assert refused(client, body) == "continue_final_message"


def test_without_a_generation_prompt_the_prompt_ends_with_the_messages(client: TestClient, engine: FakeEngine) -> None:
    ok(client, add_generation_prompt=False)
    assert prompt_text(engine).endswith("<|im_start|>user\n12+34<|im_end|>\n")


def test_echo_starts_the_reply_with_the_continued_message(client: TestClient) -> None:
    message = ok(client, messages=[USER, OPENED], echo=True, **CONTINUE)["choices"][0]["message"]
    assert message["role"] == "assistant" and message["content"] == OPENED["content"] + "46"
    chunks = streamed(client, {"messages": [USER, OPENED], "echo": True, **CONTINUE})
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    echo = {name: value for name, value in chunks[1]["choices"][0]["delta"].items() if value is not None}
    assert echo == {"content": OPENED["content"]}  # vLLM's chunk right after the role's
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == message["content"]


def test_echo_takes_the_final_message_of_the_replys_role_only(client: TestClient) -> None:
    assert ok(client, echo=True)["choices"][0]["message"]["content"] == "46"  # a user's message, an assistant's reply
    message = ok(client, echo=True, add_generation_prompt=False)["choices"][0]["message"]
    assert message["role"] == "user" and message["content"].startswith("12+34")  # vLLM: it continues the user's turn


def test_any_role_reaches_the_template(client: TestClient, engine: FakeEngine) -> None:
    ok(client, messages=[{"role": "narrator", "content": "Once"}, USER])
    assert "<|im_start|>narrator\nOnce<|im_end|>\n" in prompt_text(engine)
    engine.tokenizer.chat_template = (
        "{%- for m in messages -%}{%- if m['role'] not in ['user', 'assistant'] -%}"
        "{{ raise_exception('no role ' + m['role']) }}{%- endif -%}{{ m['content'] }}{%- endfor -%}"
    )
    assert refused(client, {"messages": [{"role": "narrator", "content": "Once"}, USER]}) == "messages"
    assert refused(client, {"messages": [{"role": "", "content": "x"}]}) == "messages.0.role"


def test_include_reasoning_false_leaves_the_thinking_out_but_counts_it(client: TestClient) -> None:
    body = {"include_reasoning": False, "max_thinking_tokens": 8, "logprobs": True, "return_token_ids": True}
    whole = ok(client, **body)
    choice = whole["choices"][0]
    assert "reasoning_content" not in choice["message"] and choice["message"]["content"]
    assert (
        choice["thinking_budget"]["thinking_tokens"] > 0
        and whole["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    )
    assert choice["logprobs"].get("reasoning") is None and choice["logprobs"]["content"]  # the answer's only
    assert "token_ids" not in choice  # they hold the thinking's, as vLLM hides them
    chunks = streamed(client, {**body, "stream_options": {"include_usage": True}})
    deltas = [c["choices"][0] for c in chunks if c["choices"]]
    assert not any(d["delta"].get("reasoning_content") or d.get("token_ids") for d in deltas)
    assert "".join(d["delta"].get("content") or "" for d in deltas) == choice["message"]["content"]
    assert deltas[-1]["thinking_budget"] == choice["thinking_budget"]
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_a_request_template_needs_the_trust_flag(client: TestClient, trusted: TestClient, engine: FakeEngine) -> None:
    assert refused(client, {"messages": [USER], "chat_template": VERBATIM}) == "chat_template"
    ok(trusted, chat_template=VERBATIM)
    assert prompt_text(engine) == "<|im_start|>user\n12+34<|im_end|>\n<|im_start|>assistant\n<think>\n"
    assert refused(trusted, {"messages": [USER], "chat_template": "{% for %}"}) == "chat_template"
    tokens = trusted.post("/tokenize", json={"messages": [USER], "chat_template": VERBATIM}).json()["tokens"]
    assert tokens == engine.requests[-1][0]


def test_chat_streams_usage_in_every_chunk(client: TestClient) -> None:
    chunks = streamed(client, {"stream_options": USAGE, "messages": [USER, OPENED], "echo": True, **CONTINUE})
    usages = [c["usage"] for c in chunks]
    assert all(usages) and usages[0]["completion_tokens"] == usages[1]["completion_tokens"] == 0  # role, echo
    counts = [u["completion_tokens"] for u in usages[:-1]]
    thinking = [u["completion_tokens_details"]["reasoning_tokens"] for u in usages[:-1]]
    assert counts == sorted(counts) and thinking == sorted(thinking) and 0 < thinking[-1] < counts[-1]
    assert {u["prompt_tokens"] for u in usages} == {usages[-1]["prompt_tokens"]}
    assert usages[-2]["completion_tokens"] == usages[-1]["completion_tokens"]  # the finish chunk's: the total
    assert chunks[-1]["choices"] == []
    plain = streamed(client, {"stream_options": {"continuous_usage_stats": True}})  # vLLM: needs include_usage
    assert not any(c.get("usage") for c in plain)


def test_completions_stream_each_choices_usage(client: TestClient, engine: FakeEngine) -> None:
    texts = ["12+34", "123+456"]
    body = {"prompt": texts, "n": 2, "max_tokens": 5, "echo": True, "stream_options": USAGE}
    chunks = streamed(client, body, COMPLETIONS)
    sizes = [len(engine.tokenizer.encode(text, add_special_tokens=True)) for text in texts]
    assert sizes[0] != sizes[1]
    for chunk in chunks[:-1]:  # the echoes first (none generated yet), then each choice's tokens so far
        (choice,) = chunk["choices"]
        assert chunk["usage"]["prompt_tokens"] == sizes[choice["index"] // 2]
    last = {c["choices"][0]["index"]: c["usage"]["completion_tokens"] for c in chunks[:-1]}
    assert last == dict.fromkeys(range(4), 5)
    assert chunks[-1]["usage"]["completion_tokens"] == 20 and chunks[-1]["choices"] == []
