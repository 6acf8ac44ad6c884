"""vLLM's engine core in a process group of its own, so that a signal to the server's group leaves it alone.

The engine core's own handler ends it on SIGTERM/SIGINT. Sent to the whole process group (kill -TERM -PGID,
Ctrl+C in a terminal, tini -g), that signal ended the engine while the server still drained its requests.
So the engine core (and with it its workers) moves into a process group of its own; the server alone decides
when the engine stops, with vLLM's own stop (SIGTERM to the engine's pid, 5 s, then SIGKILL), unchanged.
Blocking the signals instead does not hold: vLLM's stop is that same SIGTERM (blocked, every stop would end in
the SIGKILL), and a spawned engine core (vLLM 0.32 on CPU) starts with an empty mask and threads that take
signals before any code of ours runs there. A signal to the whole cgroup (systemd's default
KillMode=control-group) still reaches the engine: run under systemd with KillMode=mixed.
"""

from __future__ import annotations

import ctypes
import os
import signal
from typing import Any

PR_SET_PDEATHSIG = 1
_vllm_run_engine_core: Any = None


def engine_in_own_process_group() -> None:
    """Start vLLM's engine core processes through :func:`run_engine_core`."""
    global _vllm_run_engine_core
    from vllm.v1.engine.core import EngineCoreProc

    _vllm_run_engine_core = EngineCoreProc.run_engine_core
    EngineCoreProc.run_engine_core = staticmethod(run_engine_core)  # type: ignore[method-assign]


def run_engine_core(*args: Any, **kwargs: Any) -> None:
    """vLLM's engine core process, in a process group of its own (module-level: spawn pickles it by name, and a
    spawned child has vLLM's original unpatched)."""
    from vllm.v1.engine.core import EngineCoreProc

    server = os.getppid()
    os.setpgid(0, 0)
    # Out of the server's group, a server killed outright (OOM, SIGKILL to its group) would no longer take the
    # engine with it, and nothing in vLLM notices its front end is gone: the kernel ends it with the server.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:  # the server died before the line above
        os._exit(1)
    (_vllm_run_engine_core or EngineCoreProc.run_engine_core)(*args, **kwargs)
