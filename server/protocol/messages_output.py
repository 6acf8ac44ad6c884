"""Anthropic's Messages API on the wire, the way back: the message, its stream events and token counts.

Each stream event's ``type`` is also its SSE ``event:`` name (:func:`server.api.streaming.sse_event`).
Errors take Anthropic's shape, :class:`AnthropicError` (built by
:meth:`server.protocol.errors.APIError.anthropic_body`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from server.protocol.common import BudgetReport

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use"]


class TextBlock(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ThinkingBlock(BaseModel):
    type: Literal["thinking"] = "thinking"
    thinking: str
    signature: str = Field(description="Opaque, not verifiable: this server signs nothing; sent back, it is ignored.")


class ToolUseBlock(BaseModel):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any]


Block = Annotated[TextBlock | ThinkingBlock | ToolUseBlock, Field(discriminator="type")]


class OutputTokensDetails(BaseModel):
    thinking_tokens: int = Field(description="The thinking's tokens (forced Waits included, delimiters not).")


class MessageUsage(BaseModel):
    """Anthropic's counts: ``input_tokens`` are the prompt's tokens not read from the prefix cache,
    ``cache_read_input_tokens`` those read from it (vLLM's ``num_cached_tokens``); together the whole prompt."""

    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int = 0
    output_tokens_details: OutputTokensDetails | None = None


class Message(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[Block]
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: MessageUsage
    thinking_budget: BudgetReport | None = Field(None, description="Extension: what the thinking budget did.")


class MessageStart(BaseModel):
    type: Literal["message_start"] = "message_start"
    message: Message


class ContentBlockStart(BaseModel):
    type: Literal["content_block_start"] = "content_block_start"
    index: int
    content_block: Block


class TextDelta(BaseModel):
    type: Literal["text_delta"] = "text_delta"
    text: str


class ThinkingDelta(BaseModel):
    type: Literal["thinking_delta"] = "thinking_delta"
    thinking: str


class SignatureDelta(BaseModel):
    type: Literal["signature_delta"] = "signature_delta"
    signature: str


class InputJSONDelta(BaseModel):
    type: Literal["input_json_delta"] = "input_json_delta"
    partial_json: str


class ContentBlockDelta(BaseModel):
    type: Literal["content_block_delta"] = "content_block_delta"
    index: int
    delta: Annotated[TextDelta | ThinkingDelta | SignatureDelta | InputJSONDelta, Field(discriminator="type")]


class ContentBlockStop(BaseModel):
    type: Literal["content_block_stop"] = "content_block_stop"
    index: int


class StopDelta(BaseModel):
    stop_reason: StopReason | None
    stop_sequence: str | None = None


class DeltaUsage(BaseModel):
    """Cumulative, as Anthropic sends it: the final input counts too (``message_start`` goes out before the
    prefix cache's hits are known)."""

    input_tokens: int | None = None
    output_tokens: int
    cache_read_input_tokens: int | None = None
    output_tokens_details: OutputTokensDetails | None = None


class MessageDelta(BaseModel):
    type: Literal["message_delta"] = "message_delta"
    delta: StopDelta
    usage: DeltaUsage
    thinking_budget: BudgetReport | None = Field(None, description="Extension: what the thinking budget did.")


class MessageStop(BaseModel):
    type: Literal["message_stop"] = "message_stop"


MessageEvent = MessageStart | ContentBlockStart | ContentBlockDelta | ContentBlockStop | MessageDelta | MessageStop


class TokenCount(BaseModel):
    input_tokens: int = Field(description="The rendered prompt's tokens, as /v1/messages would send it.")


class AnthropicErrorDetail(BaseModel):
    type: str = Field(description="invalid_request_error, authentication_error, not_found_error, …")
    message: str


class AnthropicError(BaseModel):
    """Anthropic's error shape: every error of the ``/v1/messages`` routes, and a failed stream's last event."""

    type: Literal["error"] = "error"
    error: AnthropicErrorDetail
