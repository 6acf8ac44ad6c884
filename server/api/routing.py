"""Paths: one trailing slash is ignored, and a request that matches no route is told which ones exist."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send


class StripTrailingSlash:
    """``/v1/chat/completions/`` is served as ``/v1/chat/completions``, not redirected (a 307 with an empty body
    that some clients do not follow). Outermost, so that every other middleware sees the path the route has:
    admission counts it, metrics label it with the route's template, the key gate guards it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path[:-1]}
            raw = scope.get("raw_path")
            if isinstance(raw, bytes) and raw.endswith(b"/"):
                scope["raw_path"] = raw[:-1]
        await self.app(scope, receive, send)


def endpoints(app: FastAPI) -> list[str]:
    """``METHOD /path`` for each API route, the ``/v1`` ones first (the OpenAPI pages are not listed)."""
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    routes.sort(key=lambda route: not route.path.startswith("/v1"))  # stable: registration order within each
    return [f"{method} {route.path}" for route in routes for method in sorted(route.methods)]


def not_found_message(app: FastAPI, method: str, path: str) -> str:
    return f"No route {method} {_shorten(path)}. This server serves: {', '.join(endpoints(app))}."


def allowed_methods(app: FastAPI, scope: Scope) -> str:
    """Every method the routes on the request's path take (``/ping``: one route for GET, one for POST)."""
    routes = [route for route in app.routes if isinstance(route, APIRoute) and route.matches(scope)[0] != Match.NONE]
    return ", ".join(sorted({method for route in routes for method in route.methods}))


def method_not_allowed_message(method: str, path: str, allow: str) -> str:
    return f"Method {method} is not allowed on {_shorten(path)}; it allows: {allow}."


def _shorten(path: str, limit: int = 200) -> str:
    return path if len(path) <= limit else f"{path[:limit]}..."
