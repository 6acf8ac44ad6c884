"""OpenAI-shaped errors: ``{"error": {"message", "type", "param", "code"}}``; what every layer raises."""

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
