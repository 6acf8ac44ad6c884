"""OpenAI's Responses API: ``POST /v1/responses`` (plan on the chat pipeline, then stream or complete) and
``GET /v1/responses/{response_id}`` (the bounded store).

No ``DELETE``: a second route on the same path would make the router's 405 list only one route's methods
in ``Allow``; the store's bounds evict what is not used."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from server.api.streaming import cancel_on_disconnect, sse_response
from server.protocol.common import ErrorResponse
from server.protocol.responses import ResponsesRequest
from server.protocol.responses_output import ResponseObject
from server.serving.context import Context
from server.serving.responses import plan_response
from server.serving.responses_render import complete
from server.serving.responses_stream import EventWriter

router = APIRouter(prefix="/v1", tags=["responses"])

ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ErrorResponse} for status in (400, 404, 503)}
STREAM = {200: {"content": {"text/event-stream": {}}, "description": "JSON, or server-sent events with stream=true"}}


@router.post("/responses", response_model=ResponseObject, responses={**ERRORS, **STREAM})
async def create_response(body: ResponsesRequest, context: Context, request: Request) -> Any:
    context.require_healthy_engine()
    turn = await plan_response(body, context)
    if turn.plan.stream:
        writer = EventWriter(turn, context)
        return sse_response(writer.events(), error_event=writer.error)
    return await cancel_on_disconnect(request, complete(turn, context))


@router.get("/responses/{response_id}", response_model=ResponseObject, responses={404: {"model": ErrorResponse}})
async def get_response(response_id: str, context: Context) -> Any:
    return context.response_store.get(response_id).response
