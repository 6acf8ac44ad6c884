"""API keys, body size, admission and the per-request log line, over the scripted engine."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.api.app import Lifecycle, create_app
from server.ops.settings import Settings
from tests.fakes import FakeEngine

CHAT = "/v1/chat/completions"
BODY = {"messages": [{"role": "user", "content": "What is 12 + 34?"}]}


def serve(engine: FakeEngine, lifecycle: Lifecycle | None = None, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(**settings), engine.lifetime, lifecycle))  # type: ignore[arg-type]


def test_api_keys_guard_v1_and_leave_probes_open(engine: FakeEngine) -> None:
    with serve(engine, api_key="k1, k2") as client:
        missing = client.post(CHAT, json=BODY)
        assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
        assert missing.headers["www-authenticate"] == "Bearer"
        assert client.post(CHAT, json=BODY, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.post(CHAT, json=BODY, headers={"Authorization": "Basic k1"}).status_code == 401
        for key in ("k1", "k2"):
            assert client.post(CHAT, json=BODY, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert client.get("/v1/models").status_code == 401
        assert client.get("/health").status_code == 200 and client.get("/metrics").status_code == 200


def test_metrics_can_be_guarded_too(engine: FakeEngine) -> None:
    with serve(engine, api_key="k", auth_paths=["/v1", "/metrics"]) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer k"}).status_code == 200


def test_a_key_file_is_reread_when_it_changes(engine: FakeEngine, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# rotated weekly\nold\n")
    with serve(engine, api_key_file=keys) as client:
        assert client.get("/v1/models", headers={"Authorization": "Bearer old"}).status_code == 200
        keys.write_text("new\n")
        os.utime(keys, (1, 1))  # a different mtime even within the filesystem's time resolution
        assert client.get("/v1/models", headers={"Authorization": "Bearer old"}).status_code == 401
        assert client.get("/v1/models", headers={"Authorization": "Bearer new"}).status_code == 200


def test_keys_never_reach_the_logs_or_the_settings_repr(engine: FakeEngine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with serve(engine, api_key="sekrit") as client:
        client.post(CHAT, json=BODY, headers={"Authorization": "Bearer sekrit"})
        client.post(CHAT, json=BODY, headers={"Authorization": "Bearer sekrit-wrong"})
    assert "sekrit" not in caplog.text and "sekrit" not in repr(Settings(api_key="sekrit"))


def test_bodies_over_the_limit_get_413_declared_or_chunked(engine: FakeEngine) -> None:
    big = json.dumps({**BODY, "user": "x" * 5000}).encode()
    with serve(engine, max_request_bytes=4096) as client:
        declared = client.post(CHAT, content=big, headers={"content-type": "application/json"})
        chunked = client.post(
            CHAT, content=iter([big[:3000], big[3000:]]), headers={"content-type": "application/json"}
        )
        for response in (declared, chunked):
            assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
        assert client.post(CHAT, json=BODY).status_code == 200


def test_too_many_messages_is_a_400_naming_messages(engine: FakeEngine) -> None:
    with serve(engine, max_messages=3) as client:
        response = client.post(CHAT, json={"messages": BODY["messages"] * 4})
        assert response.status_code == 400 and response.json()["error"]["param"] == "messages"


@pytest.fixture
def slow_engine() -> FakeEngine:
    engine = FakeEngine()
    engine.step_delay = 0.05
    return engine


def test_admission_answers_429_beyond_the_limit_then_admits_again(slow_engine: FakeEngine) -> None:
    with serve(slow_engine, max_concurrent_requests=1) as client:
        first: list[int] = []
        streaming = threading.Thread(target=lambda: first.append(client.post(CHAT, json=BODY).status_code))
        streaming.start()
        while not slow_engine.requests:  # the first request is in the engine
            threading.Event().wait(0.01)
        refused = client.post(CHAT, json=BODY)
        streaming.join()
        assert first == [200]
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == {
            "message": "The server is at its limit of 1 requests at once; retry shortly.",
            "type": "rate_limit_error", "param": None, "code": "server_overloaded",
        }  # fmt: skip
        assert client.post(CHAT, json=BODY).status_code == 200
        assert client.get("/v1/models").status_code == 200  # only completions count


def test_draining_refuses_new_completions_with_503(engine: FakeEngine) -> None:
    lifecycle = Lifecycle.of(Settings())
    with serve(engine, lifecycle) as client:
        lifecycle.admission.draining = True
        response = client.post(CHAT, json=BODY)
        assert response.status_code == 503 and response.json()["error"]["code"] == "draining"
        assert client.get("/health").status_code == 200


def test_a_dead_engine_is_reported_to_the_process(engine: FakeEngine) -> None:
    died = threading.Event()
    lifecycle = Lifecycle.of(Settings())
    lifecycle.engine_died = died.set
    with serve(engine, lifecycle) as client:
        engine.is_healthy = False
        assert died.wait(5)
        assert client.post(CHAT, json=BODY).status_code == 503
        assert client.get("/health").status_code == 503


def test_one_structured_line_per_request_with_its_id(engine: FakeEngine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="server.access")
    with serve(engine) as client:
        given = client.post(CHAT, json=BODY, headers={"X-Request-Id": "abc-123"})
        fresh = client.post(CHAT, json={**BODY, "stream": True})
        client.get("/health")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "server.access"]
    assert [line["path"] for line in lines] == [CHAT, CHAT]  # probes are not logged
    assert given.headers["x-request-id"] == "abc-123" == lines[0]["request_id"]
    assert fresh.headers["x-request-id"] == lines[1]["request_id"] != "abc-123"
    usage = given.json()["usage"]
    assert lines[0]["status"] == 200 and lines[0]["model"] == "tiny-reasoner"
    assert (lines[0]["prompt_tokens"], lines[0]["completion_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert lines[1]["ttft_ms"] >= 0 and lines[1]["completion_tokens"] > 0 and lines[0]["duration_ms"] > 0
    assert "What is 12" not in caplog.text  # prompts are not logged


def test_invocations_is_guarded_and_admitted_as_the_chat_route(slow_engine: FakeEngine) -> None:
    """SageMaker's route generates: the key that guards /v1 guards it, and it counts against the limit."""
    with serve(slow_engine, api_key="k", max_concurrent_requests=1) as client:
        assert client.post("/invocations", json=BODY).status_code == 401
        key = {"Authorization": "Bearer k"}
        first: list[int] = []
        running = threading.Thread(
            target=lambda: first.append(client.post("/invocations", json=BODY, headers=key).status_code)
        )
        running.start()
        while not slow_engine.requests:
            threading.Event().wait(0.01)
        refused = client.post(CHAT, json=BODY, headers=key)
        running.join()
        assert first == [200] and refused.status_code == 429
        assert client.get("/ping").status_code == 200  # a probe: open, never admitted
    with serve(slow_engine, api_key="k", auth_paths=["/admin"]) as client:
        assert client.post("/invocations", json=BODY).status_code == 200  # /v1 unguarded: so is its alias


@pytest.mark.parametrize("tracking", [True, False])
def test_load_counts_the_requests_in_flight_when_tracked(slow_engine: FakeEngine, tracking: bool) -> None:
    """vLLM's ``/load`` with ``--enable-server-load-tracking``; without it, 0 as vLLM answers."""
    with serve(slow_engine, enable_server_load_tracking=tracking) as client:
        assert client.get("/load").json() == {"server_load": 0}
        streaming = threading.Thread(target=lambda: client.post(CHAT, json=BODY))
        streaming.start()
        while not slow_engine.requests:  # the request is in the engine
            threading.Event().wait(0.01)
        load = client.get("/load").json()
        streaming.join()
        assert load == {"server_load": 1 if tracking else 0}
        assert client.get("/load").json() == {"server_load": 0}
