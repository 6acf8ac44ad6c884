"""Structured outputs: ``response_format``, vLLM's ``structured_outputs``, or a tool choice's grammar, as one
:class:`~server.engine.types.Constraint` the engine applies once the thinking has ended.

The thinking stays free: the engine's reasoning parser (``--reasoning-parser``, else the server's own gate,
:mod:`server.engine.reasoning_gate`) tells it where the thinking ends. That needs an end of thinking of
one token; a family whose end is several (s1's ``<|im_start|>answer``) gets a 400 instead of a grammar
that would cut into its delimiter.
"""

from __future__ import annotations

from typing import Any

from server.engine.types import Constraint
from server.protocol.errors import APIError
from server.protocol.tools import CONSTRAINT_KINDS, ResponseFormat, StructuredOutputs
from server.thinking.tokens import ThinkingTokens

OPTIONS = ("disable_any_whitespace", "disable_additional_properties", "whitespace_pattern")


def request_constraint(
    response_format: ResponseFormat | None,
    structured_outputs: StructuredOutputs | None,
    tool_constraint: Constraint | None,
    thinking: ThinkingTokens,
) -> Constraint | None:
    """The one grammar a request asks for (None: the answer is free); two at once are a 400."""
    asked = {
        "response_format": _from_response_format(response_format),
        "structured_outputs": _from_structured_outputs(structured_outputs),
        "tool_choice": tool_constraint,
    }
    given = {name: constraint for name, constraint in asked.items() if constraint is not None}
    if len(given) > 1:
        first, second = list(given)[:2]
        raise APIError(f"{first} and {second} both constrain the answer; send one.", param=second)
    if not given:
        return None
    ((param, constraint),) = given.items()
    delimiters = thinking.format.delimiters
    if delimiters.end != thinking.format.end_token:
        raise APIError(
            f"{param}: structured outputs start after the end of thinking, and this model's ({delimiters.end!r}) "
            "is several tokens, which a grammar would cut into. Serve it with single-token delimiters to use them.",
            param=param,
        )
    return constraint


def _from_response_format(response_format: ResponseFormat | None) -> Constraint | None:
    if response_format is None or response_format.type == "text":
        return None
    schema = response_format.json_schema.json_schema if response_format.json_schema else None
    return Constraint("json", schema) if schema is not None else Constraint("json_object", True)


def _from_structured_outputs(structured: StructuredOutputs | None) -> Constraint | None:
    if structured is None:
        return None
    values = structured.model_dump(by_alias=True)
    kind = next(kind for kind in CONSTRAINT_KINDS if values[kind] is not None)
    defaults = StructuredOutputs.model_fields
    options: tuple[tuple[str, Any], ...] = tuple(
        (name, values[name]) for name in OPTIONS if values[name] != defaults[name].default
    )
    return Constraint(kind, values[kind], options)
