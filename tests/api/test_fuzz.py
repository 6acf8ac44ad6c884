"""Property-based fuzzing of the HTTP API against its own OpenAPI spec (issue #7).

schemathesis reads ``/openapi.json`` and sends every operation the schema's examples, its coverage cases
(boundaries, unsupported methods) and Hypothesis-generated requests, schema-conforming and not (negative
mode). Every response must be below 500, errors must be OpenAI-shaped
(``{"error": {"message": str, "type": str, "param": str | null, "code": str | null}}``; Anthropic's
``{"type": "error", "error": {"type": str, "message": str}}`` on ``/v1/messages…``), and the
built-in checks that fit must pass (status codes, content types, headers and bodies as the schema
declares them). The fake engine answers; schemathesis runs the app's lifespan over ASGI, no socket.

Two built-in checks do not fit this server, by design:

- ``positive_data_acceptance``: schema-valid requests may still be 400s for limits the schema cannot
  state (``n`` above ``--max-n``, ``max_tokens`` past the context, token ids outside the vocabulary, an
  empty prompt, cross-field rules such as ``top_logprobs`` without ``logprobs``).
- ``negative_data_rejection``: pydantic's lax mode coerces ``false`` to ``0`` and ``0`` to ``false``
  (``"temperature": false``, ``"stream": 0``, ``"prompt": [false]`` are 200s) where the schema says
  number, boolean or integer.

schemathesis never generates lone surrogates (they cannot be UTF-8 encoded), but a JSON body can carry
them as ``\\ud800`` escapes: :func:`test_lone_surrogates` sends those.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from server.api.app import create_app
from server.ops.settings import Settings
from tests.fakes import FakeEngine

MIN_REQUESTS = 1_000
OPERATIONS = frozenset(
    {
        "POST /v1/chat/completions",
        "POST /v1/completions",
        "POST /v1/responses",
        "GET /v1/responses/{response_id}",
        "POST /v1/messages",
        "POST /v1/messages/count_tokens",
        "GET /v1/models",
        "GET /v1/models/{model}",
        "GET /health",
        "GET /version",
        "GET /load",
        "GET /ping",
        "POST /ping",
        "POST /tokenize",
        "POST /detokenize",
        "POST /invocations",
    }
)
FUZZ_SETTINGS = settings(
    max_examples=100,  # per operation (16), fuzzing phase; examples and coverage cases come on top
    derandomize=True,
    database=None,
    deadline=None,
)

engine = FakeEngine()
app = create_app(Settings(), engine.lifetime)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema.config.output.sanitization.update(enabled=False)  # else `*_tokens` fields show as [Filtered]

sent: Counter[str] = Counter()  # responses received, per operation


def content_type(headers: Any) -> str:
    value = headers.get("content-type", "")
    return (value[0] if isinstance(value, list) else value).split(";")[0].strip()


def assert_openai_error(status: int, headers: Any, content: bytes, request: str = "") -> None:
    seen = f"{request} -> {int(status)} {content!r}"
    assert content_type(headers) == "application/json", seen
    body = json.loads(content)
    assert isinstance(body, dict) and set(body) == {"error"}, seen
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}, seen
    for key in ("message", "type"):
        assert isinstance(error[key], str) and error[key], seen
    for key in ("param", "code"):
        assert error[key] is None or isinstance(error[key], str), seen


def assert_anthropic_error(status: int, headers: Any, content: bytes, request: str = "") -> None:
    """Anthropic's routes answer ``{"type": "error", "error": {"type", "message"}}``."""
    seen = f"{request} -> {int(status)} {content!r}"
    assert content_type(headers) == "application/json", seen
    body = json.loads(content)
    assert isinstance(body, dict) and body.get("type") == "error" and set(body) == {"type", "error"}, seen
    assert isinstance(body["error"], dict) and set(body["error"]) == {"type", "message"}, seen
    assert all(isinstance(body["error"][key], str) and body["error"][key] for key in ("type", "message")), seen


def assert_answered(
    status: int, headers: Any, content: bytes, streamed: bool, request: str = "", path: str = ""
) -> None:
    """No 5xx; errors in the route's shape (OpenAI's, Anthropic's on ``/v1/messages…``); successes JSON, or
    server-sent events for ``stream: true``."""
    seen = f"{request} -> {int(status)} {content[:500]!r}"
    assert status < 500, seen
    if status >= 400 and path.startswith("/v1/messages"):
        assert_anthropic_error(status, headers, content, request)
    elif status >= 400:
        assert_openai_error(status, headers, content, request)
    elif streamed:
        assert content_type(headers) == "text/event-stream", seen
    else:
        assert content_type(headers) == "application/json", seen
        json.loads(content)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api(case: schemathesis.Case) -> None:
    response = case.call()
    sent[case.operation.label] += 1
    streamed = isinstance(case.body, dict) and case.body.get("stream") is True
    assert_answered(response.status_code, response.headers, response.content, streamed, path=case.operation.path)
    case.validate_response(response, excluded_checks=[positive_data_acceptance, negative_data_rejection])


def test_fuzz_sent_enough_requests() -> None:
    """Runs after ``test_api`` (file order): the figure in issue #7 is requests actually answered."""
    if set(sent) != OPERATIONS:
        pytest.skip(f"run the whole module: only {sorted(sent)} were fuzzed in this session")
    assert sum(sent.values()) >= MIN_REQUESTS, sent
    assert engine.requests, "no request reached the engine: did the lifespan run?"


