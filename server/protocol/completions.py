"""``POST /v1/completions`` (raw prompt): request, response and stream-chunk models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from server.protocol.common import ChoiceBase, ResponseBase, SamplingFields, Usage, absent
from server.protocol.tools import ResponseFormat, StructuredOutputs


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]] = Field(
        ..., description="Text, texts, token ids, or lists of token ids."
    )
    max_tokens: int | None = Field(16, ge=1, description="OpenAI's default is 16; null fills the context.")
    logprobs: int | None = Field(None, ge=0, le=20)
    echo: bool = False
    best_of: int | None = Field(None, ge=1, description="Only equal to n: the engine returns every choice it makes.")
    suffix: str | None = Field(None, description="Not supported (no fill-in-the-middle); only empty.")
    response_format: ResponseFormat | None = Field(None, description="vLLM's: json_object / json_schema.")
    structured_outputs: StructuredOutputs | None = Field(None, description="vLLM's grammars after the thinking.")


class CompletionLogprobs(BaseModel):
    tokens: list[str] = []
    token_logprobs: list[float | None] = []
    top_logprobs: list[dict[str, float] | None] = []
    text_offset: list[int] = []


class CompletionChoice(ChoiceBase):
    text: str
    logprobs: CompletionLogprobs | None = None
    prompt_token_ids: list[int] | None = Field(
        None, exclude_if=absent, description="vLLM extension (return_token_ids): the prompt's tokens."
    )


class Completion(ResponseBase):
    object: Literal["text_completion"] = "text_completion"
    choices: list[CompletionChoice]
    usage: Usage | None = None
