"""``--root-path``: the path prefix a proxy in front of the server strips, as ``vllm serve`` takes it.

uvicorn's own ``root_path`` also puts the prefix back on every request's ``scope["path"]`` (the ASGI spec's
reading), and Starlette's router strips it again; but this server's middleware reads ``scope["path"]`` as it is:
the API-key gate's ``--auth-paths``, admission of the generation routes, the metrics' and access log's paths, the
error shape chosen by route. Prefixed, ``/prefix/v1/...`` would not start with ``/v1``: an unguarded route. Here
the prefix is the scope's ``root_path`` only, so FastAPI's ``/docs`` and ``/openapi.json`` name it, and the path
the middleware and the router see is the one the proxy forwards. A path that still carries the prefix (a client
that bypasses the proxy) loses it here, before any middleware reads it: the router would strip it anyway, and the
gate must see the path the router routes.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RootPath:
    """The outermost ASGI layer: ``root_path`` set, the prefix off ``path`` and ``raw_path`` where present."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app, self.prefix = app, root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.prefix:
            path, raw = strip_prefix(scope["path"], self.prefix), scope.get("raw_path")
            scope = {**scope, "root_path": scope.get("root_path", "") + self.prefix, "path": path}
            if raw is not None:
                scope["raw_path"] = strip_prefix(raw.decode("latin-1"), self.prefix).encode("latin-1")
        await self.app(scope, receive, send)


def strip_prefix(path: str, prefix: str) -> str:
    """``path`` without every leading ``prefix`` segment (``/p/p/v1`` under ``/p``: ``/v1``), as Starlette's router
    would read it: after this no ``prefix`` is left for the router to strip behind the gate's back."""
    while path == prefix or path.startswith(prefix + "/"):
        path = path[len(prefix) :] or "/"
    return path


def with_root_path(app: ASGIApp, root_path: str) -> ASGIApp:
    """``app`` behind ``--root-path`` (unchanged without one)."""
    return RootPath(app, root_path) if root_path.rstrip("/") else app
