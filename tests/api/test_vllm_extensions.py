"""vLLM's request extensions that `vllm serve` users send: ``stop_token_ids`` and ``return_token_ids``."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.fakes import FakeEngine

CHAT = {"messages": [{"role": "user", "content": "12+34"}], "max_tokens": 30}


def test_stop_token_ids_reach_the_engine_and_are_checked(client: TestClient, engine: FakeEngine) -> None:
    response = client.post("/v1/completions", json={"prompt": "12+34", "max_tokens": 5, "stop_token_ids": [7, 9]})
    assert response.status_code == 200 and engine.requests[-1][1].stop_token_ids == (7, 9)
    response = client.post("/v1/completions", json={"prompt": "12+34", "stop_token_ids": [10**6]})
    assert response.status_code == 400 and response.json()["error"]["param"] == "stop_token_ids"


def test_completions_return_the_token_ids_whole_and_streamed(client: TestClient, engine: FakeEngine) -> None:
    body = {"prompt": "12+34", "max_tokens": 30, "return_token_ids": True}
    choice = client.post("/v1/completions", json=body).json()["choices"][0]
    prompt, script = engine.requests[-1][0], engine.tokenizer.encode(engine.script, add_special_tokens=False)
    assert choice["prompt_token_ids"] == prompt and choice["token_ids"] == script[:30]
    chunks = streamed(client, "/v1/completions", {**body, "stream": True})
    assert [c["choices"][0].get("prompt_token_ids") is not None for c in chunks].count(True) == 1
    assert [t for c in chunks for t in c["choices"][0]["token_ids"]] == script[:30]
    plain = client.post("/v1/completions", json={"prompt": "12+34", "max_tokens": 3}).json()["choices"][0]
    assert "token_ids" not in plain and "prompt_token_ids" not in plain  # only when asked


def test_chat_returns_every_token_id_the_split_text_came_from(client: TestClient, engine: FakeEngine) -> None:
    body = {**CHAT, "return_token_ids": True, "max_thinking_tokens": 6}
    whole = client.post("/v1/chat/completions", json=body).json()
    assert whole["prompt_token_ids"] == engine.requests[-1][0]
    ids = whole["choices"][0]["token_ids"]
    assert len(ids) == whole["usage"]["completion_tokens"]
    chunks = streamed(client, "/v1/chat/completions", {**body, "stream": True})
    assert chunks[0]["prompt_token_ids"] == engine.requests[-1][0]
    assert [t for c in chunks if c["choices"] for t in c["choices"][0].get("token_ids") or []] == ids


def streamed(client: TestClient, path: str, body: dict) -> list[dict]:
    with client.stream("POST", path, json=body) as response:
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
