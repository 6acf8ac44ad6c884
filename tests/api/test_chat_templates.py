"""``chat_template_kwargs`` reaches the template; a budget on a prompt whose template closed the thinking is a
no-op the report names (fake engine, a Qwen3-style hybrid template on the shipped tokenizer)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.ops.settings import Settings
from tests.fakes import FakeEngine

HYBRID = (
    "{%- for m in messages -%}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and not enable_thinking -%}{{ '<think>\\n\\n</think>\\n\\n' }}"
    "{%- else -%}{{ '<think>\\n' }}{%- endif -%}"
    "{%- if reasoning_effort is defined -%}{{ 'effort=' + reasoning_effort }}{%- endif -%}{%- endif -%}"
)


@pytest.fixture
def hybrid(engine: FakeEngine) -> Iterator[TestClient]:
    engine.tokenizer.chat_template = HYBRID
    engine.script = "46"
    with TestClient(create_app(Settings(), engine.lifetime)) as test_client:
        yield test_client


def chat(client: TestClient, **fields: object) -> dict:
    body = {"messages": [{"role": "user", "content": "12+34"}], "max_tokens": 20, **fields}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def prompt_text(engine: FakeEngine) -> str:
    return str(engine.tokenizer.decode(engine.requests[-1][0]))


def test_a_budget_on_a_closed_thinking_is_not_sent_and_is_reported_as_off(
    hybrid: TestClient, engine: FakeEngine
) -> None:
    body = chat(hybrid, chat_template_kwargs={"enable_thinking": False}, max_thinking_tokens=5)
    assert prompt_text(engine).endswith("<think>\n\n</think>\n\n")
    assert engine.requests[-1][1].extra_args is None  # the engine enforces nothing
    choice = body["choices"][0]
    assert choice["thinking_budget"] == {"thinking_tokens": 0, "waits": 0, "forced_end": False, "thinking_off": True}
    assert choice["message"]["content"] == "46" and "reasoning_content" not in choice["message"]


def test_the_same_budget_with_thinking_on_is_enforced(hybrid: TestClient, engine: FakeEngine) -> None:
    body = chat(hybrid, chat_template_kwargs={"enable_thinking": True}, max_thinking_tokens=5)
    assert prompt_text(engine).endswith("<think>\n")
    assert engine.requests[-1][1].extra_args is not None
    assert "thinking_off" not in body["choices"][0]["thinking_budget"]


def test_reasoning_effort_selects_the_budget_and_reaches_the_template(hybrid: TestClient, engine: FakeEngine) -> None:
    chat(hybrid, reasoning_effort="low")
    assert prompt_text(engine).endswith("effort=low")
    assert engine.requests[-1][1].extra_args["thinking_budget"]["max_tokens"] == 512
    chat(hybrid, reasoning_effort="low", chat_template_kwargs={"reasoning_effort": "high"})
    assert prompt_text(engine).endswith("effort=high")  # the request's kwargs win for the template


def test_kwargs_the_server_sets_itself_are_refused_by_name(hybrid: TestClient) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": {"tokenize": True}}
    response = hybrid.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "chat_template_kwargs.tokenize"
