"""``POST /v1/responses`` over the scripted engine: the translation onto chat completions (every field), the
refusals (a 400 naming the field), and the output, validated by the ``openai`` SDK's own ``Response`` model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai.types.responses import Response

from server.protocol.responses import ResponsesRequest
from server.serving.responses import chat_request
from server.serving.responses_input import input_messages
from tests.fakes import FakeEngine

RESPONSES = "/v1/responses"
QUESTION = "What is 482 + 397?"
PARAMETERS = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
ADD = {"type": "function", "name": "add", "description": "Add two integers.", "parameters": PARAMETERS, "strict": True}
CALL = '<tool_call>{"name": "add", "arguments": {"a": 482, "b": 397}}</tool_call>'
THINKING = "Quick guess: 900.\n</think>\n\n"
SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(RESPONSES, json={"input": QUESTION, "temperature": 0, **body})
    assert response.status_code == 200, response.text
    return response.json()


def validated(body: dict[str, Any]) -> Response:
    """The SDK's model reads it, and finds nothing it does not know but our budget report."""
    response = Response.model_validate(body)
    assert set(response.model_extra or {}) <= {"thinking_budget"}, response.model_extra
    for item in response.output:
        assert not item.model_extra, item
        for part in getattr(item, "content", None) or []:
            assert not part.model_extra, part
    assert response.usage is not None and not response.usage.model_extra
    return response


def prompt(engine: FakeEngine) -> str:
    return str(engine.tokenizer.decode(engine.requests[-1][0]))


