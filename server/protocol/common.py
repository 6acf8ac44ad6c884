"""Fields and objects shared by chat and text completions."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from server.protocol.logprobs import not_streamed

INT64 = 2**63
BudgetInt = Annotated[int, Field(strict=True, ge=0)]  # JSON integers only: 1.5, "5" and -1 are 400s
# The pure rules' bounds (server.thinking.budget: MAX_WAIT_STRINGS, MAX_END_GRACE), for the schema.
WaitStrings = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=8)]
Grace = Annotated[int, Field(strict=True, ge=0, le=256)]


def _check_unicode(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("contains invalid Unicode (a lone surrogate such as \\ud800)") from None
    elif isinstance(value, list | tuple):
        for item in value:
            _check_unicode(item)


def absent(value: Any) -> bool:
    """Fields that only some responses carry are left out of the others' JSON (``Field(exclude_if=absent)``)."""
    return value is None


class RequestModel(BaseModel):
    """A request body part. JSON may carry lone surrogates (``"\\ud800"``), which no tokenizer can encode:
    every string field rejects them with a 400 naming the field."""

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        _check_unicode(value)
        return value


class ThinkingConfig(RequestModel):
    """Anthropic's ``thinking`` object: ``enabled`` with ``budget_tokens``, or ``disabled``."""

    type: Literal["enabled", "disabled"]
    budget_tokens: BudgetInt | None = None

    @model_validator(mode="after")
    def _enabled_needs_a_budget(self) -> ThinkingConfig:
        if self.type == "enabled" and self.budget_tokens is None:
            raise PydanticCustomError(
                "missing", 'budget_tokens is required with type "enabled", as in Anthropic\'s API'
            )
        return self


