"""Beyond s1 over HTTP: rotating waits, the grace, the wrap-up and the loop guard as request fields and server
defaults, their 400s, and the loop guard's report and counter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.ops.settings import Settings
from tests.fakes import FakeEngine
from tests.scrape import parse, value

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "What is 12 + 34?"}]
LOOPING = "Let me see. " * 8 + "</think>\n\n46"  # the same 12 tokens, 8 times: a loop (3 copies, 32 tokens)


def serve(engine: FakeEngine, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(**settings), engine.lifetime))  # type: ignore[arg-type]


@pytest.fixture
def looping() -> Iterator[tuple[TestClient, FakeEngine]]:
    engine = FakeEngine(script=LOOPING)
    with serve(engine) as client:
        yield client, engine


def test_the_fields_reach_the_engine(client: TestClient, engine: FakeEngine) -> None:
    fields = {
        "min_thinking_waits": 2, "max_thinking_tokens": 100, "thinking_wait_string": ["Wait", "Hmm"],
        "thinking_end_grace": 16, "thinking_wrapup_string": "Time is up.", "thinking_loop_guard": True,
    }  # fmt: skip
    body = client.post(CHAT, json={"messages": USER, **fields}).json()
    args = engine.requests[0][1].extra_args["thinking_budget"]
    encode = engine.tokenizer.encode
    assert args["wait"] == encode("Wait", add_special_tokens=False)
    assert args["more_waits"] == [encode("Hmm", add_special_tokens=False)]
    assert args["wrapup"] == encode("Time is up.", add_special_tokens=False)
    assert (args["end_grace"], args["loop_guard"]) == (16, True)
    assert body["choices"][0]["thinking_budget"]["loops_broken"] == 0


def test_without_the_new_fields_the_plan_and_the_report_are_as_before(client: TestClient, engine: FakeEngine) -> None:
    body = client.post(CHAT, json={"messages": USER, "max_thinking_tokens": 100}).json()
    args = engine.requests[0][1].extra_args["thinking_budget"]
    assert not {"more_waits", "end_grace", "wrapup", "loop_guard"} & set(args)
    assert set(body["choices"][0]["thinking_budget"]) == {"thinking_tokens", "waits", "forced_end"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"thinking_end_grace": -1}, "thinking_end_grace"),
        ({"thinking_end_grace": 257}, "thinking_end_grace"),
        ({"thinking_end_grace": 1.5}, "thinking_end_grace"),
        ({"thinking_wait_string": []}, "thinking_wait_string"),
        ({"thinking_wait_string": ["Wait", ""]}, "thinking_wait_string"),
        ({"thinking_wait_string": ["Wait"] * 9}, "thinking_wait_string"),
        ({"thinking_wait_string": ["Alternatively, "] * 5, "min_thinking_waits": 1}, "thinking_wait_string"),
        ({"thinking_wrapup_string": ""}, "thinking_wrapup_string"),
        ({"thinking_wrapup_string": "Time is up. " * 5, "max_thinking_tokens": 9}, "thinking_wrapup_string"),
        ({"thinking_loop_guard": "yes"}, "thinking_loop_guard"),
    ],
)
def test_bad_values_are_400s_naming_the_field(client: TestClient, fields: dict, param: str) -> None:
    response = client.post(CHAT, json={"messages": USER, **fields})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_a_loop_is_reported_and_counted(looping: tuple[TestClient, FakeEngine]) -> None:
    client, _ = looping
    guarded = client.post(CHAT, json={"messages": USER, "thinking_loop_guard": True, "n": 2}).json()
    assert [c["thinking_budget"]["loops_broken"] for c in guarded["choices"]] == [1, 1]
    unguarded = client.post(CHAT, json={"messages": USER, "max_thinking_tokens": 500}).json()
    assert "loops_broken" not in unguarded["choices"][0]["thinking_budget"]
    samples = parse(client.get("/metrics").text)
    assert value(samples, "thinkserve_budget_loops_broken_total", model="tiny-reasoner") == 2
    assert value(samples, "thinkserve_budget_guarded_choices_total", model="tiny-reasoner") == 2


def test_server_defaults_apply_and_a_request_overrides_them() -> None:
    engine = FakeEngine(script=LOOPING)
    defaults = {"thinking_loop_guard": True, "thinking_wait_strings": ["Wait", "Hmm"], "thinking_end_grace": 8,
                "thinking_wrapup_string": "Time is up."}  # fmt: skip
    with serve(engine, **defaults) as client:
        body = client.post(CHAT, json={"messages": USER}).json()  # the guard alone makes a budget
        args = engine.requests[0][1].extra_args["thinking_budget"]
        assert (args["loop_guard"], args["end_grace"], len(args["more_waits"])) == (True, 8, 1)
        assert body["choices"][0]["thinking_budget"]["loops_broken"] == 1
        client.post(CHAT, json={"messages": USER, "thinking_loop_guard": False})
        assert engine.requests[1][1].extra_args is None  # no minimum, no maximum, no guard: no budget


def test_the_messages_api_passes_the_fields_on(looping: tuple[TestClient, FakeEngine]) -> None:
    client, engine = looping
    request = {"model": "tiny-reasoner", "max_tokens": 200, "messages": USER, "thinking_loop_guard": True,
               "thinking_wait_string": ["Wait", "Hmm"], "min_thinking_waits": 1}  # fmt: skip
    assert client.post("/v1/messages", json=request).status_code == 200
    args = engine.requests[0][1].extra_args["thinking_budget"]
    assert args["loop_guard"] and len(args["more_waits"]) == 1


def test_the_schema_documents_the_bounds(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    fields = next(s["properties"] for name, s in schema.items() if "thinking_end_grace" in s.get("properties", {}))
    grace = next(option for option in fields["thinking_end_grace"]["anyOf"] if option.get("type") == "integer")
    assert (grace["minimum"], grace["maximum"]) == (0, 256)
    lists = next(option for option in fields["thinking_wait_string"]["anyOf"] if option.get("type") == "array")
    assert (lists["minItems"], lists["maxItems"]) == (1, 8)
