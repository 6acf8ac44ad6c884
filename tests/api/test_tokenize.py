"""``/tokenize`` and ``/detokenize`` over the scripted engine: vLLM's shapes, the chat endpoint's prompt, the 400s."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeEngine

USER = [{"role": "user", "content": "What is 12 + 34?"}]
TOOL = {"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}}


def test_text_form_counts_tokens_as_the_tokenizer_does(client: TestClient, engine: FakeEngine) -> None:
    body = client.post("/tokenize", json={"prompt": "12+34", "return_token_strs": True}).json()
    ids = engine.tokenizer.encode("12+34", add_special_tokens=True)
    assert body == {
        "count": len(ids), "max_model_len": engine.max_model_len, "tokens": ids,
        "token_strs": engine.tokenizer.convert_ids_to_tokens(ids),
    }  # fmt: skip
    plain = client.post("/tokenize", json={"prompt": "12+34", "add_special_tokens": False}).json()
    assert plain["tokens"] == engine.tokenizer.encode("12+34", add_special_tokens=False)
    assert plain["token_strs"] is None


def test_chat_form_is_the_chat_endpoints_prompt(client: TestClient, engine: FakeEngine) -> None:
    """The same rendering as /v1/chat/completions: its prompt_token_ids, tools and template kwargs included."""
    for extra in ({}, {"tools": [TOOL]}, {"chat_template_kwargs": {"enable_thinking": False}}):
        tokenized = client.post("/tokenize", json={"messages": USER, **extra}).json()
        chat = client.post("/v1/chat/completions", json={"messages": USER, "return_token_ids": True, **extra}).json()
        assert tokenized["tokens"] == chat["prompt_token_ids"] == engine.requests[-1][0]
        assert tokenized["count"] == chat["usage"]["prompt_tokens"]


def test_chat_form_generation_prompt_and_continued_message(client: TestClient, engine: FakeEngine) -> None:
    opened = client.post("/tokenize", json={"messages": USER}).json()["tokens"]
    closed = client.post("/tokenize", json={"messages": USER, "add_generation_prompt": False}).json()["tokens"]
    assert opened[: len(closed)] == closed and len(opened) > len(closed)
    prefill = [*USER, {"role": "assistant", "content": "Quick guess"}]
    body = {"messages": prefill, "add_generation_prompt": False, "continue_final_message": True}
    continued = client.post("/tokenize", json=body).json()["tokens"]
    assert engine.tokenizer.decode(continued).endswith("Quick guess")


def test_model_is_optional_and_checked(client: TestClient) -> None:
    assert client.post("/tokenize", json={"model": "tiny-reasoner", "prompt": "1"}).status_code == 200
    unknown = client.post("/tokenize", json={"model": "gpt-9", "prompt": "1"})
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "model"
    assert client.post("/detokenize", json={"model": "gpt-9", "tokens": [1]}).status_code == 404


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "prompt"),
        ({"prompt": "1", "messages": USER}, "prompt"),
        ({"prompt": "1", "add_generation_prompt": False}, "add_generation_prompt"),
        ({"prompt": "1", "tools": [TOOL]}, "tools"),
        ({"messages": USER, "continue_final_message": True}, "continue_final_message"),
        ({"messages": USER, "chat_template": "{{ messages }}"}, "chat_template"),
        ({"messages": USER, "mm_processor_kwargs": {"size": 1}}, "mm_processor_kwargs"),
        ({"messages": USER, "chat_template_kwargs": {"tokenize": True}}, "chat_template_kwargs.tokenize"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages.0.content.0"),
        ({"messages": []}, "messages"),
        ({"prompt": 5}, "prompt"),
    ],
)
def test_tokenize_refusals_name_the_field(client: TestClient, body: dict[str, Any], param: str) -> None:
    response = client.post("/tokenize", json=body)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["param"] == param


def test_detokenize_round_trip_keeps_special_tokens(client: TestClient, engine: FakeEngine) -> None:
    tokens = client.post("/tokenize", json={"messages": USER}).json()["tokens"]
    assert client.post("/detokenize", json={"tokens": tokens}).json() == {"prompt": engine.tokenizer.decode(tokens)}
    assert "<think>" in client.post("/detokenize", json={"tokens": tokens}).json()["prompt"]  # the template opens it
    assert client.post("/detokenize", json={"tokens": []}).json() == {"prompt": ""}


@pytest.mark.parametrize("tokens", [[1, 10**6], [-1], [2**64]])
def test_detokenize_refuses_ids_outside_the_vocabulary(client: TestClient, tokens: list[int]) -> None:
    response = client.post("/detokenize", json={"tokens": tokens})
    assert response.status_code == 400 and response.json()["error"]["param"] == "tokens"
    assert "vocabulary" in response.json()["error"]["message"]


def test_tokenizing_reaches_no_engine(client: TestClient, engine: FakeEngine) -> None:
    client.post("/tokenize", json={"messages": USER})
    client.post("/detokenize", json={"tokens": [1, 2]})
    assert engine.requests == []
