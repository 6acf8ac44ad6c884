"""What gets in: API keys, request body size, and admission (a bound on generation requests at once).

Three pure ASGI middlewares, each answering with an error before the request
reaches a route, in the shape that route speaks (Anthropic's on ``/v1/messages``):

- :class:`ApiKeyGate`: ``Authorization: Bearer <key>`` (or Anthropic's
  ``x-api-key: <key>``) on the guarded path prefixes (``/v1`` by default;
  ``/health`` and ``/metrics`` stay open; ``/invocations`` as the chat route), keys from the settings and from a
  file re-read when it changes (rotation without a restart); compared in
  constant time; 401 otherwise. Keys are never logged.
- :class:`BodyLimit`: a body above the limit is a 413, whether it announces its
  length or streams it in chunks, before anything parses it.
- :class:`Admission`: at most ``limit`` generation requests at once, streaming
  ones until their last byte; beyond that a 429 with ``Retry-After``, and a 503
  once the server drains for shutdown. Nothing queues in front of the engine,
  so memory stays bounded however hard clients push.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.protocol.errors import APIError

GENERATION_PATHS = frozenset(
    {"/v1/chat/completions", "/v1/completions", "/v1/messages", "/v1/responses", "/invocations"}
)
# Routes outside the guarded prefixes that run another route: a key guards them as it guards that route
# (SageMaker's /invocations is chat or text completions; `vllm serve` leaves it unguarded, this server does not).
GUARDED_AS = {"/invocations": "/v1/chat/completions"}
Recorder = Callable[[APIError], None]


async def _refuse(error: APIError, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
    await error.response(headers, scope["path"])(scope, receive, send)


@dataclass
class ApiKeys:
    """The accepted keys: fixed ones, and a file (one key per line, ``#`` comments) re-read on change."""

    keys: tuple[str, ...] = ()
    file: Path | None = None
    _file_keys: tuple[str, ...] = ()
    _file_stamp: float | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.keys) or self.file is not None

    def current(self) -> tuple[str, ...]:
        if self.file is not None:
            stamp = self.file.stat().st_mtime
            if stamp != self._file_stamp:
                lines = (line.strip() for line in self.file.read_text().splitlines())
                self._file_keys = tuple(line for line in lines if line and not line.startswith("#"))
                self._file_stamp = stamp
        return self.keys + self._file_keys

    def accepts(self, presented: str) -> bool:
        """Constant time in the presented key: every key is compared, none short-circuits."""
        matches = [hmac.compare_digest(presented.encode(), key.encode()) for key in self.current()]
        return any(matches)


class ApiKeyGate:
    def __init__(self, app: ASGIApp, keys: ApiKeys, guarded: tuple[str, ...], record: Recorder) -> None:
        self.app, self.keys, self.guarded, self.record = app, keys, guarded, record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else None
        if path is not None and self.keys.enabled and GUARDED_AS.get(path, path).startswith(self.guarded):
            headers = Headers(scope=scope)
            scheme, _, token = headers.get("authorization", "").partition(" ")
            bearer = token.strip() if scheme.lower() == "bearer" else None
            presented = [key for key in (bearer, headers.get("x-api-key")) if key is not None]  # Anthropic's header
            if not any([self.keys.accepts(key) for key in presented]):  # a list: every key is compared
                error = APIError(
                    "Invalid or missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`.",
                    status=HTTPStatus.UNAUTHORIZED,
                    code="invalid_api_key",
                )
                self.record(error)
                await _refuse(error, scope, receive, send, {"WWW-Authenticate": "Bearer"})
                return
        await self.app(scope, receive, send)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, record: Recorder) -> None:
        self.app, self.max_bytes, self.record = app, max_bytes, record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = APIError(
            f"The request body is larger than this server's limit of {self.max_bytes} bytes.",
            status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            code="request_too_large",
        )
        declared = Headers(scope=scope).get("content-length", "")
        body = None if declared.isdigit() and int(declared) > self.max_bytes else await self._read(receive)
        if body is None:
            self.record(error)
            await _refuse(error, scope, receive, send, {"Connection": "close"})
            return

        async def replay() -> Message:  # the body read here, then the connection's own messages (disconnects)
            return body.pop(0) if body else await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> list[Message] | None:
        """The body's messages, or None as soon as they pass the limit (a chunked body may not say its size)."""
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return None
            if message["type"] != "http.request" or not message.get("more_body"):
                return messages


@dataclass
class AdmissionState:
    limit: int
    active: int = 0
    draining: bool = False


class Admission:
    def __init__(self, app: ASGIApp, state: AdmissionState, record: Recorder) -> None:
        self.app, self.state, self.record = app, state, record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in GENERATION_PATHS:
            await self.app(scope, receive, send)
            return
        if self.state.draining or self.state.active >= self.state.limit:
            error = (
                APIError("The server is shutting down; retry on another replica.", status=503, code="draining")
                if self.state.draining
                else APIError(
                    f"The server is at its limit of {self.state.limit} requests at once; retry shortly.",
                    status=HTTPStatus.TOO_MANY_REQUESTS,
                    code="server_overloaded",
                )
            )
            self.record(error)
            await _refuse(error, scope, receive, send, {"Retry-After": "1"})
            return
        self.state.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.active -= 1
