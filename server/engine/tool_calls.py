"""Tool calls in an answer, found by vLLM's tool parsers: ``--tool-call-parser NAME`` as ``vllm serve`` takes it.

The serving layer hands over the answer's text (the thinking is already split off) and the request's
tools; vLLM's parser reads them through vLLM's own request type, built here, and the calls come back
as our :class:`~server.engine.types.FunctionCall`. ``--tool-parser-plugin FILE`` registers a parser
of the user's first, as with ``vllm serve``.
"""

from __future__ import annotations

from typing import Any

from server.engine.types import FunctionCall


class ToolParserError(ValueError):
    """The command line names a tool parser that cannot serve this model."""


class VllmToolParser:
    """One vLLM ``ToolParser`` class, checked against the model's tokenizer at startup."""

    def __init__(self, name: str, tokenizer: Any, plugin: str | None = None) -> None:
        from vllm.tool_parsers import ToolParserManager

        if plugin:
            ToolParserManager.import_tool_parser(plugin)
        try:
            self._parser_class = ToolParserManager.get_tool_parser(name)
        except KeyError:
            known = ", ".join(ToolParserManager.list_registered())
            raise ToolParserError(f"--tool-call-parser {name}: no such vLLM tool parser (known: {known}).") from None
        try:
            probe = self._parser_class(tokenizer)  # parsers check the model's vocabulary for their tokens
        except Exception as exc:
            raise ToolParserError(f"--tool-call-parser {name} cannot read this model's tool calls: {exc}") from exc
        self._name, self._tokenizer = name, tokenizer
        self._start_marker = _opener(probe)

    @property
    def name(self) -> str:
        return self._name

    @property
    def start_marker(self) -> str | None:
        return self._start_marker

    def parse(self, text: str, tools: list[dict[str, Any]]) -> tuple[str | None, list[FunctionCall]]:
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest

        request = ChatCompletionRequest.model_validate(
            {"model": "-", "messages": [{"role": "user", "content": ""}], "tools": tools, "tool_choice": "auto"}
        )
        found = self._parser_class(self._tokenizer, request.tools).extract_tool_calls(text, request)
        if not found.tools_called:
            return text, []
        calls = [FunctionCall(c.function.name, c.function.arguments, c.id) for c in found.tool_calls]
        content = found.content if found.content and found.content.strip() else None
        return content, calls


def _opener(parser: Any) -> str | None:
    """The text that opens a call: a legacy parser's ``tool_call_start_token``; for vLLM's declarative parsers
    (Qwen3.5's ``qwen3_xml``, GLM, Kimi, DeepSeek V4), the first terminal that leaves the answer's text for a
    call (``<tool_call>``, Kimi's ``<|tool_calls_section_begin|>``)."""
    marker = getattr(parser, "tool_call_start_token", None)
    if isinstance(marker, str) and marker:
        return marker
    from vllm.parser.engine.parser_engine_config import ParserState  # vLLM >= 0.32's declarative parsers

    config = getattr(getattr(parser, "_parser_engine", None), "parser_engine_config", None)
    for (state, terminal), transition in getattr(config, "transitions", {}).items():
        if state is ParserState.CONTENT and transition.next_state.name.startswith("TOOL"):
            spellings = config.terminals.get(terminal)
            first = spellings[0] if isinstance(spellings, tuple) else spellings
            if isinstance(first, str) and first:
                return first
    return None
