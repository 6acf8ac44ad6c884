"""``/v1/chat/completions`` and ``/v1/completions``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from server import chat, completions
from server.context import Context
from server.engine import final_output
from server.protocol.chat import ChatCompletion, ChatCompletionRequest
from server.protocol.common import ErrorResponse
from server.protocol.completions import Completion, CompletionRequest
from server.streaming import cancel_on_disconnect, sse_response

router = APIRouter(prefix="/v1", tags=["openai"])

ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (400, 404, 503)}
STREAM = {200: {"content": {"text/event-stream": {}}, "description": "JSON, or server-sent events with stream=true"}}


@router.post("/chat/completions", response_model=ChatCompletion, responses={**ERRORS, **STREAM})
async def create_chat_completion(body: ChatCompletionRequest, context: Context, request: Request) -> Any:
    context.require_healthy_engine()
    call, params = await chat.prepare(body, context)
    outputs = call.generate(params)
    if body.stream:
        return sse_response(chat.stream_chunks(call, outputs))
    return chat.build_completion(call, await cancel_on_disconnect(request, final_output(outputs)))


@router.post("/completions", response_model=Completion, responses={**ERRORS, **STREAM})
async def create_completion(body: CompletionRequest, context: Context, request: Request) -> Any:
    context.require_healthy_engine()
    call, params = await completions.prepare(body, context)
    streams = [call.generate(prompt, p) for prompt, p in enumerate(params)]
    if body.stream:
        return sse_response(completions.stream_chunks(call, streams))
    finals = await cancel_on_disconnect(request, completions.gather_finals(streams))
    return completions.build_completion(call, finals)
