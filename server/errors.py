"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}``, never a bare 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

_TYPES = {
    HTTPStatus.BAD_REQUEST: "invalid_request_error",
    HTTPStatus.UNAUTHORIZED: "authentication_error",
    HTTPStatus.NOT_FOUND: "invalid_request_error",
    HTTPStatus.METHOD_NOT_ALLOWED: "invalid_request_error",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "invalid_request_error",
    HTTPStatus.UNPROCESSABLE_ENTITY: "invalid_request_error",
    HTTPStatus.TOO_MANY_REQUESTS: "rate_limit_error",
    HTTPStatus.SERVICE_UNAVAILABLE: "service_unavailable_error",
}


class APIError(Exception):
    """A failure to report to the client; ``param`` names the offending request field."""

    def __init__(
        self,
        message: str,
        *,
        status: HTTPStatus = HTTPStatus.BAD_REQUEST,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.param, self.code = message, status, param, code

    def body(self) -> dict[str, Any]:
        kind = _TYPES.get(self.status, "server_error")
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}

    def model_json(self) -> str:
        return json.dumps(self.body())

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return ErrorJSONResponse(self.body(), status_code=self.status, headers=headers)


class ErrorJSONResponse(JSONResponse):
    """ASCII JSON: an error message that quotes the request stays encodable whatever the request held."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def engine_unavailable() -> APIError:
    return APIError("The engine is not available; retry later.", status=HTTPStatus.SERVICE_UNAVAILABLE)


def to_api_error(exc: Exception) -> APIError:
    """Any failure as what the client is told: engine death is a 503, the rest a bare 500."""
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.exceptions import EngineDeadError

    if isinstance(exc, APIError):
        return exc
    if isinstance(exc, EngineDeadError):
        return engine_unavailable()
    if isinstance(exc, VLLMValidationError):
        return APIError(str(exc), param=exc.parameter)
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


ErrorRecorder = Callable[[APIError], None]


def install_error_handlers(app: FastAPI, record: ErrorRecorder = lambda error: None) -> None:
    """Every failure becomes an OpenAI-shaped response; ``record`` sees each one (metrics)."""

    def respond(error: APIError, headers: dict[str, str] | None = None) -> JSONResponse:
        record(error)
        return error.response(headers)

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        return respond(to_api_error(exc))

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return respond(from_validation_error(exc))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return respond(APIError(str(exc.detail), status=HTTPStatus(exc.status_code)), exc.headers)

    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return respond(APIError("Internal server error.", status=HTTPStatus.INTERNAL_SERVER_ERROR))

    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.exceptions import EngineDeadError

    for kind in (APIError, EngineDeadError, VLLMValidationError):
        app.add_exception_handler(kind, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
