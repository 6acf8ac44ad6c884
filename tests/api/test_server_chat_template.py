"""`vllm serve`'s --chat-template, --default-chat-template-kwargs and --root-path on the fake engine: the server's
template renders every chat route, the request's own kwargs and template still win, the proxy's prefix reaches
/openapi.json and /docs and leaves the API-key gate guarding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.ops.root_path import with_root_path
from server.ops.settings import Settings
from tests.fakes import FakeEngine

# The shipped tokenizer's own template has no thinking switch; this one does, and marks its prompts.
SERVER_TEMPLATE = (
    "[server]{%- for m in messages -%}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{%- endfor -%}{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and not enable_thinking -%}{{ '<think>\\n\\n</think>\\n\\n' }}"
    "{%- else -%}{{ '<think>\\n' }}{%- endif -%}{%- endif -%}"
)
USER = [{"role": "user", "content": "12+34"}]


@pytest.fixture
def served(engine: FakeEngine) -> Iterator[TestClient]:
    """As `--chat-template T --default-chat-template-kwargs '{"enable_thinking": false}'` serves."""
    engine.script = "46"
    settings = Settings(
        chat_template=SERVER_TEMPLATE,
        default_chat_template_kwargs={"enable_thinking": False},
        trust_request_chat_template=True,
    )
    with TestClient(create_app(settings, engine.lifetime)) as test_client:
        yield test_client


def chat(client: TestClient, engine: FakeEngine, **fields: Any) -> tuple[str, dict[str, Any]]:
    """The prompt the engine got, as text, and the reply."""
    response = client.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 20, **fields})
    assert response.status_code == 200, response.text
    return str(engine.tokenizer.decode(engine.requests[-1][0])), response.json()


def test_the_servers_template_renders_chats_with_its_default_kwargs(served: TestClient, engine: FakeEngine) -> None:
    prompt, body = chat(served, engine, max_thinking_tokens=5)
    assert prompt.startswith("[server]<|im_start|>user\n12+34") and prompt.endswith("<think>\n\n</think>\n\n")
    # the thinking the default closed is read from the server's template: the budget is reported off
    assert body["choices"][0]["thinking_budget"]["thinking_off"] is True


def test_a_requests_kwargs_win_over_the_defaults(served: TestClient, engine: FakeEngine) -> None:
    prompt, body = chat(served, engine, max_thinking_tokens=5, chat_template_kwargs={"enable_thinking": True})
    assert prompt.startswith("[server]") and prompt.endswith("<think>\n")
    assert "thinking_off" not in body["choices"][0]["thinking_budget"]


def test_a_requests_own_template_wins_over_the_servers(served: TestClient, engine: FakeEngine) -> None:
    prompt, _ = chat(served, engine, chat_template="[request]{{ messages[0]['content'] }}")
    assert prompt == "[request]12+34"


def test_tokenize_and_messages_render_with_the_servers_template(served: TestClient, engine: FakeEngine) -> None:
    tokens = served.post("/tokenize", json={"messages": USER}).json()["tokens"]
    assert engine.tokenizer.decode(tokens).startswith("[server]")
    reply = served.post("/v1/messages", json={"model": "tiny-reasoner", "max_tokens": 20, "messages": USER})
    assert reply.status_code == 200, reply.text
    assert str(engine.tokenizer.decode(engine.requests[-1][0])).startswith("[server]")


def test_without_the_flag_the_tokenizers_template_renders(client: TestClient, engine: FakeEngine) -> None:
    tokens = client.post("/tokenize", json={"messages": USER}).json()["tokens"]
    assert not engine.tokenizer.decode(tokens).startswith("[server]")


def test_the_root_path_is_in_the_openapi_servers_and_the_docs(engine: FakeEngine) -> None:
    app = with_root_path(create_app(Settings(), engine.lifetime), "/proxy")  # as `main` hands it to uvicorn
    with TestClient(app) as client:  # the requests as the proxy forwards them: the prefix stripped
        assert client.get("/openapi.json").json()["servers"] == [{"url": "/proxy"}]
        assert "/proxy/openapi.json" in client.get("/docs").text
        assert client.get("/health").status_code == 200


def test_behind_a_root_path_the_api_key_still_guards_every_form_of_a_path(engine: FakeEngine) -> None:
    """The gate reads the path the router routes: a prefix left on (a client past the proxy) guards the same."""
    with TestClient(with_root_path(create_app(Settings(api_key="k"), engine.lifetime), "/proxy/")) as client:
        for path in ("/v1/models", "/proxy/v1/models", "/proxy/proxy/v1/models"):
            assert client.get(path).status_code == 401, path
            assert client.get(path, headers={"Authorization": "Bearer k"}).status_code == 200, path
        assert client.get("/proxyv1/models", headers={"Authorization": "Bearer k"}).status_code == 404
