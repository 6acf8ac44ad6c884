"""The vLLM adapters for tools and grammars: the reasoning gate structured outputs wait on, vLLM's tool parsers."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from transformers import AutoTokenizer

from server.engine import reasoning_gate
from server.engine.tool_calls import ToolParserError, VllmToolParser
from server.ops.settings import SHIPPED_MODEL
from server.thinking.tokens import FormatChoice

TOKENIZER = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
ADD = {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}


def _ids(text: str) -> list[int]:
    return TOKENIZER.encode(text, add_special_tokens=False)


def test_the_gate_is_installed_only_when_no_reasoning_parser_is_named() -> None:
    config = SimpleNamespace(structured_outputs_config=SimpleNamespace(reasoning_parser="", reasoning_parser_plugin=""))
    assert reasoning_gate.install(config, FormatChoice())
    assert config.structured_outputs_config.reasoning_parser == reasoning_gate.NAME
    assert config.structured_outputs_config.reasoning_parser_plugin == reasoning_gate.__file__
    named = SimpleNamespace(structured_outputs_config=SimpleNamespace(reasoning_parser="qwen3"))
    assert not reasoning_gate.install(named, FormatChoice())
    assert named.structured_outputs_config.reasoning_parser == "qwen3"


def test_the_gate_ends_the_thinking_where_the_budget_does() -> None:
    gate = reasoning_gate.ThinkingGate(TOKENIZER)
    prompt = _ids("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n")
    assert not gate.is_reasoning_end(prompt)  # the prompt opened the thinking: the grammar waits
    assert gate.is_reasoning_end(prompt + _ids("so 3.\n</think>"))
    closed = _ids("<think>\n\n</think>\n\n")
    assert gate.is_reasoning_end(closed)  # a template that closed the thinking: the grammar applies at once
    assert gate.is_reasoning_end_streaming(prompt, _ids("</think>"))


def test_hermes_reads_calls_and_leaves_the_text_before_them() -> None:
    parser = VllmToolParser("hermes", TOKENIZER)
    assert parser.start_marker == "<tool_call>"
    content, calls = parser.parse('Sure.<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>', [ADD])
    assert content == "Sure." and [(c.name, json.loads(c.arguments)) for c in calls] == [("add", {"a": 1})]
    assert parser.parse("just 3", [ADD]) == ("just 3", [])


def test_an_unknown_parser_fails_at_startup_with_the_known_names() -> None:
    with pytest.raises(ToolParserError, match="hermes"):
        VllmToolParser("no-such-parser", TOKENIZER)


def test_a_plugin_file_registers_a_parser_of_ones_own(tmp_path: Path) -> None:
    plugin = tmp_path / "my_parser.py"
    plugin.write_text(
        "from vllm.tool_parsers import ToolParserManager\n"
        "from vllm.tool_parsers.hermes_tool_parser import Hermes2ProToolParser\n\n\n"
        '@ToolParserManager.register_module("my-hermes")\n'
        "class MyHermes(Hermes2ProToolParser):\n"
        "    pass\n"
    )
    parser = VllmToolParser("my-hermes", TOKENIZER, plugin=str(plugin))
    assert parser.parse('<tool_call>{"name": "add", "arguments": {}}</tool_call>', [ADD])[1][0].name == "add"
