"""``/metrics`` over a scripted engine: HTTP traffic, rejections and the budget counters move by the right amounts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from server.ops.metrics import ALL_REASONS, rejection_reason
from server.protocol.errors import APIError
from tests.scrape import parse, value

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "What is 12 + 34?"}]
MODEL = {"model": "tiny-reasoner"}


def scrape(client: TestClient) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def test_http_requests_are_counted_by_route_and_status_but_probes_are_not(client: TestClient) -> None:
    client.post(CHAT, json={"messages": USER})
    client.post(CHAT, json={"messages": USER, "temperature": "hot"})
    client.get("/health")
    client.get("/no/such/path")
    samples = scrape(client)
    assert value(samples, "thinkserve_http_requests_total", handler=CHAT, status="200") == 1
    assert value(samples, "thinkserve_http_requests_total", handler=CHAT, status="400") == 1
    assert value(samples, "thinkserve_http_request_duration_seconds_count", handler=CHAT) == 2
    assert value(samples, "thinkserve_http_requests_total", handler="/health") == 0
    assert value(samples, "thinkserve_http_requests_total", handler="/metrics") == 0
    assert value(samples, "thinkserve_http_requests_total") == 2  # the unknown path has no route: not counted
    assert value(samples, "thinkserve_http_requests_in_flight", handler=CHAT) == 0
    assert value(samples, "thinkserve_rejected_requests_total", reason="invalid_request") == 1
    assert value(samples, "thinkserve_rejected_requests_total", reason="not_found") == 1


def test_rejections_by_reason(client: TestClient) -> None:
    client.post(CHAT, json={"messages": USER, "model": "gpt-9"})
    client.post(CHAT, json={"messages": USER, "max_thinking_tokens": 5, "thinking_token_budget": 6})
    client.post(CHAT, json={"messages": USER, "max_tokens": 10**6})
    samples = scrape(client)
    for reason in ("model_not_found", "conflicting_parameters", "context_length_exceeded"):
        assert value(samples, "thinkserve_rejected_requests_total", reason=reason) == 1, reason


def test_reasons_are_a_fixed_set() -> None:
    assert rejection_reason(APIError("x", status=418, code="user supplied")) == "other"  # type: ignore[arg-type]


def test_budget_counters_equal_the_sum_of_the_reports(client: TestClient) -> None:
    reports = []
    for extra in ({"min_thinking_waits": 1}, {"max_thinking_tokens": 500}, {"max_thinking_tokens": 4, "n": 2}, {}):
        body = client.post(CHAT, json={"messages": USER, **MODEL, **extra}).json()
        reports += [c["thinking_budget"] for c in body["choices"] if c["thinking_budget"]]
    with client.stream("POST", CHAT, json={"messages": USER, "stream": True, "min_thinking_waits": 1}) as response:
        for line in response.iter_lines():
            if '"thinking_budget":{' in line:
                reports.append(json.loads(line.removeprefix("data: "))["choices"][0]["thinking_budget"])
    samples = scrape(client)
    model = {"model": "tiny-reasoner"}
    assert value(samples, "thinkserve_budget_requests_total", **model) == 4
    assert value(samples, "thinkserve_budget_waits_inserted_total", **model) == sum(r["waits"] for r in reports)
    assert value(samples, "thinkserve_budget_forced_ends_total", **model) == sum(r["forced_end"] for r in reports)
    assert value(samples, "thinkserve_budget_max_choices_total", **model) == 3
    assert value(samples, "thinkserve_budget_share_used_count", **model) == 3
    assert value(samples, "thinkserve_thinking_tokens_count", **model) == 6  # every choice, budgeted or not
    assert value(samples, "thinkserve_time_to_first_token_seconds_count", **model) == 1  # the streamed one


RECORD = """
from server.ops.metrics import ServerMetrics
metrics = ServerMetrics.create()
metrics.record_budget_request("tiny-reasoner")
metrics.record_choice("tiny-reasoner", 40, None, None)
"""
EXPOSE = """
import sys
from server.ops.metrics import ServerMetrics
sys.stdout.write(ServerMetrics.create().exposition().decode())
"""


def test_several_api_processes_add_up_in_multiprocess_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two API processes record, a third one serves /metrics
        subprocess.run([sys.executable, "-c", RECORD], env=env, check=True, timeout=120)
    text = subprocess.run(
        [sys.executable, "-c", EXPOSE], env=env, check=True, timeout=120, capture_output=True, text=True
    ).stdout
    samples = parse(text)
    assert value(samples, "thinkserve_budget_requests_total", model="tiny-reasoner") == 2
    assert value(samples, "thinkserve_thinking_tokens_sum", model="tiny-reasoner") == 80


def test_known_labels_are_exported_at_zero_before_their_first_event(client: TestClient) -> None:
    """Dashboards show 0, not "No data": every rejection reason, and each served model's budget series."""
    text = client.get("/metrics").text
    assert 'thinkserve_rejected_requests_total{reason="overloaded"} 0.0' in text
    assert 'thinkserve_budget_requests_total{model="tiny-reasoner"} 0.0' in text
    samples = parse(text)
    for reason in ALL_REASONS:
        assert ("thinkserve_rejected_requests_total", frozenset({("reason", reason)})) in samples, reason
    assert {"other", "unauthorized", "too_large", "draining", "not_found"} <= set(ALL_REASONS)
    model = frozenset({("model", "tiny-reasoner")})
    for name in ("thinkserve_budget_waits_inserted_total", "thinkserve_budget_forced_ends_total",
                 "thinkserve_budget_max_choices_total", "thinkserve_budget_share_used_count",
                 "thinkserve_budget_loops_broken_total", "thinkserve_budget_guarded_choices_total",
                 "thinkserve_thinking_tokens_count", "thinkserve_time_to_first_token_seconds_count"):  # fmt: skip
        assert samples.get((name, model)) == 0, name


@pytest.mark.parametrize("rejected", [{"n": 1000}, {"stop": [""]}, {"max_tokens": 10**6}, {"model": "gpt-9"}])
def test_rejected_budgeted_requests_are_not_counted_as_budget_requests(client: TestClient, rejected: dict) -> None:
    budgeted = {"messages": USER, "max_thinking_tokens": 5}
    assert client.post(CHAT, json={**budgeted, **rejected}).status_code in (400, 404)
    assert value(scrape(client), "thinkserve_budget_requests_total", model="tiny-reasoner") == 0
    assert client.post(CHAT, json=budgeted).status_code == 200
    assert value(scrape(client), "thinkserve_budget_requests_total", model="tiny-reasoner") == 1