class BudgetFields(RequestModel):
    """Thinking-budget fields (s1 budget forcing) and their aliases; see README "Budget forcing"."""

    min_thinking_tokens: BudgetInt | None = Field(None, description="Attempts to end the thinking earlier become Wait.")
    max_thinking_tokens: BudgetInt | None = Field(None, description="At this many thinking tokens the end is forced.")
    min_thinking_waits: BudgetInt | None = Field(None, description="The first N attempts to end become Wait.")
    thinking_wait_string: Annotated[str, Field(min_length=1)] | WaitStrings | None = Field(
        None,
        description="Replaces an attempt to end. A list (1 to 8 strings, 64 tokens in all) is used in turn: "
        "the k-th forced wait is item k mod n.",
    )
    thinking_answer_prefix: str | None = Field(None, description="Forced after the end of thinking at the maximum.")
    thinking_end_grace: Grace | None = Field(
        None,
        description="Tokens (0 to 256) the thinking may run past the maximum to end its line or sentence; "
        "max_thinking_tokens + grace (+ the wrap-up) is a hard bound.",
    )
    thinking_wrapup_string: str | None = Field(
        None,
        min_length=1,
        description="Forced before the end of thinking wherever the budget cuts it (the maximum, a loop); "
        "thinking tokens, beyond the maximum (with the closing: 64 tokens at most).",
    )
    thinking_loop_guard: StrictBool | None = Field(
        None,
        description="When the thinking loops (a verbatim cycle, or the same conclusion again after a forced wait): no "
        "more forced waits; its own ending goes through, a cycle is also closed. Default: the server's.",
    )
    thinking_token_budget: Annotated[int, Field(strict=True, ge=-1)] | None = Field(
        None,
        description="vLLM's name for max_thinking_tokens; -1 is unlimited, as in vLLM (no maximum, not even the "
        "server's default).",
    )
    thinking: ThinkingConfig | None = Field(None, description="Anthropic-style; disabled means a budget of 0.")
    reasoning_effort: str | None = Field(None, description="OpenAI-style; mapped to the server's budgets.")

    @field_validator("thinking_wait_string", mode="wrap")
    @classmethod
    def _one_or_a_list(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One error naming the field (not one per member of the union)."""
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(
                "wait_string", "must be a non-empty string or a list of 1 to 8 non-empty strings"
            ) from None

    def budget_fields(self) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in BudgetFields.model_fields}
        fields["thinking"] = self.thinking.model_dump() if self.thinking else None
        return fields


class StreamOptions(RequestModel):
    include_usage: bool = False
    include_obfuscation: bool | None = Field(None, description="Only false: no obfuscation padding is added.")
    continuous_usage_stats: bool = Field(
        False, description="vLLM's field: with include_usage, every chunk carries its choice's usage so far."
    )


class SamplingFields(BudgetFields):
    """Fields common to both endpoints. Unknown fields are ignored, as OpenAI does, and logged once per name."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(None, description="A served model name; defaults to the first.")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, description="Choices to generate; at most the server's --max-n.")
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-INT64, lt=INT64)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    user: str | None = Field(None, description="Accepted; this server does no per-user monitoring.")
    logit_bias: dict[str, float] | None = Field(None, description="Token id -> bias in [-100, 100], added to logits.")
    store: bool | None = Field(None, description="Only false: this server stores nothing.")
    metadata: dict[str, str] | None = Field(None, description="Accepted without store; nothing is stored to tag.")
    service_tier: str | None = Field(None, description="auto or default; other tiers are refused.")
    # vLLM's extensions, as `vllm serve` accepts them.
    top_k: int | None = Field(None, ge=-1, description="vLLM extension: sample from the k most likely (-1/0: all).")
    min_p: float | None = Field(None, ge=0.0, le=1.0, description="vLLM extension: drop tokens below min_p x max.")
    repetition_penalty: float | None = Field(None, gt=0.0, le=2.0, description="vLLM extension (1: none).")
    min_tokens: int = Field(0, ge=0, description="vLLM extension: no EOS or stop before this many tokens.")
    ignore_eos: bool = Field(False, description="vLLM extension: decode on past EOS (benchmarks).")
    stop_token_ids: list[int] | None = Field(None, description="vLLM extension: token ids that end the choice.")
    bad_words: list[str] = Field(default_factory=list, description="vLLM extension: words never generated.")
    allowed_token_ids: list[int] | None = Field(None, description="vLLM extension: the only ids that may be sampled.")
    skip_special_tokens: bool = Field(True, description="vLLM extension (kept when the end of thinking is one).")
    spaces_between_special_tokens: bool = Field(True, description="vLLM extension, with skip_special_tokens false.")
    include_stop_str_in_output: bool = Field(False, description="vLLM extension: a matched stop stays in the text.")
    priority: int = Field(0, ge=-INT64, lt=INT64, description="vLLM extension: needs --scheduling-policy priority.")
    cache_salt: str | None = Field(
        None, min_length=1, max_length=1024, description="vLLM extension: salts the prompt's prefix-cache blocks."
    )
    vllm_xargs: dict[str, str | int | float | list[str | int | float]] | None = Field(
        None, description="vLLM extension: merged into SamplingParams.extra_args (thinking_budget is ours)."
    )
    truncate_prompt_tokens: int | None = Field(
        None, ge=-1, lt=INT64, description="vLLM extension: keep this many prompt tokens (-1: the context less one)."
    )
    truncation_side: Literal["left", "right"] | None = Field(
        None, description="vLLM extension: left (default) keeps the prompt's last tokens, right its first."
    )
    return_token_ids: bool = Field(False, description="vLLM extension: prompt_token_ids and each choice's token_ids.")
    prompt_logprobs: int | None = Field(
        None,
        ge=-1,
        description="vLLM extension: each prompt token's logprob and the k most likely (-1: the whole vocabulary; "
        "at most the server's --max-logprobs); not with stream.",
    )
    return_tokens_as_token_ids: bool | None = Field(
        None, description="vLLM extension: logprobs name tokens as token_id:N; default: the server's flag."
    )
    stream: bool = False
    stream_options: StreamOptions | None = None
    # Where this server's thinking meets OpenAI's fields (README "Thinking and answer").
    stop_in_thinking: bool = Field(False, description="Stop strings match in the thinking too (default: answer only).")
    include_answer_prefix: bool | None = Field(
        None, description="Keep a forced answer prefix (Final Answer:) in the answer; default: the server's flag."
    )

    def stop_list(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    @model_validator(mode="after")
    def _prompt_logprobs_not_streamed(self) -> SamplingFields:
        return not_streamed(self)  # vLLM's rule, in server.protocol.logprobs

    def engine_prompt_logprobs(self) -> int | None:
        """The prompt logprobs the engine computes (text completions' echo with logprobs asks too)."""
        return self.prompt_logprobs


class BudgetReport(BaseModel):
    """What budget forcing did to one choice (present when the request had a budget)."""

    thinking_tokens: int = Field(description="Tokens between the start and the end of thinking, forced Waits included.")
    waits: int = Field(description="Attempts to end the thinking replaced by the wait string.")
    forced_end: bool = Field(description="Whether the maximum forced the end of thinking (and the answer prefix).")
    loops_broken: int | None = Field(
        None,
        exclude_if=absent,
        description="With the loop guard: 1 when the thinking looped and the guard stopped forcing (forced_end "
        "too when it forced the closing), else 0. Absent without the guard.",
    )
    thinking_off: bool | None = Field(
        None,
        exclude_if=absent,
        description="true: the prompt closed the thinking (a chat template's enable_thinking: false, thinking: "
        "false): the budget had nothing to act on. Absent otherwise.",
    )


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int = 0


class PromptTokensDetails(BaseModel):
    cached_tokens: int = Field(0, description="The prompt's tokens found in vLLM's prefix cache (not recomputed).")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails = PromptTokensDetails()
    completion_tokens_details: CompletionTokensDetails = CompletionTokensDetails()


def usage(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int, cached_tokens: int = 0) -> Usage:
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached_tokens),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning_tokens),
    )


FinishReason = Literal["stop", "length", "abort", "tool_calls", "function_call"] | None


class ResponseBase(BaseModel):
    """The envelope of every completion and chunk."""

    id: str
    object: str
    created: int = Field(default_factory=lambda: now())
    model: str


class ChoiceBase(BaseModel):
    index: int
    finish_reason: FinishReason = None
    thinking_budget: BudgetReport | None = Field(None, description="What the budget did (on the finishing chunk).")
    token_ids: list[int] | None = Field(
        None, exclude_if=absent, description="vLLM extension (return_token_ids): the choice's tokens."
    )


def now() -> int:
    return int(time.time())


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=now)
    owned_by: str = "thinkserve"
    root: str | None = Field(None, description="vLLM's field: the model the engine loaded (its path or hub id).")
    parent: str | None = Field(None, description="vLLM's field: the base model of an adapter; null for the base.")
    max_model_len: int | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
