"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: Anthropic's Messages API on the wire.

Requests carry Anthropic's fields and this server's budget fields at the top level (``extra_body`` in the
``anthropic`` SDK). A field nobody defines is a 400 naming it, as Anthropic's API answers it. Content
blocks parse whatever their type: which types and fields are honoured is the translation's to say
(:mod:`server.serving.messages`), so that an image is refused as an image, not as a schema mismatch.
The reply's models are :mod:`server.protocol.messages_output`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from server.protocol.common import BudgetFields, BudgetInt, RequestModel
from server.protocol.tools import FUNCTION_NAME


def _as_blocks(value: Any) -> Any:
    """A string is shorthand for one text block (Anthropic's rule for ``content`` and ``system``)."""
    return [{"type": "text", "text": value}] if isinstance(value, str) else value


def _no_lone_surrogates(value: Any) -> Any:
    """Strings nested in JSON objects reach the chat template too: a lone surrogate there is a 400, not a 500.
    A loop, not recursion: however deep the JSON, no RecursionError (a 500)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("contains invalid Unicode (a lone surrogate such as \\ud800)") from None
    return value


JSONObject = Annotated[dict[str, Any], AfterValidator(_no_lone_surrogates)]


class CacheControl(RequestModel):
    """Accepted: vLLM's prefix cache (``--enable-prefix-caching``) reuses any prompt prefix by itself."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class ContentBlock(RequestModel):
    """One block of a message; ``text``, ``thinking``, ``redacted_thinking``, ``tool_use`` and ``tool_result``
    are taken, every other type (``image``, ``document``, server tools' blocks, …) is a 400 naming it."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None
    thinking: str | None = Field(None, description="A thinking block of the history: the assistant's reasoning.")
    signature: str | None = Field(None, description="Accepted as given: this server signs nothing it can verify.")
    data: str | None = Field(None, description="redacted_thinking: opaque, left out of the prompt.")
    id: str | None = None
    name: str | None = None
    input: JSONObject | None = None
    tool_use_id: str | None = None
    content: Blocks | None = Field(None, description="tool_result: a string or text blocks.")
    is_error: bool | None = Field(None, description='tool_result: true shows the model "Error: " before it.')
    cache_control: CacheControl | None = None
    citations: list[Any] | None = Field(None, description="Only empty: this server reads no citations.")


Blocks = Annotated[list[ContentBlock], BeforeValidator(_as_blocks, json_schema_input_type=str | list[ContentBlock])]
ContentBlock.model_rebuild()  # its tool_result ``content`` holds blocks too


class MessageIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: Blocks


class ToolIn(RequestModel):
    """A custom tool; Anthropic's server tools (``web_search_…``, ``bash_…``, …) are refused by their type."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = None
    input_schema: JSONObject = Field(description="The JSON Schema of the tool's input.")
    type: Literal["custom"] | None = None
    cache_control: CacheControl | None = None
    strict: bool | None = Field(None, description='Accepted: tool_choice "any" and "tool" are always enforced.')

    @model_validator(mode="before")
    @classmethod
    def _custom_tools_only(cls, data: Any) -> Any:
        kind = data.get("type") if isinstance(data, dict) else None
        if kind not in (None, "custom"):
            raise PydanticCustomError(
                "server_tool", "`{kind}` is one of Anthropic's server tools; this server runs custom tools only "
                "(name, description, input_schema)", {"kind": str(kind)},
            )  # fmt: skip
        return data


class ToolChoiceIn(RequestModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["auto", "any", "tool", "none"]
    name: str | None = Field(None, description='The tool to call, with type "tool" only.')
    disable_parallel_tool_use: bool | None = Field(None, description="true: at most one tool_use block.")

    @model_validator(mode="after")
    def _name_with_tool(self) -> ToolChoiceIn:
        if (self.type == "tool") != (self.name is not None):
            raise PydanticCustomError("tool_name", 'name goes with type "tool", and only there')
        return self


class ThinkingIn(RequestModel):
    """Anthropic's ``thinking``: ``enabled`` with ``budget_tokens`` (this server's maximum, enforced; no 1024
    floor), ``disabled``, or ``adaptive`` (the model decides: no maximum)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: BudgetInt | None = Field(None, description="Below max_tokens; any value from 0, tiny models too.")
    display: Literal["summarized", "omitted"] | None = Field(None, description="omitted: the block's text is empty.")

    @model_validator(mode="after")
    def _budget_with_enabled(self) -> ThinkingIn:
        if (self.type == "enabled") != (self.budget_tokens is not None):
            raise PydanticCustomError("budget_tokens", 'budget_tokens goes with type "enabled", and is required there')
        if self.type == "disabled" and self.display is not None:
            raise PydanticCustomError("display", 'display goes with type "enabled" or "adaptive"')
        return self


class OutputFormat(RequestModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["json_schema"]
    json_schema: JSONObject = Field(alias="schema", description="Enforced once the thinking has ended.")


class OutputConfig(RequestModel):
    model_config = ConfigDict(extra="forbid")

    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = Field(
        None, description="A thinking budget from the server's reasoning_effort table; max is read as xhigh."
    )
    format: OutputFormat | None = None


class Metadata(RequestModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(None, description="Accepted: this server does no per-user monitoring.")


class MessagesInput(RequestModel):
    """What makes the prompt: the fields of ``/v1/messages/count_tokens``."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="A served model name; defaults to the first (Anthropic requires it).")
    messages: list[MessageIn] = Field(min_length=1)
    system: Blocks | None = None
    tools: list[ToolIn] | None = None
    tool_choice: ToolChoiceIn | None = None
    thinking: ThinkingIn | None = None
    output_config: OutputConfig | None = None
    cache_control: CacheControl | None = None
    speed: Literal["standard", "fast"] | None = Field(None, description='Only "standard": this server has one speed.')
    chat_template_kwargs: JSONObject | None = Field(None, description="vLLM's extension: the chat template's kwargs.")


# This server's budget fields (README "Budget forcing"), top level; ``thinking`` is Anthropic's own, above.
BUDGET_FIELDS = tuple(name for name in BudgetFields.model_fields if name != "thinking")


class MessagesRequest(MessagesInput, BudgetFields):  # MessagesInput first: its `thinking` wins
    max_tokens: int = Field(ge=1, description="Caps thinking and answer together (0, cache pre-warming, is not run).")
    stop_sequences: list[str] | None = Field(None, description="Matched on the answer (README Thinking and answer).")
    stream: bool = False
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=-1, description="-1 or 0: all tokens.")
    metadata: Metadata | None = None
    service_tier: Literal["auto", "standard_only"] | None = Field(None, description="Accepted: one tier.")
    container: Any = Field(None, description="Refused: this server runs no code-execution containers.")
    diagnostics: Any = Field(None, description="Refused: this server keeps no earlier messages to compare.")
    inference_geo: str | None = Field(None, description="Refused: this server runs where it is deployed.")
    stop_in_thinking: bool = Field(False, description="Extension: stop sequences match in the thinking too.")
    include_answer_prefix: bool | None = Field(None, description="Extension: keep a forced answer prefix.")
