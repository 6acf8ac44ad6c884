"""Errors: what every layer raises, and their two shapes on the wire.

OpenAI's, ``{"error": {"message", "type", "param", "code"}}``, everywhere but Anthropic's routes
(``/v1/messages…``), which answer Anthropic's, ``{"type": "error", "error": {"type", "message"}}``:
the route decides, so that the gates in front of it answer its clients in the shape they parse.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

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

# Anthropic's error types (docs.anthropic.com "Errors"); 503 is Anthropic's 529 "overloaded_error".
_ANTHROPIC_TYPES = {
    HTTPStatus.BAD_REQUEST: "invalid_request_error",
    HTTPStatus.UNAUTHORIZED: "authentication_error",
    HTTPStatus.FORBIDDEN: "permission_error",
    HTTPStatus.NOT_FOUND: "not_found_error",
    HTTPStatus.METHOD_NOT_ALLOWED: "invalid_request_error",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "request_too_large",
    HTTPStatus.UNPROCESSABLE_ENTITY: "invalid_request_error",
    HTTPStatus.TOO_MANY_REQUESTS: "rate_limit_error",
    HTTPStatus.SERVICE_UNAVAILABLE: "overloaded_error",
}
ANTHROPIC_ROUTES = "/v1/messages"


def speaks_anthropic(path: str) -> bool:
    """Whether ``path`` is one of Anthropic's routes (``/v1/messages``, ``/v1/messages/count_tokens``)."""
    return path == ANTHROPIC_ROUTES or path.startswith(ANTHROPIC_ROUTES + "/")


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

    def anthropic_body(self) -> dict[str, Any]:
        """Anthropic's shape has no ``param``: the message names the field itself."""
        kind = _ANTHROPIC_TYPES.get(self.status, "api_error")
        named = self.param is None or self.param.split(",")[0] in self.message
        message = self.message if named else f"{self.param}: {self.message}"
        return {"type": "error", "error": {"type": kind, "message": message}}

    def model_json(self) -> str:
        return json.dumps(self.body())

    def response(self, headers: dict[str, str] | None = None, path: str = "") -> JSONResponse:
        """The error in the shape the route at ``path`` speaks."""
        body = self.anthropic_body() if speaks_anthropic(path) else self.body()
        return ErrorJSONResponse(body, status_code=self.status, headers=headers)


class ErrorJSONResponse(JSONResponse):
    """ASCII JSON: an error message that quotes the request stays encodable whatever the request held."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode()


def engine_unavailable() -> APIError:
    return APIError("The engine is not available; retry later.", status=HTTPStatus.SERVICE_UNAVAILABLE)
