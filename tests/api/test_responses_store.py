"""The Responses API's bounded store over the scripted engine: ``GET /v1/responses/{id}``,
``previous_response_id``, ``store: false``, eviction by count and by bytes; and the operations that cover
every generation route (API keys, admission, drain, ``/metrics``, the access log) on ``/v1/responses``."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import Lifecycle, create_app
from server.ops.settings import Settings
from server.protocol.responses_output import ResponseObject
from server.serving.response_store import ResponseStore
from tests.api.test_responses import QUESTION, RESPONSES, create, prompt, validated
from tests.fakes import FakeEngine
from tests.scrape import parse, value


def serve(engine: FakeEngine, lifecycle: Lifecycle | None = None, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(**settings), engine.lifetime, lifecycle))


def test_a_stored_response_is_read_back(client: TestClient) -> None:
    body = create(client)
    got = client.get(f"{RESPONSES}/{body['id']}")
    assert got.status_code == 200 and got.json() == body
    validated(got.json())
    unknown = client.get(f"{RESPONSES}/resp_unknown")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "response_not_found"
    assert set(unknown.json()["error"]) == {"message", "type", "param", "code"}


def test_a_streamed_response_is_stored_too(client: TestClient) -> None:
    with client.stream("POST", RESPONSES, json={"input": QUESTION, "stream": True}) as response:
        last = [line for line in response.iter_lines() if line.startswith("data: ")][-1]
    final = json.loads(last.removeprefix("data: "))["response"]
    assert client.get(f"{RESPONSES}/{final['id']}").json() == final


def test_store_false_keeps_nothing(client: TestClient) -> None:
    body = create(client, store=False)
    assert client.get(f"{RESPONSES}/{body['id']}").status_code == 404
    refused = client.post(RESPONSES, json={"input": "And?", "previous_response_id": body["id"]})
    assert refused.status_code == 404 and refused.json()["error"]["param"] == "previous_response_id"


def test_previous_response_id_continues_the_conversation(client: TestClient, engine: FakeEngine) -> None:
    first = create(client, instructions="Be brief.")
    second = create(client, input="And 1 + 1?", previous_response_id=first["id"], instructions="Be terse.")
    assert validated(second).previous_response_id == first["id"]
    # The earlier instructions are not carried over (as OpenAI's API); the earlier turn and its answer are.
    assert prompt(engine).startswith(
        f"<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n"
        "<|im_start|>assistant\n46<|im_end|>\n<|im_start|>user\nAnd 1 + 1?<|im_end|>\n"
    )
    third = create(client, input="And 2 + 2?", previous_response_id=second["id"])
    assert third["status"] == "completed" and prompt(engine).count("<|im_start|>assistant\n46<|im_end|>") == 2


def test_the_store_evicts_the_least_recently_used(engine: FakeEngine) -> None:
    with serve(engine, responses_store_max=2) as client:
        ids = [create(client)["id"] for _ in range(2)]
        assert client.get(f"{RESPONSES}/{ids[0]}").status_code == 200  # now the most recently used
        ids.append(create(client)["id"])
        assert [client.get(f"{RESPONSES}/{i}").status_code for i in ids] == [200, 404, 200]


def test_a_response_continued_from_survives_its_parents_eviction(engine: FakeEngine) -> None:
    """Each entry holds its whole conversation: nothing a kept response refers to is lost."""
    with serve(engine, responses_store_max=1) as client:
        first = create(client)
        second = create(client, input="And?", previous_response_id=first["id"])
        assert client.get(f"{RESPONSES}/{first['id']}").status_code == 404
        create(client, input="And then?", previous_response_id=second["id"])
        assert prompt(engine).count("<|im_start|>assistant\n46<|im_end|>") == 2


def test_the_store_is_bounded_in_bytes() -> None:
    store = ResponseStore(max_entries=100, max_bytes=2_000)
    for i in range(10):
        assert store.put(ResponseObject(id=f"resp_{i}", status="completed", model="m"), [{"content": "x" * 300}])
    assert store.size <= 2_000 and len(store) < 10
    assert store.get("resp_9").response.id == "resp_9"
    assert not store.put(ResponseObject(id="big", status="completed", model="m"), [{"content": "x" * 3_000}])
    assert ResponseStore(0, 2_000).put(ResponseObject(id="r", status="completed", model="m"), []) is False


def test_api_keys_admission_and_drain_cover_the_route(engine: FakeEngine) -> None:
    body = {"input": QUESTION}
    with serve(engine, api_key="k") as client:
        assert client.post(RESPONSES, json=body).status_code == 401
        assert client.get(f"{RESPONSES}/resp_x").status_code == 401
        assert client.post(RESPONSES, json=body, headers={"Authorization": "Bearer k"}).status_code == 200
    lifecycle = Lifecycle.of(Settings())
    with serve(engine, lifecycle) as client:
        lifecycle.admission.draining = True
        draining = client.post(RESPONSES, json=body)
        assert draining.status_code == 503 and draining.json()["error"]["code"] == "draining"
    engine.step_delay = 0.05
    with serve(engine, max_concurrent_requests=1) as client:
        first: list[int] = []
        running = threading.Thread(target=lambda: first.append(client.post(RESPONSES, json=body).status_code))
        seen = len(engine.requests)
        running.start()
        while len(engine.requests) == seen:
            threading.Event().wait(0.01)
        refused = client.post(RESPONSES, json=body)
        running.join()
        assert first == [200] and refused.status_code == 429


def test_metrics_and_the_access_log_cover_the_route(
    client: TestClient, engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="server.access")
    client.post(RESPONSES, json={"input": QUESTION})
    client.post(RESPONSES, json={"input": QUESTION, "temperature": "hot"})
    client.get(f"{RESPONSES}/resp_unknown")
    samples = parse(client.get("/metrics").text)
    assert value(samples, "thinkserve_http_requests_total", handler=RESPONSES, status="200") == 1
    assert value(samples, "thinkserve_http_requests_total", handler=RESPONSES, status="400") == 1
    assert value(samples, "thinkserve_http_requests_total", handler=f"{RESPONSES}/{{response_id}}", status="404") == 1
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "server.access"]
    ok = next(line for line in lines if line["path"] == RESPONSES and line["status"] == 200)
    assert ok["model"] == "tiny-reasoner" and ok["prompt_tokens"] > 0 and ok["reasoning_tokens"] > 0
