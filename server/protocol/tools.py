"""Tools and structured outputs on the wire: OpenAI's ``tools``, ``tool_choice``, ``response_format``, legacy
``functions``, and vLLM's ``structured_outputs``; the tool calls a response carries."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from server.protocol.common import RequestModel

FUNCTION_NAME = r"^[a-zA-Z0-9_-]{1,64}$"  # OpenAI's rule for function names


class FunctionDefinition(RequestModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="A JSON Schema object; none: no arguments.")
    strict: bool | None = Field(None, description="Accepted: a required or named tool choice is always enforced.")


class Tool(RequestModel):
    """A function the model may call; OpenAI's other tool types (custom, web search, …) are refused by name."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["function"] = Field(description='Only "function": this server calls functions only.')
    function: FunctionDefinition


class FunctionName(RequestModel):
    model_config = ConfigDict(extra="forbid")

    name: str


class NamedToolChoice(RequestModel):
    """``{"type": "function", "function": {"name": …}}``: this function must be called."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: FunctionName


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice
FunctionCallChoice = Literal["none", "auto"] | FunctionName  # the legacy ``function_call``


class JSONSchemaFormat(RequestModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=FUNCTION_NAME)
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(None, alias="schema", description="A JSON Schema; none: any JSON.")
    strict: bool | None = Field(None, description="Accepted: the schema is always enforced.")


class ResponseFormat(RequestModel):
    """``text``, ``json_object`` (any JSON object) or ``json_schema``; enforced once the thinking has ended."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_with_its_type(self) -> ResponseFormat:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise PydanticCustomError("json_schema", 'json_schema goes with type "json_schema", and only there')
        return self


CONSTRAINT_KINDS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")


class StructuredOutputs(RequestModel):
    """vLLM's ``structured_outputs``: exactly one of json, regex, choice, grammar, json_object, structural_tag."""

    model_config = ConfigDict(extra="forbid")

    json_schema: dict[str, Any] | str | None = Field(None, alias="json")
    regex: str | None = None
    choice: list[str] | None = Field(None, min_length=1)
    grammar: str | None = None
    json_object: bool | None = None
    structural_tag: str | None = None
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> StructuredOutputs:
        values = [self.json_schema, self.regex, self.choice, self.grammar, self.json_object, self.structural_tag]
        if sum(value is not None for value in values) != 1:
            raise PydanticCustomError("one_kind", f"set exactly one of {', '.join(CONSTRAINT_KINDS)}")
        return self


class FunctionCallOut(BaseModel):
    name: str
    arguments: str = Field(description="JSON text, as the model wrote it (OpenAI's shape).")


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallOut


class DeltaFunctionCall(BaseModel):
    name: str | None = None
    arguments: str | None = None


class DeltaToolCall(BaseModel):
    """A streamed tool call: this server sends each call whole, in one delta (name and all its arguments)."""

    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: DeltaFunctionCall


class FunctionCallIn(RequestModel):
    name: str
    arguments: str | dict[str, Any] = Field(description="JSON text (OpenAI's shape); an object is taken as is.")


class ToolCallIn(RequestModel):
    """A tool call in an assistant message of the history."""

    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCallIn
