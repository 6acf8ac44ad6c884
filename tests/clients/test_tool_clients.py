"""Tool calls and structured outputs through real client libraries, end to end on the shipped model.

The shipped model adds numbers. Given an ``add(a, b)`` tool it thinks, then calls the tool with the two
numbers; given the tool's result it answers that result; asked for JSON it answers ``{"answer": N}``. N is
what it would answer plainly: the exact sum after a careful pass, which one forced ``Wait``
(``min_thinking_waits: 1``) brings, or its quick guess (``quick_guess``, 900 here) when the thinking ends
before any careful pass (``max_thinking_tokens: 4``, or greedy decoding left alone). So the structured
outputs are asked with a budget, and the tool calls, whose arguments do not depend on the thinking, with
either budget. Each test is one client library as its users call it: the openai SDK (create, stream,
``parse``, ``stream`` helper), LangChain's ``ChatOpenAI``, openai-agents on chat completions, instructor
and litellm.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import instructor
import litellm
import openai
import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIProvider,
    RunConfig,
    Runner,
    RunResult,
    function_tool,
)
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.clients.served import ADD_PARAMETERS, KEY

MODEL = "tiny-reasoner"
A, B = 482, 397
# The tiny model may miscopy a digit into a call or slip in its careful pass (README "The shipped tiny model"):
# the tests check what the clients must do with a call and a structured answer, not the model's arithmetic.


def two_ints(arguments: Any) -> bool:
    return set(arguments) == {"a", "b"} and all(isinstance(v, int) for v in arguments.values())


QUESTION = f"What is {A} + {B}?"
USER = [{"role": "user", "content": QUESTION}]
WAITED = {"min_thinking_waits": 1}  # one forced "Wait" where the model would end its thinking
CAPPED = {"max_thinking_tokens": 4}  # the thinking ends after 4 tokens
BUDGETS = [pytest.param(CAPPED, id="capped"), pytest.param(WAITED, id="waited")]
ADD = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": ADD_PARAMETERS,
    },
}


class Answer(BaseModel):
    answer: int


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def check_budget(extra: dict[str, int], report: dict[str, Any] | None, reasoning: str) -> None:
    """The budget was applied: a forced end after 4 tokens, or one forced Wait (in the thinking shown)."""
    assert report is not None, "no thinking_budget report"
    if extra is CAPPED:
        assert (report["thinking_tokens"], report["waits"], report["forced_end"]) == (4, 0, True), report
    else:
        assert report["waits"] == 1 and "Wait" in reasoning, (report, reasoning)


def extra_field(item: Any, name: str) -> Any:
    return (item.model_extra or {}).get(name)


def tool_result(call_id: str, arguments: str) -> dict[str, str]:
    """The tool message a caller sends back: the sum of the arguments the model chose."""
    return {"role": "tool", "tool_call_id": call_id, "content": str(add(**json.loads(arguments)))}


def final_answer(sdk: openai.OpenAI, messages: list[Any]) -> str:
    reply = sdk.chat.completions.create(model=MODEL, messages=messages, tools=[ADD], temperature=0)  # type: ignore[arg-type]
    choice = reply.choices[0]
    assert choice.finish_reason == "stop" and not choice.message.tool_calls, choice
    assert choice.message.content is not None
    return choice.message.content


@pytest.mark.parametrize("extra", BUDGETS)
def test_openai_sdk_tool_round_trip(sdk: openai.OpenAI, extra: dict[str, int]) -> None:
    reply = sdk.chat.completions.create(model=MODEL, messages=USER, tools=[ADD], temperature=0, extra_body=extra)  # type: ignore[arg-type]
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    [call] = choice.message.tool_calls or []
    assert call.id and call.type == "function" and call.function.name == "add"
    assert two_ints(json.loads(call.function.arguments))
    check_budget(extra, extra_field(choice, "thinking_budget"), extra_field(choice.message, "reasoning_content"))
    # As OpenAI's guide does: the reply's message itself (with its reasoning_content) goes back into the chat.
    messages = [*USER, choice.message, tool_result(call.id, call.function.arguments)]
    assert final_answer(sdk, messages).strip().isdigit()


@pytest.mark.parametrize("extra", BUDGETS)
def test_openai_sdk_streamed_tool_round_trip(sdk: openai.OpenAI, extra: dict[str, int]) -> None:
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=USER,  # type: ignore[arg-type]
        tools=[ADD],  # type: ignore[list-item]
        temperature=0,
        extra_body=extra,
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    reasoning, content, finish, report, usage = "", "", None, None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            reasoning += extra_field(choice.delta, "reasoning_content") or ""
            content += choice.delta.content or ""
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                call["name"] += (delta.function and delta.function.name) or ""
                call["arguments"] += (delta.function and delta.function.arguments) or ""
            finish = choice.finish_reason or finish
            report = extra_field(choice, "thinking_budget") or report
    assert finish == "tool_calls" and list(calls) == [0], (finish, calls)
    call = calls[0]
    assert call["id"] and call["name"] == "add" and two_ints(json.loads(call["arguments"])), call
    assert not content.strip(), content  # the call is not also shown as text
    assert usage is not None and usage.completion_tokens > 0
    check_budget(extra, report, reasoning)
    function = {"name": call["name"], "arguments": call["arguments"]}
    tool_calls = [{"id": call["id"], "type": "function", "function": function}]
    assistant = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    assert final_answer(sdk, [*USER, assistant, tool_result(call["id"], call["arguments"])]).strip().isdigit()


# A thinking capped before its careful pass answers the quick guess, in JSON as in plain text.
@pytest.mark.parametrize("extra", BUDGETS)
def test_openai_sdk_parse(sdk: openai.OpenAI, extra: dict[str, int]) -> None:
    reply = sdk.chat.completions.parse(
        model=MODEL,
        messages=USER,  # type: ignore[arg-type]
        response_format=Answer,
        temperature=0,
        extra_body=extra,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "stop" and isinstance(choice.message.parsed, Answer), choice
    check_budget(extra, extra_field(choice, "thinking_budget"), extra_field(choice.message, "reasoning_content"))


def test_openai_sdk_stream_helper(sdk: openai.OpenAI) -> None:
    with sdk.chat.completions.stream(
        model=MODEL,
        messages=USER,  # type: ignore[arg-type]
        response_format=Answer,
        temperature=0,
        extra_body=WAITED,
    ) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Answer), final


def chat_openai(v1: str, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(base_url=v1, api_key=KEY, model=MODEL, temperature=0, max_retries=0, **options)  # type: ignore[arg-type]


def test_langchain_bind_tools(v1: str) -> None:
    message = chat_openai(v1).bind_tools([add]).invoke(QUESTION)
    [call] = message.tool_calls  # type: ignore[attr-defined]
    assert call["name"] == "add" and two_ints(call["args"]) and call["id"], message


@pytest.mark.parametrize("method", [None, "function_calling", "json_mode"], ids=lambda m: m or "default")
def test_langchain_with_structured_output(v1: str, method: str | None) -> None:
    llm = chat_openai(v1, extra_body=WAITED)
    structured = llm.with_structured_output(Answer, **({"method": method} if method else {}))  # type: ignore[arg-type]
    assert isinstance(structured.invoke(QUESTION), Answer)


def agents_model(v1: str) -> OpenAIChatCompletionsModel:
    client = openai.AsyncOpenAI(base_url=v1, api_key=KEY, max_retries=0, timeout=120)
    return OpenAIChatCompletionsModel(model=MODEL, openai_client=client)


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_openai_agents_function_tool(v1: str, api: str, streamed: bool) -> None:
    """On chat completions and on the SDK's default model, the Responses API (``/v1/responses``)."""
    called: list[tuple[int, int]] = []

    @function_tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        called.append((a, b))
        return a + b

    client = openai.AsyncOpenAI(base_url=v1, api_key=KEY, max_retries=0, timeout=120)
    config = RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=api == "responses"))
    agent = Agent(name="assistant", model=MODEL, tools=[add], model_settings=ModelSettings(temperature=0))

    async def run() -> Any:
        if not streamed:
            return await Runner.run(agent, QUESTION, run_config=config)
        result = Runner.run_streamed(agent, QUESTION, run_config=config)
        async for _ in result.stream_events():
            pass
        return result

    result = asyncio.run(run())
    assert len(called) == 1 and all(isinstance(v, int) for v in called[0])
    kinds = [item.type for item in result.new_items if item.type != "reasoning_item"]
    assert kinds == ["tool_call_item", "tool_call_output_item", "message_output_item"], kinds
    assert any(ch.isdigit() for ch in result.final_output)
    if api == "responses":  # the thinking, as a reasoning item
        assert any(item.type == "reasoning_item" for item in result.new_items)


