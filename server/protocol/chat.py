"""``POST /v1/chat/completions``: request, response and stream-chunk models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from server.protocol.common import ChoiceBase, RequestModel, ResponseBase, SamplingFields, Usage, absent
from server.protocol.logprobs import PromptLogprobs
from server.protocol.tools import (
    DeltaFunctionCall,
    DeltaToolCall,
    FunctionCallChoice,
    FunctionCallIn,
    FunctionCallOut,
    FunctionDefinition,
    ResponseFormat,
    StructuredOutputs,
    Tool,
    ToolCallIn,
    ToolCallOut,
    ToolChoice,
)


class ContentPart(RequestModel):
    """A part of a message's content; this server takes ``text`` parts (others are refused by name)."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(RequestModel):
    role: str = Field(
        ...,
        min_length=1,
        description="system, developer, user, assistant, tool (function: a legacy tool message), or any role the "
        "chat template takes (as vLLM: the template decides).",
    )
    content: str | list[ContentPart] | None = None
    name: str | None = Field(None, description="Passed to the chat template.")
    tool_calls: list[ToolCallIn] | None = Field(None, description="An assistant's calls, rendered by the template.")
    tool_call_id: str | None = Field(None, description="A tool message: the call it answers.")
    function_call: FunctionCallIn | None = Field(None, description="Legacy: an assistant's one function call.")
    reasoning_content: str | None = Field(None, description="An assistant's thinking, for templates that keep it.")
    reasoning: str | None = Field(None, description="The same, as some clients name it.")

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content)
        return self.content or ""


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_tokens: int | None = Field(None, ge=1, description="Deprecated by OpenAI; use max_completion_tokens.")
    max_completion_tokens: int | None = Field(None, ge=1, description="Caps thinking and answer together.")
    logprobs: bool = False
    chat_template_kwargs: dict[str, Any] | None = Field(
        None,
        description="vLLM's field: keyword arguments for the chat template (enable_thinking, thinking, …); "
        "reasoning_effort is passed too unless set here.",
    )
    top_logprobs: int | None = Field(None, ge=0, le=20)
    # vLLM's chat extensions (README "Chat extensions").
    add_generation_prompt: bool = Field(
        True, description="vLLM's field: end the prompt with a new assistant turn opened (the template's switch)."
    )
    continue_final_message: bool = Field(
        False,
        description="vLLM's field: leave the final message open (no end of turn) for the model to continue; "
        "needs add_generation_prompt: false.",
    )
    add_special_tokens: bool = Field(
        False, description="vLLM's field: the tokenizer's special tokens (BOS) on top of what the template writes."
    )
    echo: bool = Field(
        False,
        description="vLLM's field: the reply's content starts with the final message's when that message has the "
        "reply's role (assistant; without a generation prompt, the final message's own).",
    )
    chat_template: str | None = Field(
        None, description="vLLM's field: a Jinja chat template for this request; needs --trust-request-chat-template."
    )
    include_reasoning: bool = Field(
        True, description="vLLM's field: false leaves the thinking out of the reply; usage still counts it."
    )
    # Tools and structured outputs (README "Tools and structured outputs").
    tools: list[Tool] | None = Field(None, description="Functions the model may call.")
    tool_choice: ToolChoice | None = Field(None, description="none, auto (default with tools), required, or named.")
    parallel_tool_calls: bool | None = Field(None, description="false: at most one call per answer.")
    functions: list[FunctionDefinition] | None = Field(None, description="Legacy tools (answered as function_call).")
    function_call: FunctionCallChoice | None = Field(None, description="Legacy tool_choice.")
    response_format: ResponseFormat | None = Field(None, description="json_object / json_schema after the thinking.")
    structured_outputs: StructuredOutputs | None = Field(None, description="vLLM's grammars after the thinking.")
    # OpenAI's fields for what this server does not do: each is refused with a 400 naming it
    # unless it asks for nothing (README "API").
    modalities: list[str] | None = Field(None, description='Only ["text"].')
    audio: Any = None
    prediction: Any = None
    web_search_options: Any = None
    verbosity: str | None = None
    moderation: Any = None
    safety_identifier: str | None = Field(None, description="Accepted; this server does no abuse monitoring.")
    prompt_cache_key: str | None = Field(None, description="Accepted: vLLM's prefix cache matches prompts itself.")
    prompt_cache_retention: str | None = Field(None, description="Accepted: the prefix cache keeps what fits.")
    prompt_cache_options: Any = Field(None, description="Accepted: the prefix cache keeps what fits.")

    def token_limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def engine_prompt_logprobs(self) -> int | None:
        """vLLM's: ``echo`` scores the prompt too, with ``top_logprobs`` candidates (the response's prompt_logprobs)."""
        if self.prompt_logprobs is None and self.echo:
            return self.top_logprobs
        return self.prompt_logprobs


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = []


class ChoiceLogprobs(BaseModel):
    content: list[TokenLogprob] | None = Field(None, description="The answer's tokens (OpenAI's meaning).")
    reasoning: list[TokenLogprob] | None = Field(None, description="Extension: the thinking's tokens.")


class _Said(BaseModel):
    """What the assistant says: the answer and the thinking, in the field(s) ``--reasoning-field`` names.

    A reasoning field left unset is left out of the JSON: a client that reads both would show the thinking twice.
    """

    role: str | None = None  # first in the JSON, as OpenAI sends it; vLLM's: the final message's, when continued
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None

    @model_serializer(mode="wrap")
    def _omit_unused_reasoning_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in ("reasoning", "reasoning_content"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class AssistantMessage(_Said):
    role: str = "assistant"  # type: ignore[assignment]  # always there in a message
    tool_calls: list[ToolCallOut] | None = Field(None, exclude_if=absent)
    function_call: FunctionCallOut | None = Field(None, exclude_if=absent, description="Legacy functions only.")


class ChatChoice(ChoiceBase):
    message: AssistantMessage
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(ResponseBase):
    object: Literal["chat.completion"] = "chat.completion"
    choices: list[ChatChoice]
    usage: Usage
    prompt_token_ids: list[int] | None = Field(
        None, exclude_if=absent, description="vLLM extension (return_token_ids): the prompt's tokens."
    )
    prompt_logprobs: PromptLogprobs | None = Field(
        None, exclude_if=absent, description="vLLM extension (prompt_logprobs): the prompt's tokens' logprobs."
    )


class Delta(_Said):
    """A stream delta: ``role`` in the first chunk only."""

    tool_calls: list[DeltaToolCall] | None = Field(None, exclude_if=absent)
    function_call: DeltaFunctionCall | None = Field(None, exclude_if=absent, description="Legacy functions only.")


class ChunkChoice(ChoiceBase):
    delta: Delta
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(ResponseBase):
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChunkChoice]
    usage: Usage | None = None
    prompt_token_ids: list[int] | None = Field(
        None, exclude_if=absent, description="vLLM extension (return_token_ids): in the first chunk."
    )
