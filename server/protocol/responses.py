"""``POST /v1/responses``: OpenAI's Responses API request, as this server reads it.

Every field of the ``openai`` SDK's ``ResponseCreateParams`` is declared here, so that the serving layer
(:mod:`server.serving.responses`) can honour or refuse each one by name. Input items and tools are typed
loosely (a ``type`` and the fields of the kinds this server takes): an item or tool of another kind is a
400 naming it there, with a message that says why, rather than a validation error listing every member of
OpenAI's unions. Our budget fields sit at the top level, as on chat completions; vLLM's sampling extensions
(``top_k``, ``seed``, ``stop``, …) travel as extra fields to the chat request, which checks them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from server.protocol.common import BudgetFields, RequestModel
from server.protocol.tools import FUNCTION_NAME


class ContentPart(RequestModel):
    """A part of an input item's content: ``input_text`` / ``output_text`` (text), ``refusal``, or a kind
    this text-only server refuses (``input_image``, ``input_file``, ``input_audio``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None
    refusal: str | None = None


class InputItem(RequestModel):
    """One item of ``input``: a message (``type`` may be left out), a ``function_call``, its
    ``function_call_output``, or a ``reasoning`` item; which fields each kind needs is checked when it is read."""

    model_config = ConfigDict(extra="allow")

    type: str = "message"
    id: str | None = None
    status: str | None = None
    # message
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: str | list[ContentPart] | None = None
    # function_call, function_call_output
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | list[ContentPart] | None = None
    # reasoning
    summary: list[ContentPart] | None = None
    encrypted_content: str | None = None


class ResponsesTool(RequestModel):
    """A tool: only ``function`` tools, flat (``name``, ``parameters`` beside ``type``, not nested as in chat)."""

    model_config = ConfigDict(extra="allow")

    type: str
    name: str | None = Field(None, pattern=FUNCTION_NAME)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    defer_loading: bool | None = None
    allowed_callers: list[str] | None = None
    output_schema: dict[str, Any] | None = None


class ToolChoiceObject(RequestModel):
    """``{"type": "function", "name": …}``; the other kinds (``allowed_tools``, hosted tools) are refused by name."""

    model_config = ConfigDict(extra="allow")

    type: str
    name: str | None = None


class TextFormat(RequestModel):
    """``text.format``: ``text``, ``json_object``, or ``json_schema`` with its fields beside ``type``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = Field(None, pattern=FUNCTION_NAME)
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None

    @model_validator(mode="after")
    def _schema_with_its_type(self) -> TextFormat:
        if self.type == "json_schema" and (self.name is None or self.json_schema is None):
            raise PydanticCustomError("json_schema", 'type "json_schema" needs its name and schema, as OpenAI\'s API')
        if self.type != "json_schema" and (self.name, self.json_schema) != (None, None):
            raise PydanticCustomError("json_schema", 'name and schema go with type "json_schema", and only there')
        return self


class TextConfig(RequestModel):
    model_config = ConfigDict(extra="forbid")

    format: TextFormat | None = None
    verbosity: str | None = Field(None, description="Refused: bound the answer with max_output_tokens.")


class ReasoningConfig(RequestModel):
    """``reasoning``: ``effort`` is a thinking budget (the server's effort table, as chat's ``reasoning_effort``)."""

    model_config = ConfigDict(extra="forbid")

    effort: str | None = None
    summary: Literal["auto", "concise", "detailed"] | None = Field(
        None, description="Accepted: no summary is written; the reasoning item carries the whole thinking."
    )
    generate_summary: Literal["auto", "concise", "detailed"] | None = Field(None, description="As summary.")
    context: str | None = Field(None, description='Only "auto": the chat template decides which thinking it keeps.')
    mode: str | None = Field(None, description='Only "standard".')


class ResponsesStreamOptions(RequestModel):
    model_config = ConfigDict(extra="forbid")

    include_obfuscation: bool | None = Field(None, description="Only false: no obfuscation padding is added.")


class ResponsesRequest(BudgetFields):
    """Unknown fields are passed to the chat request underneath: vLLM's extensions are honoured there, and
    anything else is ignored and logged once per name, as on chat completions."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    input: str | list[InputItem] | None = Field(None, description="A user message, or items of the conversation.")
    instructions: str | None = Field(None, description="A system message before the conversation.")
    max_output_tokens: int | None = Field(None, ge=1, description="Caps thinking and answer together.")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    tools: list[ResponsesTool] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceObject | None = None
    parallel_tool_calls: bool | None = None
    max_tool_calls: int | None = Field(None, ge=1, description="Accepted: it bounds hosted tools, of which none.")
    stream: bool = False
    stream_options: ResponsesStreamOptions | None = None
    store: bool | None = Field(None, description="Default true: kept in the bounded store (README).")
    previous_response_id: str | None = Field(None, description="A stored response: its conversation comes first.")
    include: list[str] | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20, description='With include "message.output_text.logprobs".')
    truncation: str | None = Field(None, description='Only "disabled": a prompt too long is a 400.')
    metadata: dict[str, str] | None = Field(None, description="Echoed, and stored with the response.")
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: Any = None
    service_tier: str | None = Field(None, description="auto or default; other tiers are refused.")
    background: bool | None = Field(None, description="Only false: responses are generated while you wait.")
    conversation: Any = Field(None, description="Refused: use previous_response_id.")
    context_management: Any = Field(None, description="Refused: the prompt is never compacted.")
    prompt: Any = Field(None, description="Refused: no stored prompt templates.")
    moderation: Any = Field(None, description="Refused: no moderation.")
