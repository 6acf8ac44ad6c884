"""``create_app``: the FastAPI application around one engine, built per call, no globals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response

from server import __version__
from server.context import ServerContext
from server.engine import Engine
from server.errors import install_error_handlers
from server.metrics import ServerMetrics
from server.routes import meta, openai
from server.settings import Settings
from server.streaming import ClientDisconnected

logger = logging.getLogger(__name__)

EngineLifetime = Callable[[], AbstractAsyncContextManager[Engine]]


def create_app(settings: Settings, engine: EngineLifetime) -> FastAPI:
    """The app starts ``engine()`` when it starts serving and stops it on shutdown."""
    metrics = ServerMetrics.create()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine() as running:
            app.state.context = ServerContext(settings, running, metrics)
            names = ", ".join(running.model_names)
            logger.info("serving %s on http://%s:%d", names, settings.host, settings.port)
            yield

    app = FastAPI(
        title="thinkserve",
        summary="OpenAI-compatible inference with s1-style thinking-budget control",
        version=__version__,
        lifespan=lifespan,
    )
    install_error_handlers(app, metrics.record_rejection)

    async def client_disconnected(_: Request, __: Exception) -> Response:
        metrics.disconnected.inc()
        return Response(status_code=499)  # nginx's "client closed request"; nobody reads it

    app.add_exception_handler(ClientDisconnected, client_disconnected)
    metrics.instrument(app)
    app.include_router(openai.router)
    app.include_router(meta.router)
    return app
