"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API.

A translation onto the one pipeline (:mod:`server.serving.messages`): plan as chat does, then answer
with one message or its stream of named events. Errors on these routes, the gates' refusals included,
are Anthropic-shaped (:meth:`server.protocol.errors.APIError.response` picks the shape by the path).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from server.api.streaming import cancel_on_disconnect, sse_response
from server.protocol.errors import APIError
from server.protocol.messages import MessagesInput, MessagesRequest
from server.protocol.messages_output import AnthropicError, Message, TokenCount
from server.serving import messages_reply
from server.serving.context import Context
from server.serving.messages import count_tokens, plan_messages

router = APIRouter(prefix="/v1", tags=["anthropic"])

ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": AnthropicError} for status in (400, 401, 404, 413)}
STREAM = {200: {"content": {"text/event-stream": {}}, "description": "JSON, or named server-sent events with stream"}}


def error_event(error: APIError) -> BaseModel:
    """A stream's last event when it fails: ``event: error`` with Anthropic's error body."""
    return AnthropicError.model_validate(error.anthropic_body())


@router.post(
    "/messages", response_model=Message, responses={**ERRORS, 429: {"model": AnthropicError},
                                                    503: {"model": AnthropicError}, **STREAM},
)  # fmt: skip
async def create_message(body: MessagesRequest, context: Context, request: Request) -> Any:
    context.require_healthy_engine()
    planned = await plan_messages(body, context)
    if planned.plan.stream:
        return sse_response(messages_reply.events(planned, context), error_event)
    return await cancel_on_disconnect(request, messages_reply.complete(planned, context))


@router.post("/messages/count_tokens", response_model=TokenCount, responses=ERRORS)
async def count_message_tokens(body: MessagesInput, context: Context) -> TokenCount:
    """The prompt's tokens, rendered as ``/v1/messages`` renders it; nothing is generated."""
    return TokenCount(input_tokens=await count_tokens(body, context))