def test_a_string_input_answers_with_a_reasoning_item_and_a_message(client: TestClient, engine: FakeEngine) -> None:
    body = create(client)
    response = validated(body)
    assert response.id.startswith("resp_") and response.object == "response" and response.status == "completed"
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and reasoning.id.startswith("rs_") and reasoning.summary == []
    assert reasoning.content and reasoning.content[0].type == "reasoning_text"
    assert reasoning.content[0].text.startswith("Quick guess: 46.\nWait")
    assert message.type == "message" and message.id.startswith("msg_") and message.status == "completed"
    assert response.output_text == "46" and message.content[0].annotations == []
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.usage.input_tokens == len(engine.requests[-1][0])
    assert "thinking_budget" not in body  # no budget asked, none reported (as chat's null, left out)
    assert prompt(engine).endswith(f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n<think>\n")


def test_the_request_is_echoed_as_openai_echoes_it(client: TestClient) -> None:
    echoed = {
        "instructions": "Be brief.", "metadata": {"k": "v"}, "max_output_tokens": 200, "temperature": 0,
        "top_p": 0.5, "user": "u1", "prompt_cache_key": "p", "safety_identifier": "s", "max_tool_calls": 3,
    }  # fmt: skip
    response = validated(create(client, **echoed, tools=[ADD], reasoning={"effort": "high", "summary": "auto"}))
    for name, value in echoed.items():
        assert getattr(response, name) == value, name
    assert response.tools[0].type == "function" and response.tools[0].name == "add"
    assert response.tool_choice == "auto" and response.parallel_tool_calls is True
    assert response.reasoning is not None
    assert (response.reasoning.effort, response.reasoning.summary) == ("high", "auto")
    assert response.text is not None and response.text.format is not None and response.text.format.type == "text"
    assert response.truncation == "disabled"


def test_every_field_becomes_its_chat_field() -> None:
    body = {
        "input": QUESTION, "reasoning": {"effort": "low", "summary": "auto"}, "max_output_tokens": 100,
        "temperature": 0.5, "top_p": 0.9, "text": {"format": {"type": "json_schema", "name": "answer",
        "schema": SCHEMA, "strict": True}}, "tools": [ADD], "tool_choice": {"type": "function", "name": "add"},
        "parallel_tool_calls": False, "stream": True, "max_thinking_tokens": 8, "min_thinking_waits": 1,
        "thinking_wait_string": "Hmm", "top_k": 5, "seed": 3, "stop": ["\n\n"],
        "include": ["message.output_text.logprobs"], "top_logprobs": 2, "model": "tiny-reasoner",
    }  # fmt: skip
    chat = chat_request(ResponsesRequest.model_validate(body), [{"role": "user", "content": QUESTION}])
    assert (chat.reasoning_effort, chat.max_completion_tokens, chat.temperature, chat.top_p) == ("low", 100, 0.5, 0.9)
    assert chat.response_format is not None and chat.response_format.type == "json_schema"
    schema = chat.response_format.json_schema
    assert schema is not None and (schema.name, schema.json_schema, schema.strict) == ("answer", SCHEMA, True)
    assert chat.tools is not None and chat.tools[0].function.model_dump(exclude_none=True) == {
        "name": "add", "description": "Add two integers.", "parameters": PARAMETERS, "strict": True
    }  # fmt: skip
    assert chat.tool_choice is not None and chat.tool_choice.function.name == "add"  # type: ignore[union-attr]
    assert (chat.parallel_tool_calls, chat.stream, chat.model) == (False, True, "tiny-reasoner")
    assert (chat.max_thinking_tokens, chat.min_thinking_waits, chat.thinking_wait_string) == (8, 1, "Hmm")
    assert (chat.top_k, chat.seed, chat.stop, chat.logprobs, chat.top_logprobs) == (5, 3, ["\n\n"], True, 2)
    json_object = ResponsesRequest.model_validate({"input": "x", "text": {"format": {"type": "json_object"}}})
    user = [{"role": "user", "content": QUESTION}]
    assert chat_request(json_object, user).response_format.type == "json_object"  # type: ignore[union-attr]


def test_input_items_become_chat_messages() -> None:
    items = [
        {"role": "developer", "content": "Use the tool."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is "},
                                                        {"type": "input_text", "text": "1 + 2?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "Add."}]},
        {"type": "function_call", "call_id": "call_1", "name": "add", "arguments": '{"a": 1, "b": 2}'},
        {"type": "function_call", "call_id": "call_2", "name": "add", "arguments": '{"a": 2, "b": 1}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "3"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "3"}]},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "3", "annotations": []}]},
        {"role": "user", "content": "Thanks."},
    ]  # fmt: skip
    calls = [{"id": f"call_{i}", "type": "function", "function": {"name": "add", "arguments": arguments}}
             for i, arguments in ((1, '{"a": 1, "b": 2}'), (2, '{"a": 2, "b": 1}'))]  # fmt: skip
    assert input_messages(ResponsesRequest.model_validate({"input": items}).input, []) == [
        {"role": "developer", "content": "Use the tool."},
        {"role": "user", "content": "What is 1 + 2?"},
        {"role": "assistant", "content": None, "reasoning_content": "Add.", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_1", "content": "3", "name": "add"},
        {"role": "tool", "tool_call_id": "call_2", "content": "3", "name": "add"},
        {"role": "assistant", "content": "3"},
        {"role": "user", "content": "Thanks."},
    ]


def test_instructions_are_a_system_message_first(client: TestClient, engine: FakeEngine) -> None:
    create(client, instructions="Be brief.", input=[{"role": "user", "content": QUESTION}])
    assert prompt(engine).startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n")


@pytest.mark.parametrize(
    ("fields", "maximum"),
    [({"max_thinking_tokens": 4}, 4), ({"reasoning": {"effort": "none"}}, 0), ({"reasoning_effort": "minimal"}, 128),
     ({"thinking": {"type": "enabled", "budget_tokens": 3}}, 3)],
    ids=["max_thinking_tokens", "reasoning.effort", "reasoning_effort", "thinking"],
)  # fmt: skip
def test_budgets_reach_the_engine_and_the_report_comes_back(
    client: TestClient, engine: FakeEngine, fields: dict[str, Any], maximum: int
) -> None:
    """The scripted engine does not obey the budget (the real one does: tests/clients); the plan carries it."""
    body = create(client, **fields)
    extra_args = engine.requests[-1][1].extra_args
    assert extra_args is not None and extra_args["thinking_budget"]["max_tokens"] == maximum
    assert set(body["thinking_budget"]) == {"thinking_tokens", "waits", "forced_end"}
    validated(body)


def test_min_thinking_waits_forces_a_wait(client: TestClient, engine: FakeEngine) -> None:
    body = create(client, min_thinking_waits=1)
    extra_args = engine.requests[-1][1].extra_args
    assert extra_args is not None and extra_args["thinking_budget"]["min_waits"] == 1
    assert body["thinking_budget"]["waits"] == 1


def test_the_token_cap_makes_an_incomplete_response(client: TestClient, engine: FakeEngine) -> None:
    response = validated(create(client, max_output_tokens=5))
    assert engine.requests[-1][1].max_tokens == 5
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert [item.status for item in response.output] == ["incomplete", "incomplete"]  # type: ignore[union-attr]


def test_a_call_is_a_function_call_item_and_its_output_goes_back(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + CALL
    response = validated(create(client, tools=[ADD]))
    reasoning, call = response.output
    assert reasoning.type == "reasoning" and call.type == "function_call"
    assert call.id is not None and call.id.startswith("fc_") and call.call_id.startswith("call_")
    assert call.name == "add" and json.loads(call.arguments) == {"a": 482, "b": 397} and call.status == "completed"
    engine.script = THINKING + "879"
    items = [{"role": "user", "content": QUESTION}, *(item.model_dump(exclude_none=True) for item in response.output),
             {"type": "function_call_output", "call_id": call.call_id, "output": "879"}]  # fmt: skip
    assert validated(create(client, tools=[ADD], input=items)).output_text == "879"
    assert prompt(engine).endswith(
        '<|im_start|>assistant\n<tool_call>{"name": "add", "arguments": {"a": 482, "b": 397}}</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n879\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n"
    )


def test_a_required_choice_and_text_format_are_grammars(client: TestClient, engine: FakeEngine) -> None:
    engine.script = THINKING + '{"a": 1, "b": 2}'
    response = validated(create(client, tools=[ADD], tool_choice={"type": "function", "name": "add"}))
    constraint = engine.requests[-1][1].constraint
    assert constraint is not None and (constraint.kind, constraint.value) == ("json", PARAMETERS)
    assert [item.type for item in response.output] == ["reasoning", "function_call"]
    engine.script = THINKING + '{"answer": 879}'
    text = {"format": {"type": "json_schema", "name": "answer", "schema": SCHEMA, "strict": True}}
    response = validated(create(client, text=text))
    constraint = engine.requests[-1][1].constraint
    assert constraint is not None and (constraint.kind, constraint.value) == ("json", SCHEMA)
    assert json.loads(response.output_text) == {"answer": 879}
    assert response.text is not None and response.text.format is not None and response.text.format.type == "json_schema"


def test_logprobs_are_the_answers_tokens(client: TestClient) -> None:
    response = validated(create(client, include=["message.output_text.logprobs"], top_logprobs=1))
    logprobs = response.output[1].content[0].logprobs  # type: ignore[union-attr]
    assert logprobs is not None and "".join(lp.token for lp in logprobs) == "46"
    assert all(len(lp.top_logprobs) == 1 for lp in logprobs)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"tools": [{"type": "function", "name": "f", "defer_loading": True}]}, "tools.0.defer_loading"),
        (
            {"tools": [{"type": "function", "name": "f", "allowed_callers": ["programmatic"]}]},
            "tools.0.allowed_callers",
        ),
        ({"tools": [{"type": "function", "name": "f", "namespace": "x"}]}, "tools.0.namespace"),
        ({"tools": [{"type": "function"}]}, "tools.0.name"),
        ({"tools": [ADD], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}}, "tool_choice"),
        ({"tool_choice": {"type": "function", "name": "add"}}, "tool_choice"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"context_management": [{"type": "compaction"}]}, "context_management"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"moderation": {"model": "omni-moderation-latest"}}, "moderation"),
        ({"service_tier": "flex"}, "service_tier"),
        ({"truncation": "auto"}, "truncation"),
        ({"include": ["everything"]}, "include"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"text": {"verbosity": "low"}}, "text.verbosity"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"reasoning": {"effort": "low"}, "reasoning_effort": "high"}, "reasoning.effort"),
        ({"reasoning": {"effort": "low"}, "max_thinking_tokens": 8}, "max_thinking_tokens,reasoning.effort"),
        ({"reasoning": {"context": "all_turns"}}, "reasoning.context"),
        ({"reasoning": {"mode": "pro"}}, "reasoning.mode"),
        ({"stream_options": {"include_obfuscation": False}}, "stream_options"),
        ({"stream": True, "stream_options": {"include_obfuscation": True}}, "stream_options.include_obfuscation"),
        ({"max_output_tokens": 5000}, "max_output_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "messages"),
        ({"max_tokens": 5}, "max_tokens"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"n": 2}, "n"),
        ({"top_k": "many"}, "top_k"),
        ({"audio": {"voice": "alloy"}}, "audio"),
        ({"input": []}, "input"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input.0.type"),
        ({"input": [{"type": "message", "content": "hi"}]}, "input.0.role"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}, "input.0.content.0"),
        ({"input": [{"type": "function_call", "name": "add", "arguments": "{}"}]}, "input.0.call_id"),
        ({"input": [{"type": "function_call_output", "call_id": "c"}]}, "input.0.output"),
        ({"input": [{"type": "reasoning", "summary": [], "encrypted_content": "x"}]}, "input.0.encrypted_content"),
        ({"previous_response_id": "resp_unknown"}, "previous_response_id"),
        ({"model": "gpt-5"}, "model"),
    ],
)
def test_refusals_name_the_field(client: TestClient, fields: dict[str, Any], param: str) -> None:
    response = client.post(RESPONSES, json={"input": QUESTION, **fields})
    assert response.status_code in (400, 404), response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert set(error) == {"message", "type", "param", "code"} and error["message"]


