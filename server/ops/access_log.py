"""One structured (JSON) log line per request, with a request id that is also the ``X-Request-Id`` header.

The id is the client's ``X-Request-Id`` when it sends a sane one, else a new one.
Handlers add what only they know (model, tokens, time to first token) with
:func:`note`; prompts, outputs and API keys are never logged. Probes and scrapes
(``/health``, ``/metrics``) are not logged.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.ops.http_metrics import PROBE_PATHS

logger = logging.getLogger("server.access")
_ENTRY: ContextVar[dict[str, Any] | None] = ContextVar("access_log_entry", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def note(**fields: Any) -> None:
    """Add fields to the current request's log line (no-op outside a request)."""
    entry = _ENTRY.get()
    if entry is not None:
        entry.update(fields)


def note_usage(model: str, usage: Any) -> None:
    """The request's model and token counts (an OpenAI ``usage`` object)."""
    details = usage.completion_tokens_details
    note(
        model=model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        reasoning_tokens=details.reasoning_tokens if details else None,
    )


def request_id_of(scope: Scope) -> str:
    given = Headers(scope=scope).get("x-request-id", "")
    return given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        entry: dict[str, Any] = {"request_id": request_id, "method": scope["method"], "path": scope["path"]}
        token = _ENTRY.set(entry)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _ENTRY.reset(token)
            if scope["path"] not in PROBE_PATHS:
                entry.update(status=status, duration_ms=round(1000 * (time.perf_counter() - started), 1))
                logger.info(json.dumps(entry))
