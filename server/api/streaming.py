"""Server-sent events and client disconnects.

Two dialects: OpenAI's chat and text completions send ``data:`` lines and ``data: [DONE]`` last;
named streams (Anthropic's Messages, OpenAI's Responses) send each event as ``event: <its type>`` and ``data:``, and end
with their own last event. A failure mid-stream is a last event in the stream's error shape.

A streaming client that goes away makes Starlette stop the response wherever it
is (awaiting the engine, or a write); :class:`SSEResponse` then closes the event
generator, and each generator in the chain closes the one it reads. A
non-streaming client is watched by :func:`cancel_on_disconnect`. Either way the
engine's generator is closed, and ``AsyncLLM`` aborts the request and frees its
slot and KV blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing, suppress
from typing import TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from server.api.errors import to_api_error
from server.protocol.errors import APIError

T = TypeVar("T")
DONE = "data: [DONE]\n\n"


class ClientDisconnected(Exception):
    """The client went away before its response was ready."""


ErrorEvent = Callable[[APIError], BaseModel]  # a named stream's last event when it fails


def sse_event(payload: BaseModel, named: bool = False) -> str:
    """``named``: the ``event:`` line is the payload's ``type``, as Anthropic's clients dispatch on it."""
    data = f"data: {payload.model_dump_json(exclude_unset=False)}\n\n"
    return f"event: {payload.type}\n{data}" if named else data  # type: ignore[attr-defined]


async def sse_events(chunks: AsyncIterator[BaseModel], error_event: ErrorEvent | None = None) -> AsyncIterator[str]:
    """Chunks as SSE; an error mid-stream becomes a final error event. OpenAI's dialect ends with ``[DONE]``;
    with ``error_event`` the events are named and the stream ends with its own last event."""
    try:
        async with aclosing(chunks):  # type: ignore[type-var]
            async for chunk in chunks:
                yield sse_event(chunk, named=error_event is not None)
    except Exception as exc:
        if error_event is not None:
            yield sse_event(error_event(to_api_error(exc)), named=True)
            return
        yield f"data: {to_api_error(exc).model_json()}\n\n"
    if error_event is None:
        yield DONE


class SSEResponse(StreamingResponse):
    """A streaming response that closes its body generator when it ends, however it ends.

    Starlette leaves the generator suspended when a disconnect cancels the response during a
    write; only the garbage collector would then close it, and with it abort the engine request.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with aclosing(self.body_iterator):  # type: ignore[type-var]
            await super().__call__(scope, receive, send)


def sse_response(chunks: AsyncIterator[BaseModel], error_event: ErrorEvent | None = None) -> StreamingResponse:
    return SSEResponse(
        sse_events(chunks, error_event),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _wait_for_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it (and so aborting its engine request) if the client leaves."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
    raise ClientDisconnected