def test_accepted_fields_that_ask_for_nothing(client: TestClient) -> None:
    nothing = {"background": False, "service_tier": "auto", "truncation": "disabled", "store": True,
               "include": ["reasoning.encrypted_content", "file_search_call.results"], "max_tool_calls": 2,
               "prompt_cache_retention": "24h", "conversation": None, "context_management": [], "tool_choice": "none",
               "reasoning": {"summary": "detailed", "context": "auto", "mode": "standard"}, "n": 1}  # fmt: skip
    validated(create(client, **nothing))


# Every field of the SDK's ResponseCreateParams, with a value that is honoured (200) or refused (400/404 naming it).
SDK_FIELDS: dict[str, tuple[Any, int]] = {
    "background": (True, 400), "context_management": ([{"type": "compaction"}], 400), "conversation": ("c", 400),
    "include": (["message.output_text.logprobs"], 200), "input": (QUESTION, 200), "instructions": ("Be brief.", 200),
    "max_output_tokens": (64, 200), "max_tool_calls": (2, 200), "metadata": ({"k": "v"}, 200),
    "model": ("tiny-reasoner", 200), "moderation": ({"model": "omni-moderation-latest"}, 400),
    "parallel_tool_calls": (False, 200), "previous_response_id": ("resp_unknown", 404), "prompt": ({"id": "p"}, 400),
    "prompt_cache_key": ("k", 200), "prompt_cache_options": ({"mode": "implicit"}, 200),
    "prompt_cache_retention": ("24h", 200), "reasoning": ({"effort": "low", "summary": "auto"}, 200),
    "safety_identifier": ("s", 200), "service_tier": ("flex", 400), "store": (False, 200),
    "stream": (False, 200), "stream_options": ({"include_obfuscation": False}, 400), "temperature": (0.5, 200),
    "text": ({"format": {"type": "json_object"}}, 200), "tool_choice": ("none", 200), "tools": ([ADD], 200),
    "top_logprobs": (2, 400), "top_p": (0.5, 200), "truncation": ("auto", 400), "user": ("u", 200),
}  # fmt: skip


def test_every_field_of_the_sdks_request_is_honoured_or_refused_by_name(client: TestClient) -> None:
    from openai.types.responses.response_create_params import ResponseCreateParamsStreaming

    sdk = ResponseCreateParamsStreaming.__required_keys__ | ResponseCreateParamsStreaming.__optional_keys__
    assert set(SDK_FIELDS) == sdk and sdk <= set(ResponsesRequest.model_fields)
    for name, (value, status) in SDK_FIELDS.items():
        response = client.post(RESPONSES, json={"input": QUESTION, name: value})
        assert response.status_code == status, (name, response.text)
        if status != 200:
            assert response.json()["error"]["param"] == name, (name, response.text)
        else:
            validated(response.json())
