"""Exception handlers: every failure an error in the route's shape (OpenAI's, or Anthropic's on its routes), never a
bare 500."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.api.routing import allowed_methods, method_not_allowed_message, not_found_message
from server.protocol.errors import APIError

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def to_api_error(exc: Exception) -> APIError:
    """Any failure as what the client is told: an :class:`APIError` as raised, anything else a bare 500."""
    if isinstance(exc, APIError):
        return exc
    logger.error("request failed", exc_info=exc)
    return APIError("Internal server error.", status=HTTPStatus.INTERNAL_SERVER_ERROR)


def from_validation_error(exc: RequestValidationError) -> APIError:
    """The first pydantic error, with its location as ``param`` (``messages.0.role``)."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    # Union members add their type name to the location (`stop.str`): drop it.
    loc = [part for part in loc if part not in ("str", "int", "list[str]", "list[int]", "list[list[int]]")]
    param = ".".join(loc) or None
    message = f"{param}: {first['msg']}" if param else str(first["msg"])
    if first.get("type") == "json_invalid":
        message, param = f"The request body is not valid JSON: {first['msg']}", None
    return APIError(message, param=param, code=str(first.get("type")))


def validated(model: type[M], body: dict[str, Any]) -> M:
    """A body a route dispatches itself (by its shape), checked as FastAPI checks a declared one: a 400
    naming the first field that fails."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


def _routing_message(app: FastAPI, request: Request, exc: StarletteHTTPException, allow: str | None) -> str:
    """The router's bare "Not Found" / "Method Not Allowed", spelled out: what was asked, what exists."""
    method, path, default = request.method, request.url.path, HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and exc.detail == default:
        return not_found_message(app, method, path)
    if exc.status_code == 405 and exc.detail == default and allow is not None:
        return method_not_allowed_message(method, path, allow)
    return str(exc.detail)


ErrorRecorder = Callable[[APIError], None]


def install_error_handlers(app: FastAPI, record: ErrorRecorder = lambda error: None) -> None:
    """Every failure becomes an error response in the route's shape; ``record`` sees each one (metrics)."""

    def respond(request: Request, error: APIError, headers: dict[str, str] | None = None) -> JSONResponse:
        record(error)
        return error.response(headers, request.scope["path"])

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        return respond(request, to_api_error(exc))

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return respond(request, from_validation_error(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers, allow = exc.headers, None
        if exc.status_code == 405 and headers and "Allow" in headers:  # the router names the first route's only
            allow = allowed_methods(app, request.scope)
            headers = {**headers, "Allow": allow}
        error = APIError(_routing_message(app, request, exc, allow), status=HTTPStatus(exc.status_code))
        return respond(request, error, headers)

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return respond(request, APIError("Internal server error.", status=HTTPStatus.INTERNAL_SERVER_ERROR))

    app.add_exception_handler(APIError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
