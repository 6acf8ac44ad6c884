"""The end of thinking as vLLM's structured outputs see it: a reasoning parser built from the budget's delimiters.

vLLM applies a request's grammar (``response_format``, a required or named tool choice, …) from
its first output token unless the engine has a reasoning parser: with one, the grammar waits
until the parser says the thinking has ended, so the thinking stays free. ``vllm serve`` users
name theirs with ``--reasoning-parser``, which the engine then keeps. Without one, the engine gets
this parser: the delimiters the server resolved for the budget (``--thinking-format``,
``--thinking-start/--thinking-end`` or auto, :mod:`server.thinking.tokens`), so the grammar starts
exactly where the budget sees the thinking end.

vLLM imports this file in the engine's own process (``reasoning_parser_plugin``) and builds a parser
per structured request; the command line's choice travels in :data:`ENV`, resolved once per tokenizer.
"""

from __future__ import annotations

import dataclasses
import json
import os
from functools import cache
from typing import Any

from vllm.reasoning import ReasoningParserManager
from vllm.reasoning.basic_parsers import BaseThinkingReasoningParser

from server.thinking.tokens import FormatChoice, resolve_thinking_tokens

NAME = "thinkserve"
ENV = "THINKSERVE_THINKING_DELIMITERS"  # the FormatChoice, as JSON


def install(config: Any, choice: FormatChoice) -> bool:
    """Give the engine this parser unless ``--reasoning-parser`` named one; returns whether it did."""
    outputs = config.structured_outputs_config
    if outputs.reasoning_parser:
        return False
    os.environ[ENV] = json.dumps(dataclasses.asdict(choice))  # the engine's processes inherit it
    outputs.reasoning_parser, outputs.reasoning_parser_plugin = NAME, __file__
    return True


@cache
def _delimiter_tokens(tokenizer: Any) -> tuple[str, str]:
    """The vocabulary entries of the start's last token and of the end token."""
    choice = FormatChoice(**json.loads(os.environ.get(ENV, "{}")))
    tokens = resolve_thinking_tokens(tokenizer, choice)
    start = tokens.start[-1] if tokens.start else tokens.end
    return tokenizer.convert_ids_to_tokens(start), tokenizer.convert_ids_to_tokens(tokens.end)


@ReasoningParserManager.register_module(NAME)
class ThinkingGate(BaseThinkingReasoningParser):
    """``<start> … <end>``: the thinking has ended after the last end token that follows the last start token.

    vLLM's base class gives the rest: the prompt's tail decides whether the thinking is already closed
    (a template's ``enable_thinking: false``), and the end token in a step's new tokens ends it.
    """

    def __init__(self, tokenizer: Any, *args: Any, **kwargs: Any) -> None:
        self._start, self._end = _delimiter_tokens(tokenizer)
        super().__init__(tokenizer, *args, **kwargs)

    @property
    def start_token(self) -> str:
        return self._start

    @property
    def end_token(self) -> str:
        return self._end
