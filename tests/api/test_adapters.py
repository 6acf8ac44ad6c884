"""LoRA adapters as model ids of their own, over the scripted engine: cards, every route's engine request,
metrics by the adapter's name, and the startup refusals that need the served names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.engine.types import Adapter
from server.ops.adapters import AdapterError
from server.ops.settings import Settings
from tests.fakes import FakeEngine
from tests.scrape import parse, value

USER = [{"role": "user", "content": "What is 12 + 34?"}]
ZERO = Adapter("zero", 1, "/adapters/zero")
SQL = Adapter("sql", 2, "/adapters/sql", "tiny-reasoner")
MODULES = ["zero=/adapters/zero", '{"name": "sql", "path": "/adapters/sql", "base_model_name": "tiny-reasoner"}']


@pytest.fixture
def client(engine: FakeEngine) -> Iterator[TestClient]:
    settings = Settings(lora_modules=MODULES, enable_auto_tool_choice=True, tool_call_parser="hermes")
    with TestClient(create_app(settings, engine.lifetime)) as test_client:
        yield test_client


def test_models_list_the_adapters_after_the_base_with_vllms_root_and_parent(
    client: TestClient, engine: FakeEngine
) -> None:
    cards = client.get("/v1/models").json()["data"]
    assert [card["id"] for card in cards] == ["tiny-reasoner", "zero", "sql"]
    assert [(card["root"], card["parent"]) for card in cards] == [
        (engine.model_path, None),
        ("/adapters/zero", "tiny-reasoner"),
        ("/adapters/sql", "tiny-reasoner"),
    ]
    assert client.get("/v1/models/zero").json() == cards[1]
    assert client.get("/v1/models/nope").status_code == 404


ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"messages": USER, "max_tokens": 5}),
    "chat stream": ("/v1/chat/completions", {"messages": USER, "max_tokens": 5, "stream": True}),
    "completions": ("/v1/completions", {"prompt": ["12+34", "1+2"], "max_tokens": 5}),
    "responses": ("/v1/responses", {"input": "What is 12 + 34?", "max_output_tokens": 5}),
    "messages": ("/v1/messages", {"messages": USER, "max_tokens": 5}),
    "invocations": ("/invocations", {"messages": USER, "max_tokens": 5}),
}


@pytest.mark.parametrize("route", ROUTES)
def test_every_generation_route_runs_the_named_adapter(client: TestClient, engine: FakeEngine, route: str) -> None:
    path, body = ROUTES[route]
    for model, adapter in (("zero", ZERO), ("sql", SQL), ("tiny-reasoner", None)):
        before = len(engine.adapters)
        answer = client.post(path, json={**body, "model": model})
        assert answer.status_code == 200, answer.text
        assert engine.adapters[before:] and set(engine.adapters[before:]) == {adapter}
        if not body.get("stream"):
            assert answer.json()["model"] == model  # replies name the adapter, as vLLM's do
    unknown = client.post(path, json={**body, "model": "zeros"})
    assert unknown.status_code == 404 and "zeros" in unknown.text


def test_a_request_naming_no_model_runs_the_base_model(client: TestClient, engine: FakeEngine) -> None:
    client.post("/v1/chat/completions", json={"messages": USER, "max_tokens": 5})
    assert engine.adapters == [None]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/tokenize", {"prompt": "12+34"}),
        ("/tokenize", {"messages": USER}),
        ("/detokenize", {"tokens": [49, 50]}),
        ("/v1/messages/count_tokens", {"messages": USER}),
    ],
)
def test_the_tokenizer_routes_take_an_adapters_name(client: TestClient, path: str, body: dict[str, Any]) -> None:
    """The adapter shares the base model's tokenizer: the same answer, and an unknown name is still a 404."""
    base = client.post(path, json={**body, "model": "tiny-reasoner"})
    assert client.post(path, json={**body, "model": "zero"}).json() == base.json()
    assert client.post(path, json={**body, "model": "zeros"}).status_code == 404


def test_metrics_label_the_adapters_requests_with_its_name(client: TestClient) -> None:
    assert 'thinkserve_budget_requests_total{model="zero"} 0.0' in client.get("/metrics").text  # at 0 from the start
    budget = {"messages": USER, "max_tokens": 40, "max_thinking_tokens": 8}
    client.post("/v1/chat/completions", json={**budget, "model": "zero"})
    client.post("/v1/chat/completions", json={**budget, "model": "zero", "n": 2})
    client.post("/v1/chat/completions", json=budget)
    samples = parse(client.get("/metrics").text)
    assert value(samples, "thinkserve_budget_requests_total", model="zero") == 2
    assert value(samples, "thinkserve_budget_max_choices_total", model="zero") == 3
    assert value(samples, "thinkserve_budget_requests_total", model="tiny-reasoner") == 1


@pytest.mark.parametrize(
    ("modules", "says"),
    [
        (["tiny-reasoner=/adapters/x"], "'tiny-reasoner' is a served base model's name"),
        (['{"name": "x", "path": "/a", "base_model_name": "llama"}'], "names base_model_name 'llama'"),
    ],
)
def test_startup_refuses_names_only_the_engine_can_check(engine: FakeEngine, modules: list[str], says: str) -> None:
    app = create_app(Settings(lora_modules=modules), engine.lifetime)
    with pytest.raises(AdapterError, match=says), TestClient(app):
        pass
