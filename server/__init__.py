"""thinkserve: an OpenAI-compatible vLLM server with s1-style thinking-budget control.

Public API: :func:`create_app`, :class:`Settings`, :func:`run_vllm_engine`, :func:`main`.
Imported lazily, so the pure modules (``server.thinking.reasoning``, ...) load without vLLM.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Settings", "__version__", "create_app", "main", "run_vllm_engine"]

_EXPORTS = {
    "Settings": "server.ops.settings",
    "create_app": "server.api.app",
    "main": "server.cli",
    "run_vllm_engine": "server.engine.vllm_engine",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'server' has no attribute {name!r}")
