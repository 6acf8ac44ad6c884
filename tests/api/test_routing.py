"""Routing over the fake engine: trailing slashes, unknown routes and methods, CORS, and `/v1/models` `created`."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from server.api.app import Lifecycle, create_app
from server.ops.settings import Settings
from tests.fakes import FakeEngine
from tests.scrape import parse, value

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "What is 12 + 34?"}]
ORIGIN = "https://ui.example"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization",
}


def test_models_created_is_when_the_server_started(engine: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_700_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    with TestClient(create_app(Settings(), engine.lifetime)) as client:
        clock[0] += 3600  # an hour later, the model was still created at startup
        listed = client.get("/v1/models").json()["data"][0]["created"]
        again = client.get("/v1/models").json()["data"][0]["created"]
        one = client.get("/v1/models/tiny-reasoner").json()["created"]
    assert listed == again == one == 1_700_000_000


def test_trailing_slash_is_served_not_redirected(client: TestClient) -> None:
    response = client.post(f"{CHAT}/", json={"messages": USER}, follow_redirects=False)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "46"
    completion = client.post("/v1/completions/", json={"prompt": "1+2", "max_tokens": 2}, follow_redirects=False)
    assert completion.status_code == 200 and completion.json()["choices"][0]["text"]
    assert client.get("/v1/models/", follow_redirects=False).json()["data"][0]["id"] == "tiny-reasoner"
    assert client.get("/health/", follow_redirects=False).status_code == 200
    samples = parse(client.get("/metrics/").text)  # counted under the route's template
    assert value(samples, "thinkserve_http_requests_total", handler=CHAT, status="200") == 1
    assert value(samples, "thinkserve_http_requests_total", handler=f"{CHAT}/") == 0


def test_trailing_slash_goes_through_admission_and_the_key_gate(engine: FakeEngine) -> None:
    lifecycle = Lifecycle.of(Settings(max_concurrent_requests=1))
    app = create_app(Settings(api_key="k1"), engine.lifetime, lifecycle)
    with TestClient(app, follow_redirects=False) as client:
        assert client.post(f"{CHAT}/", json={"messages": USER}).status_code == 401
        key = {"Authorization": "Bearer k1"}
        lifecycle.admission.active = 1  # one completion in flight: the limit
        refused = client.post(f"{CHAT}/", json={"messages": USER}, headers=key)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "server_overloaded"
        lifecycle.admission.active = 0
        assert client.post(f"{CHAT}/", json={"messages": USER}, headers=key).status_code == 200
        assert lifecycle.admission.active == 0


def test_unknown_route_names_the_request_and_lists_the_endpoints(client: TestClient) -> None:
    response = client.post("/v1/foo", json={})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("No route POST /v1/foo. This server serves: POST /v1/chat/completions, ")
    for endpoint in ("POST /v1/completions", "GET /v1/models", "GET /v1/models/{model}", "GET /health", "GET /metrics"):
        assert endpoint in error["message"]
    assert "/openapi.json" not in error["message"]


def test_wrong_method_names_the_allowed_ones(client: TestClient) -> None:
    response = client.get(CHAT)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    error = response.json()["error"]
    assert error["message"] == f"Method GET is not allowed on {CHAT}; it allows: POST."
    assert set(error) == {"message", "type", "param", "code"}


def test_model_not_found_keeps_its_own_message(client: TestClient) -> None:
    assert "does not exist" in client.get("/v1/models/gpt-9").json()["error"]["message"]


def test_cors_preflight_is_answered_before_the_key_gate(engine: FakeEngine) -> None:
    settings = Settings(api_key="k1", allowed_origins=[ORIGIN])
    with TestClient(create_app(settings, engine.lifetime)) as client:
        preflight = client.options(CHAT, headers=PREFLIGHT)
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-allow-headers"] == "authorization"
        refused = client.post(CHAT, json={"messages": USER}, headers={"Origin": ORIGIN})
        assert refused.status_code == 401  # the key is still needed; the browser may read why
        assert refused.headers["access-control-allow-origin"] == ORIGIN
        served = client.post(CHAT, json={"messages": USER}, headers={"Origin": ORIGIN, "Authorization": "Bearer k1"})
        assert served.status_code == 200 and served.headers["access-control-allow-origin"] == ORIGIN


def test_cors_is_off_by_default_as_in_vllm(client: TestClient) -> None:
    assert client.options(CHAT, headers=PREFLIGHT).status_code == 400  # Starlette: "Disallowed CORS origin"
    response = client.post(CHAT, json={"messages": USER}, headers={"Origin": ORIGIN})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


def test_cors_credentials_echo_the_origin(engine: FakeEngine) -> None:
    settings = Settings(allowed_origins=["*"], allow_credentials=True, allowed_methods=["POST"])
    with TestClient(create_app(settings, engine.lifetime)) as client:
        preflight = client.options(CHAT, headers=PREFLIGHT)
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-credentials"] == "true"
        assert preflight.headers["access-control-allow-methods"] == "POST"
        assert client.options(CHAT, headers={**PREFLIGHT, "Access-Control-Request-Method": "PUT"}).status_code == 400


def test_cors_flags_are_vllms() -> None:
    from server.cli import parse  # imports vLLM: a few seconds

    flags = ["--allowed-origins", f'["{ORIGIN}"]', "--allowed-methods", '["POST"]', "--allow-credentials"]
    settings, _ = parse(flags)
    assert (settings.allowed_origins, settings.allowed_methods, settings.allowed_headers) == ([ORIGIN], ["POST"], ["*"])
    assert settings.allow_credentials
    defaults, _ = parse([])
    assert (defaults.allowed_origins, defaults.allow_credentials) == ([], False)


def test_thinking_flags_and_vllms_reasoning_parser_reach_the_settings() -> None:
    from server.cli import parse

    settings, engine_args = parse(["--reasoning-parser", "deepseek_r1", "--thinking-end", "</think>"])
    choice = settings.format_choice()
    assert (choice.reasoning_parser, choice.end, choice.format) == ("deepseek_r1", "</think>", "auto")
    assert engine_args.reasoning_parser == "deepseek_r1"  # vLLM's engine gets it as `vllm serve` gives it


def test_tool_flags_are_vllms_and_the_shipped_model_serves_with_hermes() -> None:
    from server.cli import parse

    shipped, _ = parse([])
    assert (shipped.enable_auto_tool_choice, shipped.tool_call_parser) == (True, "hermes")
    other, _ = parse(["--model", "/models/qwen3"])
    assert (other.enable_auto_tool_choice, other.tool_call_parser) == (False, None)  # as vllm serve: opt in
    chosen, _ = parse(["--model", "/m", "--enable-auto-tool-choice", "--tool-call-parser", "qwen3_xml",
                       "--tool-parser-plugin", "/p.py"])  # fmt: skip
    assert (chosen.enable_auto_tool_choice, chosen.tool_call_parser, chosen.tool_parser_plugin) == (
        True, "qwen3_xml", "/p.py"
    )  # fmt: skip
