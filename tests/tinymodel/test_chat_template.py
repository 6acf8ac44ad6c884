"""The tiny model's chat template: Qwen3/hermes-style tool calls and results; tools as compact signatures."""

from __future__ import annotations

from typing import Any

import pytest

from tinymodel.tokenizer import WORD_TOKENS, build_tokenizer

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}
ADD = {"type": "function", "function": {"name": "add", "description": "Add two integers.", "parameters": SCHEMA}}
ADD_JSON = "add(a, b)"  # the tool as the template shows it: name and parameter names
GEN = "<|im_start|>assistant\n<think>\n"
USER = {"role": "user", "content": "482+397"}


def call(arguments: Any, id_: str = "c1") -> dict[str, Any]:
    return {"id": id_, "type": "function", "function": {"name": "add", "arguments": arguments}}


@pytest.fixture(scope="module")
def render() -> Any:
    tokenizer = build_tokenizer()

    def apply(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None, gen: bool = True) -> str:
        return tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=gen)

    return apply


def test_word_tokens_keep_their_ids_and_the_tool_delimiters_are_single_tokens() -> None:
    tokenizer = build_tokenizer()
    assert len(tokenizer) == 264
    assert [tokenizer.convert_tokens_to_ids(w) for w in WORD_TOKENS] == [259, 260, 261, 262, 263]
    ids = tokenizer.encode("<tool_call>{}</tool_call>", add_special_tokens=False)
    assert len(ids) == 4 and (ids[0], ids[-1]) == (262, 263)
    assert "<tool_call>" not in tokenizer.all_special_tokens
    assert tokenizer.decode([262, 263], skip_special_tokens=True) == "<tool_call></tool_call>"


def test_plain_chat_and_system(render: Any) -> None:
    assert render([USER]) == "<|im_start|>user\n482+397<|im_end|>\n" + GEN
    assert render([USER], gen=False) == "<|im_start|>user\n482+397<|im_end|>\n"
    system = {"role": "system", "content": "Reply in JSON."}
    assert render([system, USER]) == (
        "<|im_start|>system\nReply in JSON.<|im_end|>\n<|im_start|>user\n482+397<|im_end|>\n" + GEN
    )


def test_tools_go_into_the_system_turn(render: Any) -> None:
    tools = f"# Tools\n<tools>\n{ADD_JSON}\n{ADD_JSON}\n</tools><|im_end|>\n"
    assert render([USER], [ADD, ADD]) == "<|im_start|>system\n" + tools + "<|im_start|>user\n482+397<|im_end|>\n" + GEN
    system = {"role": "system", "content": "Call tools while thinking."}
    expected = "<|im_start|>system\nCall tools while thinking.\n\n" + tools + "<|im_start|>user\n482+397<|im_end|>\n"
    assert render([system, USER], [ADD, ADD]) == expected + GEN


def test_every_clients_shape_of_a_tool_is_one_signature(render: Any) -> None:
    agents = {"properties": {"a": {"title": "A", "type": "integer"}, "b": {"title": "B", "type": "integer"}},
              "required": ["a", "b"], "title": "add_args", "type": "object", "additionalProperties": False}  # fmt: skip
    shapes = [{"type": "function", "function": {"name": "add", "parameters": agents, "strict": True}},
              {"type": "function", "function": {"name": "add", "description": "", "parameters": SCHEMA}}]  # fmt: skip
    expected = render([USER], [ADD])
    assert all(render([USER], [shape]) == expected for shape in shapes)
    bare = {"type": "function", "function": {"name": "now"}}
    assert "<tools>\nnow()\n</tools>" in render([USER], [bare])


@pytest.mark.parametrize("arguments", [{"a": 482, "b": 397}, '{"a": 482, "b": 397}'])
@pytest.mark.parametrize("content", [None, ""])
def test_tool_calls_and_tool_results(render: Any, arguments: Any, content: str | None) -> None:
    messages = [
        USER,
        {"role": "assistant", "content": content, "tool_calls": [call(arguments)]},
        {"role": "tool", "tool_call_id": "c1", "content": "879"},
    ]
    assert render(messages, [ADD]) == (
        f"<|im_start|>system\n# Tools\n<tools>\n{ADD_JSON}\n</tools><|im_end|>\n"
        "<|im_start|>user\n482+397<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>{"name": "add", "arguments": {"a": 482, "b": 397}}</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n879\n</tool_response><|im_end|>\n" + GEN
    )


def test_consecutive_tool_results_share_one_user_turn(render: Any) -> None:
    messages = [
        USER,
        {"role": "assistant", "content": "Two.", "tool_calls": [call({"a": 1, "b": 2}), call('{"a": 3}', "c2")]},
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
        {"role": "tool", "tool_call_id": "c2", "content": "oops"},
        {"role": "user", "content": "thanks"},
    ]
    assert render(messages, gen=False) == (
        "<|im_start|>user\n482+397<|im_end|>\n<|im_start|>assistant\nTwo."
        '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>'
        '<tool_call>{"name": "add", "arguments": {"a": 3}}</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n3\n</tool_response>\n<tool_response>\noops\n</tool_response><|im_end|>\n"
        "<|im_start|>user\nthanks<|im_end|>\n"
    )


def test_multi_turn_keeps_only_earlier_answers(render: Any) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "1+2"},
        {"role": "assistant", "content": "Quick guess: 3.\n</think>\n\n3"},
        {"role": "user", "content": "2+2"},
    ]
    assert render(messages) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n1+2<|im_end|>\n"
        "<|im_start|>assistant\n3<|im_end|>\n<|im_start|>user\n2+2<|im_end|>\n" + GEN
    )