CHAT: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
COMPLETION: dict[str, Any] = {"prompt": "hi", "max_tokens": 4}
MESSAGES: dict[str, Any] = {"model": "tiny-reasoner", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
TEXT_FIELDS = {  # each places one generated string in an otherwise valid request
    "chat content": ("/v1/chat/completions", lambda s: {**CHAT, "messages": [{"role": "user", "content": s}]}),
    "chat text part": (
        "/v1/chat/completions",
        lambda s: {**CHAT, "messages": [{"role": "user", "content": [{"type": "text", "text": s}]}]},
    ),
    "chat system": (
        "/v1/chat/completions",
        lambda s: {**CHAT, "messages": [{"role": "system", "content": s}, *CHAT["messages"]]},
    ),
    "chat name": (
        "/v1/chat/completions",
        lambda s: {**CHAT, "messages": [{"role": "user", "content": "hi", "name": s}]},
    ),
    "chat stop": ("/v1/chat/completions", lambda s: {**CHAT, "stop": [s]}),
    "chat model": ("/v1/chat/completions", lambda s: {**CHAT, "model": s}),
    "chat user": ("/v1/chat/completions", lambda s: {**CHAT, "user": s}),
    "chat reasoning_effort": ("/v1/chat/completions", lambda s: {**CHAT, "reasoning_effort": s}),
    "chat wait string": (
        "/v1/chat/completions",
        lambda s: {**CHAT, "thinking_wait_string": s, "min_thinking_waits": 1},
    ),
    "chat answer prefix": (
        "/v1/chat/completions",
        lambda s: {**CHAT, "thinking_answer_prefix": s, "max_thinking_tokens": 1},
    ),
    "chat stream": (
        "/v1/chat/completions",
        lambda s: {**CHAT, "messages": [{"role": "user", "content": s}], "stream": True},
    ),
    "responses input": ("/v1/responses", lambda s: {"input": s, "max_output_tokens": 4}),
    "responses item": (
        "/v1/responses",
        lambda s: {"input": [{"role": "user", "content": [{"type": "input_text", "text": s}]}], "max_output_tokens": 4},
    ),
    "responses instructions": ("/v1/responses", lambda s: {"input": "hi", "instructions": s, "max_output_tokens": 4}),
    "responses stream": ("/v1/responses", lambda s: {"input": s, "stream": True, "max_output_tokens": 4}),
    "messages content": ("/v1/messages", lambda s: {**MESSAGES, "messages": [{"role": "user", "content": s}]}),
    "messages system": ("/v1/messages", lambda s: {**MESSAGES, "system": [{"type": "text", "text": s}]}),
    "messages stop": ("/v1/messages", lambda s: {**MESSAGES, "stop_sequences": [s]}),
    "messages tool input": (
        "/v1/messages",
        lambda s: {
            **MESSAGES,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "add", "input": {"a": [s]}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": s}]},
            ],
        },
    ),
    "messages stream": ("/v1/messages", lambda s: {**MESSAGES, "system": s, "stream": True}),
    "count_tokens": (
        "/v1/messages/count_tokens",
        lambda s: {"model": "tiny-reasoner", "messages": [{"role": "user", "content": s}]},
    ),
    "prompt": ("/v1/completions", lambda s: {**COMPLETION, "prompt": s}),
    "tokenize prompt": ("/tokenize", lambda s: {"prompt": s}),
    "tokenize messages": ("/tokenize", lambda s: {"messages": [{"role": "user", "content": s}]}),
    "invocations": ("/invocations", lambda s: {**CHAT, "messages": [{"role": "user", "content": s}]}),
    "prompt list": ("/v1/completions", lambda s: {**COMPLETION, "prompt": ["hi", s]}),
    "prompt echo": ("/v1/completions", lambda s: {**COMPLETION, "prompt": s, "echo": True}),
    "completion stop": ("/v1/completions", lambda s: {**COMPLETION, "stop": s}),
    "completion model": ("/v1/completions", lambda s: {**COMPLETION, "model": s}),
    "completion answer prefix": (
        "/v1/completions",
        lambda s: {**COMPLETION, "thinking_answer_prefix": s, "max_thinking_tokens": 1},
    ),
}
# Text around a surrogate code point: JSON escapes it (`"\ud800"`), Python's json module decodes it as is.
SURROGATE_TEXT = st.builds(
    lambda before, surrogate, after: before + surrogate + after,
    st.text(max_size=4),
    st.characters(categories=["Cs"]),
    st.text(max_size=4),
)


@pytest.fixture(scope="module")
def module_client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(), FakeEngine().lifetime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize("field", list(TEXT_FIELDS))
def test_lone_surrogates(module_client: TestClient, field: str) -> None:
    path, build = TEXT_FIELDS[field]

    @settings(FUZZ_SETTINGS, max_examples=25)
    @given(text=SURROGATE_TEXT)
    def answered(text: str) -> None:
        body = build(text)
        sent_body = json.dumps(body)
        response = module_client.post(path, content=sent_body, headers={"content-type": "application/json"})
        streamed = body.get("stream") is True
        assert_answered(
            response.status_code, response.headers, response.content, streamed, f"POST {path} {sent_body}", path
        )

    answered()
