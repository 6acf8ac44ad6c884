"""``bench.server_process``: how servers for tests and benchmarks are started and stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import httpx
import pytest

from bench.server_process import ROOT, server_process

# A stand-in server: answers every GET with 200 on the port given as ``--port P`` (the last argument).
TINY_SERVER = """
import sys, http.server as h
class Ok(h.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
h.HTTPServer(("127.0.0.1", int(sys.argv[-1])), Ok).serve_forever()
"""


def test_server_runs_in_its_own_process_group_in_the_callers_session() -> None:
    """Its own group, so stopping it reaches every process it started; the caller's session, so the kernel's
    autogroup scheduling does not put it in a scheduling group of its own (see ``server_process``)."""
    with server_process(command=[sys.executable, "-c", TINY_SERVER], name="stand-in") as server:
        pid = server.process.pid
        assert os.getpgid(pid) == pid
        assert os.getsid(pid) == os.getsid(0)
    assert server.process.returncode is not None


@pytest.mark.engine
def test_port_0_serves_on_the_port_it_reports() -> None:
    with server_process() as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert port > 0 and httpx.get(f"{server.url}/health").status_code == 200
        log = server.log.read_text()
        bound, serving = log.index(f"listening on {server.url} (starting the engine)"), log.index("EngineCore")
        assert bound < serving  # bound before the engine started
        assert f"serving tiny-reasoner on {server.url}" in log


def test_a_port_in_use_fails_before_the_engine_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "server", "--port", str(port)],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1 port {port}" in output and "Address already in use" in output
    assert "EngineCore" not in output and "listening on" not in output
