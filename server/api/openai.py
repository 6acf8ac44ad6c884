"""``POST /v1/chat/completions`` and ``POST /v1/completions``: plan, then stream or complete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from server.api.streaming import cancel_on_disconnect, sse_response
from server.protocol.chat import ChatCompletion, ChatCompletionRequest
from server.protocol.common import ErrorResponse
from server.protocol.completions import Completion, CompletionRequest
from server.serving import chat, completions
from server.serving.context import Context
from server.serving.plan import plan_chat, plan_completion

router = APIRouter(prefix="/v1", tags=["openai"])

ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (400, 404, 503)}
STREAM = {200: {"content": {"text/event-stream": {}}, "description": "JSON, or server-sent events with stream=true"}}


@router.post("/chat/completions", response_model=ChatCompletion, responses={**ERRORS, **STREAM})
async def create_chat_completion(body: ChatCompletionRequest, context: Context, request: Request) -> Any:
    context.require_healthy_engine()
    plan = await plan_chat(body, context)
    if plan.stream:
        return sse_response(chat.chunks(plan, context))
    return await cancel_on_disconnect(request, chat.complete(plan, context))


@router.post("/completions", response_model=Completion, responses={**ERRORS, **STREAM})
async def create_completion(body: CompletionRequest, context: Context, request: Request) -> Any:
    context.require_healthy_engine()
    plan = await plan_completion(body, context)
    if plan.stream:
        return sse_response(completions.chunks(plan, context, body.echo, body.echo_only))
    return await cancel_on_disconnect(request, completions.complete(plan, context, body.echo, body.echo_only))
