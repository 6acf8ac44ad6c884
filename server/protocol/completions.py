"""``POST /v1/completions`` (raw prompt): request, response and stream-chunk models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from server.protocol.common import ChoiceBase, ResponseBase, SamplingFields, Usage, absent
from server.protocol.logprobs import PromptLogprobs
from server.protocol.tools import ResponseFormat, StructuredOutputs


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]] = Field(
        ..., description="Text, texts, token ids, or lists of token ids."
    )
    echo: bool = Field(False, description="The prompt first; with logprobs, its tokens' too (the first one's null).")
    add_special_tokens: bool = Field(True, description="vLLM's field: the tokenizer's special tokens (BOS) on text.")
    max_tokens: int | None = Field(
        16, ge=0, description="OpenAI's default is 16; null fills the context; 0 with echo: the prompt alone (vLLM's)."
    )
    logprobs: int | None = Field(None, ge=0, le=20, description="The sampled token's and the k most likely.")
    best_of: int | None = Field(None, ge=1, description="Only equal to n: the engine returns every choice it makes.")
    suffix: str | None = Field(None, description="Not supported (no fill-in-the-middle); only empty.")
    response_format: ResponseFormat | None = Field(None, description="vLLM's: json_object / json_schema.")
    structured_outputs: StructuredOutputs | None = Field(None, description="vLLM's grammars after the thinking.")

    @field_validator("max_tokens")
    @classmethod
    def _zero_only_with_echo(cls, value: int | None, info: ValidationInfo) -> int | None:
        """As vLLM: 0 tokens means scoring the prompt (``echo``); there is nothing to return otherwise."""
        if value == 0 and not info.data.get("echo"):
            raise PydanticCustomError("greater_than_equal", "must be at least 1 (0 only with echo: the prompt alone)")
        return value

    @property
    def echo_only(self) -> bool:
        """``echo`` with ``max_tokens: 0``: the prompt, its logprobs when asked, and no completion."""
        return self.echo and self.max_tokens == 0

    def token_limit(self) -> int | None:
        """The engine decodes one token for an echo alone (vLLM's way: its result is not shown)."""
        return 1 if self.echo_only else self.max_tokens

    def engine_prompt_logprobs(self) -> int | None:
        """``echo`` with ``logprobs`` scores the prompt's tokens too, as many candidates as the completion's."""
        if self.prompt_logprobs is None and self.echo:
            return self.logprobs
        return self.prompt_logprobs


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
    prompt_logprobs: PromptLogprobs | None = Field(
        None, exclude_if=absent, description="vLLM extension (prompt_logprobs, or echo with logprobs)."
    )


class Completion(ResponseBase):
    object: Literal["text_completion"] = "text_completion"
    choices: list[CompletionChoice]
    usage: Usage | None = None
