"""Disconnect handling for non-streaming requests, and the SSE framing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel

from server.api.streaming import ClientDisconnected, cancel_on_disconnect, sse_events
from server.protocol.errors import APIError


class FakeRequest:
    def __init__(self, disconnect_after: float | None) -> None:
        self.disconnect_after = disconnect_after

    async def receive(self) -> dict[str, Any]:
        if self.disconnect_after is None:
            await asyncio.sleep(3600)
        await asyncio.sleep(self.disconnect_after or 0)
        return {"type": "http.disconnect"}


async def slow_work(log: list[str], seconds: float) -> str:
    try:
        await asyncio.sleep(seconds)
        return "done"
    except asyncio.CancelledError:
        log.append("cancelled")
        raise


def test_work_that_finishes_returns_its_result() -> None:
    log: list[str] = []
    result = asyncio.run(cancel_on_disconnect(FakeRequest(None), slow_work(log, 0.01)))  # type: ignore[arg-type]
    assert result == "done" and log == []


def test_a_disconnect_cancels_the_work() -> None:
    log: list[str] = []
    with pytest.raises(ClientDisconnected):
        asyncio.run(cancel_on_disconnect(FakeRequest(0.01), slow_work(log, 10)))  # type: ignore[arg-type]
    assert log == ["cancelled"]


class Item(BaseModel):
    value: int


async def items(fail: Exception | None) -> Any:
    yield Item(value=1)
    if fail:
        raise fail


async def collect(fail: Exception | None) -> list[str]:
    return [event async for event in sse_events(items(fail))]


def test_sse_frames_and_done() -> None:
    assert asyncio.run(collect(None)) == ['data: {"value":1}\n\n', "data: [DONE]\n\n"]


def test_an_error_mid_stream_becomes_an_error_event_before_done() -> None:
    events = asyncio.run(collect(APIError("engine is gone", status=503)))
    error = json.loads(events[1].removeprefix("data: "))["error"]
    assert error["message"] == "engine is gone" and events[-1] == "data: [DONE]\n\n"
    crash = json.loads(asyncio.run(collect(RuntimeError("boom")))[1].removeprefix("data: "))["error"]
    assert crash["type"] == "server_error" and "boom" not in crash["message"]
