"""Start ``python -m server`` as a user would, and wait until it answers."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"listening on (http://\S+)")  # logged once bound, before the engine starts


def free_port() -> int:
    """A port free now; another process may take it before the server binds it (only for other servers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text()[-chars:]


@contextmanager
def server_process(
    *args: str,
    startup_timeout: float = 240.0,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    name: str = "server",
) -> Iterator[ServerProcess]:
    """A server started with ``args``, once ``/health`` answers; stopped (SIGTERM, then SIGKILL) on exit.

    ``command``: the program, which takes ``--port`` (default ``python -m server``); its log goes to
    ``.server_logs/<name>-<random>.log``. This server binds ``--port 0`` before its engine starts and logs the
    port the OS chose: no window in which another process (its own engine's included) takes the port. Another
    ``command`` (``vllm serve``, which also binds before its engine starts) gets a port that was free just now.
    """
    port = 0 if command is None else free_port()
    logs = ROOT / ".server_logs"
    logs.mkdir(exist_ok=True)
    handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log", dir=logs)
    log = Path(path)
    with os.fdopen(handle, "w") as out:
        process = subprocess.Popen(
            [*(command or [sys.executable, "-m", "server"]), "--port", str(port), *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            # A process group of its own (so the engine's processes stop with it), in the caller's session:
            # with the kernel's autogroup scheduling on (as on the CI machine), a session of its own puts the
            # server in a scheduling group of its own, and on 2 cores whole streams were then held back ~200 ms
            # and delivered at once, vLLM's server and ours alike (bench.vs_vllm, concurrency 1).
            process_group=0,
        )
    server = ServerProcess(f"http://127.0.0.1:{port}" if port else "", process, log)
    try:
        _wait_until_healthy(server, startup_timeout)
        yield server
    finally:
        _stop(process)


def _wait_until_healthy(server: ServerProcess, startup_timeout: float) -> None:
    """Until ``/health`` answers 200; first, for ``--port 0``, until the log names the bound address."""
    deadline = time.monotonic() + startup_timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log_tail()}")
        if not server.url and (bound := LISTENING.search(server.log.read_text())):
            server.url = bound.group(1)
        if server.url and _healthy(server.url):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not start in {startup_timeout}s:\n{server.log_tail()}")
        time.sleep(0.5)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_server(*args: str, **options: Any) -> Iterator[str]:
    """Yield the base URL of :func:`server_process` (``args`` and ``options`` as it takes them)."""
    with server_process(*args, **options) as server:
        yield server.url


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    with suppress(ProcessLookupError):  # the engine's processes too, whatever became of the server
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
