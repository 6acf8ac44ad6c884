"""``bench.server_process``: how servers for tests and benchmarks are started and stopped."""

from __future__ import annotations

import os
import sys

from bench.server_process import server_process

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
