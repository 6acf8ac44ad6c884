"""``POST /invocations`` over the scripted engine: the body's shape picks chat or text completions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeEngine

USER = [{"role": "user", "content": "What is 12 + 34?"}]


def test_messages_run_as_a_chat_completion(client: TestClient, engine: FakeEngine) -> None:
    body = {"messages": USER, "max_tokens": 5, "seed": 3}
    invoked = client.post("/invocations", json=body).json()
    direct = client.post("/v1/chat/completions", json=body).json()
    assert invoked["object"] == "chat.completion" and invoked["choices"] == direct["choices"]
    assert engine.requests[0] == engine.requests[1]


def test_a_prompt_runs_as_a_completion(client: TestClient) -> None:
    body = {"prompt": "12+34", "max_tokens": 4, "echo": True}
    invoked = client.post("/invocations", json=body).json()
    assert invoked["object"] == "text_completion"
    assert invoked["choices"] == client.post("/v1/completions", json=body).json()["choices"]


def test_streams_as_the_route_streams(client: TestClient) -> None:
    with client.stream("POST", "/invocations", json={"messages": USER, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0].removeprefix("data: "))["object"] == "chat.completion.chunk"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"max_tokens": 4}, 400, "messages"),
        ({"messages": [{"role": "", "content": "x"}]}, 400, "messages.0.role"),
        ({"prompt": "1", "max_tokens": 0}, 400, "max_tokens"),
        ({"messages": USER, "model": "gpt-9"}, 404, "model"),
        ({"prompt": "1", "n": 99}, 400, "n"),
    ],
)
def test_errors_are_the_routes_errors(client: TestClient, body: dict[str, Any], status: int, param: str) -> None:
    response = client.post("/invocations", json=body)
    assert response.status_code == status, response.json()
    assert response.json()["error"]["param"] == param


def test_a_body_that_is_no_object_is_a_400(client: TestClient) -> None:
    for content in ("[1]", "not json"):
        response = client.post("/invocations", content=content, headers={"content-type": "application/json"})
        assert response.status_code == 400 and set(response.json()) == {"error"}
