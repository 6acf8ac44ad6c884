"""``POST /invocations``: SageMaker's one inference route. As `vllm serve` does, the body's shape picks the
API: ``messages`` is a chat completion, ``prompt`` a completion; it then runs as that route runs it
(admission, keys, streaming, errors: the gate treats this path as a generation route)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from server.api.errors import validated
from server.api.openai import ERRORS, create_chat_completion, create_completion
from server.protocol.chat import ChatCompletionRequest
from server.protocol.completions import CompletionRequest
from server.protocol.errors import APIError
from server.serving.context import Context

router = APIRouter(tags=["sagemaker"])


def _one_of(*names: str) -> dict[str, Any]:
    return {"oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in names]}


DOCUMENTED = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _one_of("ChatCompletionRequest", "CompletionRequest")}},
    }
}
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {"schema": _one_of("ChatCompletion", "Completion")}, "text/event-stream": {}},
        "description": "As /v1/chat/completions or /v1/completions answers the same body",
    },
    **ERRORS,
}


@router.post("/invocations", responses=ANSWERS, openapi_extra=DOCUMENTED)
async def invocations(body: Annotated[dict[str, Any], Body()], context: Context, request: Request) -> Any:
    if "messages" in body:
        return await create_chat_completion(validated(ChatCompletionRequest, body), context, request)
    if "prompt" in body:
        return await create_completion(validated(CompletionRequest, body), context, request)
    raise APIError(
        "/invocations takes a chat completion request (with messages) or a completion request (with prompt).",
        param="messages",
    )