def test_openai_agents_output_type(v1: str) -> None:
    settings = ModelSettings(temperature=0, extra_body=WAITED)
    agent = Agent(name="assistant", model=agents_model(v1), output_type=Answer, model_settings=settings)
    result: RunResult = Runner.run_sync(agent, QUESTION)
    assert isinstance(result.final_output, Answer)


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON_SCHEMA], ids=lambda m: m.name)
def test_instructor(sdk: openai.OpenAI, mode: instructor.Mode) -> None:
    client = instructor.from_openai(sdk, mode=mode)
    answer = client.chat.completions.create(
        model=MODEL,
        messages=USER,  # type: ignore[arg-type]
        response_model=Answer,
        temperature=0,
        max_retries=0,  # one attempt: a failure shows as one
        extra_body=WAITED,
    )
    assert isinstance(answer, Answer) and isinstance(answer.answer, int)  # instructor's own subclass of Answer


@pytest.mark.parametrize("provider", ["openai", "hosted_vllm"])
def test_litellm_tool_call(v1: str, provider: str) -> None:
    reply = litellm.completion(
        model=f"{provider}/{MODEL}", api_base=v1, api_key=KEY, messages=USER, tools=[ADD], temperature=0
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    [call] = choice.message.tool_calls
    assert call.id and call.function.name == "add" and two_ints(json.loads(call.function.arguments))
