"""``--shutdown-timeout`` on the real engine: an idle server's SIGTERM stops the engine at once and exits 0."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from bench.server_process import server_process

pytestmark = pytest.mark.engine


def test_an_idle_server_stops_its_engine_at_once_and_exits_0() -> None:
    """The engine is stopped as `vllm serve` stops it (SIGTERM, then SIGKILL at once): vLLM's default wait, 5 s,
    was spent whole on CPU, where the engine core waits that long for a worker that does not exit."""
    with server_process("--shutdown-timeout", "5") as server:
        assert httpx.get(f"{server.url}/health").status_code == 200
        os.kill(server.process.pid, signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
        log = server.log.read_text()
    assert "[shutdown] MPClient: start timeout=0s" in log  # not "timeout=default" (5 s)
    assert "Application shutdown complete" in log
