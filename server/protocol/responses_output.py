"""``/v1/responses`` out: the Response object, its output items and usage, and the stream's events.

Shaped as the ``openai`` SDK's ``openai.types.responses`` models read them (tests validate against them):
the thinking is a ``reasoning`` item (``content``: ``reasoning_text``; no summary is written), the answer
a ``message`` item with ``output_text``, each call a ``function_call`` item. One extension, as on chat
completions: ``thinking_budget``, what the budget did.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from server.protocol.chat import TokenLogprob
from server.protocol.common import BudgetReport, absent, now

ItemStatus = Literal["in_progress", "completed", "incomplete"]


class ReasoningText(BaseModel):
    type: Literal["reasoning_text"] = "reasoning_text"
    text: str


class ReasoningItem(BaseModel):
    id: str
    type: Literal["reasoning"] = "reasoning"
    summary: list[dict[str, Any]] = Field(default_factory=list, description="Always empty: no summarizer here.")
    content: list[ReasoningText] = Field(default_factory=list)
    status: ItemStatus


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    logprobs: list[TokenLogprob] | None = Field(None, exclude_if=absent)


class MessageItem(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    status: ItemStatus
    content: list[OutputText] = Field(default_factory=list)


class FunctionCallItem(BaseModel):
    id: str
    type: Literal["function_call"] = "function_call"
    call_id: str
    name: str
    arguments: str = Field(description="JSON text, as the model wrote it.")
    status: ItemStatus


OutputItem = Annotated[ReasoningItem | MessageItem | FunctionCallItem, Field(discriminator="type")]


class InputTokensDetails(BaseModel):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails = InputTokensDetails()
    output_tokens: int
    output_tokens_details: OutputTokensDetails = OutputTokensDetails()
    total_tokens: int


class IncompleteDetails(BaseModel):
    reason: Literal["max_output_tokens"] = "max_output_tokens"


class ResponseObject(BaseModel):
    """A response, and the request fields OpenAI echoes in it."""

    id: str
    object: Literal["response"] = "response"
    created_at: int = Field(default_factory=now)
    completed_at: int | None = None
    status: Literal["completed", "incomplete", "in_progress"]
    incomplete_details: IncompleteDetails | None = None
    error: None = None
    model: str
    output: list[OutputItem] = Field(default_factory=list)
    usage: ResponseUsage | None = None
    thinking_budget: BudgetReport | None = Field(
        None, exclude_if=absent, description="Extension: what the budget did (present when the request had one)."
    )
    # The request, echoed.
    instructions: str | None = None
    metadata: dict[str, str] | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    reasoning: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_logprobs: int | None = None
    text: dict[str, Any] = Field(default_factory=lambda: {"format": {"type": "text"}})
    tool_choice: str | dict[str, Any] = "auto"
    tools: list[dict[str, Any]] = Field(default_factory=list)
    truncation: str | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    service_tier: str | None = None
    background: bool | None = None


class ResponseEvent(BaseModel):
    """A stream event; ``sequence_number`` counts the events of one stream from 0."""

    type: str
    sequence_number: int = 0


class ResponseStateEvent(ResponseEvent):
    """``response.created``, ``.in_progress``, ``.completed``, ``.incomplete``."""

    response: ResponseObject


class ItemEvent(ResponseEvent):
    """``response.output_item.added`` / ``.done``."""

    output_index: int
    item: OutputItem


class PartEvent(ResponseEvent):
    """``response.content_part.added`` / ``.done``."""

    item_id: str
    output_index: int
    content_index: int = 0
    part: Annotated[OutputText | ReasoningText, Field(discriminator="type")]


class TextEvent(ResponseEvent):
    """``response.output_text.delta`` / ``.done`` and ``response.reasoning_text.delta`` / ``.done``."""

    item_id: str
    output_index: int
    content_index: int = 0
    delta: str | None = Field(None, exclude_if=absent)
    text: str | None = Field(None, exclude_if=absent)
    logprobs: list[TokenLogprob] | None = Field(None, exclude_if=absent, description="Output text only.")


class ArgumentsEvent(ResponseEvent):
    """``response.function_call_arguments.delta`` / ``.done`` (a call goes out whole, in one delta)."""

    item_id: str
    output_index: int
    delta: str | None = Field(None, exclude_if=absent)
    name: str | None = Field(None, exclude_if=absent)
    arguments: str | None = Field(None, exclude_if=absent)


class ErrorEvent(ResponseEvent):
    """A failure after the stream began (OpenAI's ``error`` event)."""

    type: str = "error"
    code: str | None = None
    message: str
    param: str | None = None
