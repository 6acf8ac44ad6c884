"""Chat's thinking and answer over the fake engine: where the thinking goes, answer-only logprobs and stop
strings, refused parts, unknown fields."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.ops.settings import Settings
from tests.api.test_app import CHAT, IMAGE, USER
from tests.fakes import FakeEngine


def test_logprobs_of_the_thinking_are_an_extension(client: TestClient) -> None:
    body = client.post(CHAT, json={"messages": USER, "logprobs": True, "top_logprobs": 1, "max_tokens": 3}).json()
    logprobs = body["choices"][0]["logprobs"]
    assert logprobs["content"] == []  # all three tokens are thinking
    assert [c["token"] for c in logprobs["reasoning"]] == ["Q", "u", "i"]
    assert logprobs["reasoning"][0]["top_logprobs"][0]["logprob"] == -0.5


def test_logprobs_content_holds_the_answer_tokens_only(client: TestClient, engine: FakeEngine) -> None:
    engine.script = "guess 46.\n</think>\n\n46<|endoftext|>"
    body = client.post(CHAT, json={"messages": USER, "logprobs": True}).json()
    choice = body["choices"][0]
    assert choice["message"]["content"] == "46"
    assert "".join(c["token"] for c in choice["logprobs"]["content"]) == "46"
    assert "".join(c["token"] for c in choice["logprobs"]["reasoning"]) == "guess 46.\n"


def test_a_stop_string_in_the_thinking_or_its_separator_leaves_the_answer_whole(
    client: TestClient, engine: FakeEngine
) -> None:
    body = client.post(CHAT, json={"messages": USER, "stop": ["\n"]}).json()
    assert body["choices"][0]["message"]["content"] == "46"  # the thinking's lines and the blank line after it
    client.post(CHAT, json={"messages": USER, "stop": ["\n"], "stop_in_thinking": True})
    assert engine.requests[-1][1].stop == ("\n",)  # no budget: vLLM matches them, everywhere, as it does


def test_an_image_part_is_refused_as_text_only_and_text_parts_are_joined(client: TestClient) -> None:
    error = client.post(CHAT, json={"messages": [{"role": "user", "content": [IMAGE]}]}).json()["error"]
    assert "text only" in error["message"] and "image_url" in error["message"]
    parts = [{"type": "text", "text": "What is "}, {"type": "text", "text": "12 + 34?"}]
    assert client.post(CHAT, json={"messages": [{"role": "user", "content": parts}]}).status_code == 200


def test_anthropic_thinking_enabled_needs_its_budget(client: TestClient) -> None:
    error = client.post(CHAT, json={"messages": USER, "thinking": {"type": "enabled"}}).json()["error"]
    assert "budget_tokens" in error["message"]


def test_unknown_fields_are_ignored_and_logged_once_per_name(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="server.serving.fields"):
        for _ in range(2):
            assert client.post(CHAT, json={"messages": USER, "frobnicate_level": 3}).status_code == 200
    assert [r.getMessage() for r in caplog.records].count(
        "ignoring the unknown request field 'frobnicate_level' (logged once per field name)"
    ) == 1


@pytest.mark.parametrize(
    ("field", "keys"), [("reasoning", {"reasoning"}), ("both", {"reasoning", "reasoning_content"})]
)
def test_the_reasoning_field_setting_names_where_the_thinking_goes(engine: FakeEngine, field: str, keys: set) -> None:
    with TestClient(create_app(Settings(reasoning_field=field), engine.lifetime)) as client:
        message = client.post(CHAT, json={"messages": USER}).json()["choices"][0]["message"]
    assert {key for key in message if key.startswith("reasoning")} == keys
