"""The Responses API through real client libraries, end to end on the shipped model.

The official ``openai`` SDK (``responses.create``, ``responses.stream``, ``responses.parse``) with
``reasoning={"effort": …}`` and with our budgets in ``extra_body``: ``max_thinking_tokens`` cuts the thinking,
``min_thinking_waits`` makes a forced ``Wait`` appear in the reasoning item; a function-tool round trip (by
items, and by ``previous_response_id``); ``text.format`` json_schema. Then LangChain's ``ChatOpenAI`` with
``reasoning=``, which switches to the Responses API by itself (openai-agents on its default Responses
model: ``test_tool_clients.py``), each completing one task. As in ``test_tool_clients.py``, the shipped
model adds numbers and may slip a digit: the tests check what the clients must get, not its arithmetic.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.clients.served import ADD_PARAMETERS, KEY

MODEL = "tiny-reasoner"
QUESTION = "What is 482 + 397?"
WAITED = {"min_thinking_waits": 1}  # one forced "Wait" where the model would end its thinking
CAPPED = {"max_thinking_tokens": 8}  # the thinking ends after 8 tokens
ADD = {
    "type": "function",
    "name": "add",
    "description": "Add two integers.",
    "parameters": ADD_PARAMETERS,
    "strict": True,
}


class Answer(BaseModel):
    answer: int


def report(response: Any) -> dict[str, Any]:
    budget = (response.model_extra or {}).get("thinking_budget")
    assert budget is not None, "no thinking_budget report"
    return dict(budget)


def thinking(response: Any) -> str:
    [item] = [item for item in response.output if item.type == "reasoning"]
    assert item.summary == []
    return "".join(part.text for part in item.content or [])


def two_ints(arguments: str) -> bool:
    parsed = json.loads(arguments)
    return set(parsed) == {"a", "b"} and all(isinstance(v, int) for v in parsed.values())


def test_create_with_reasoning_effort(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(model=MODEL, input=QUESTION, reasoning={"effort": "low"}, temperature=0)
    assert response.status == "completed" and response.id.startswith("resp_")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert thinking(response) and any(ch.isdigit() for ch in response.output_text)
    assert response.usage is not None and response.usage.output_tokens_details.reasoning_tokens > 0
    assert report(response)["forced_end"] is False  # 512 tokens (effort "low") is more than it thinks
    assert response.reasoning is not None and response.reasoning.effort == "low"


def test_create_with_a_maximum_cuts_the_thinking(sdk: openai.OpenAI) -> None:
    plain = sdk.responses.create(model=MODEL, input=QUESTION, temperature=0)
    capped = sdk.responses.create(model=MODEL, input=QUESTION, temperature=0, extra_body=CAPPED)
    assert report(capped) == {"thinking_tokens": 8, "waits": 0, "forced_end": True}
    assert len(thinking(capped)) < len(thinking(plain))
    assert capped.usage is not None and capped.usage.output_tokens_details.reasoning_tokens == 8


def test_create_with_a_forced_wait(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(model=MODEL, input=QUESTION, temperature=0, extra_body=WAITED)
    assert report(response)["waits"] == 1 and "Wait" in thinking(response)


@pytest.mark.parametrize("extra", [{"reasoning": {"effort": "low"}}, {"extra_body": WAITED}], ids=["effort", "waited"])
def test_stream_helper(sdk: openai.OpenAI, extra: dict[str, Any]) -> None:
    deltas: list[str] = []
    with sdk.responses.stream(model=MODEL, input=QUESTION, temperature=0, **extra) as stream:
        for event in stream:
            if event.type == "response.reasoning_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == thinking(final) and final.output_text
    if "extra_body" in extra:
        assert "Wait" in thinking(final) and report(final)["waits"] == 1


@pytest.mark.parametrize("extra", [CAPPED, WAITED], ids=["capped", "waited"])
def test_function_tool_round_trip(sdk: openai.OpenAI, extra: dict[str, int]) -> None:
    first = sdk.responses.create(model=MODEL, input=QUESTION, tools=[ADD], temperature=0, extra_body=extra)  # type: ignore[list-item]
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1, first.output
    [call] = calls
    assert call.name == "add" and call.call_id.startswith("call_") and two_ints(call.arguments)
    result = {
        "type": "function_call_output",
        "call_id": call.call_id,
        "output": str(sum(json.loads(call.arguments).values())),
    }
    # The whole conversation as items (stateless), then the same turn continued from the stored response.
    by_items = sdk.responses.create(
        model=MODEL,
        input=[{"role": "user", "content": QUESTION}, *first.output, result],
        tools=[ADD],
        temperature=0,  # type: ignore[list-item]
    )
    by_id = sdk.responses.create(
        model=MODEL,
        input=[result],
        previous_response_id=first.id,
        tools=[ADD],
        temperature=0,  # type: ignore[list-item]
    )
    for final in (by_items, by_id):
        assert final.output[-1].type == "message" and final.output_text.strip().isdigit(), final.output
    assert by_id.previous_response_id == first.id
    assert sdk.responses.retrieve(first.id).output[-1].id == call.id


def test_streamed_function_call(sdk: openai.OpenAI) -> None:
    with sdk.responses.stream(model=MODEL, input=QUESTION, tools=[ADD], temperature=0, extra_body=CAPPED) as stream:  # type: ignore[list-item]
        arguments = [event.delta for event in stream if event.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    call = final.output[-1]
    assert call.type == "function_call" and arguments == [call.arguments] and two_ints(call.arguments)


def test_text_format_json_schema(sdk: openai.OpenAI) -> None:
    parsed = sdk.responses.parse(model=MODEL, input=QUESTION, text_format=Answer, temperature=0, extra_body=WAITED)
    assert isinstance(parsed.output_parsed, Answer) and report(parsed)["waits"] == 1
    schema = {"type": "json_schema", "name": "answer", "schema": Answer.model_json_schema(), "strict": True}
    plain = sdk.responses.create(model=MODEL, input=QUESTION, text={"format": schema}, temperature=0, extra_body=CAPPED)  # type: ignore[typeddict-item]
    assert set(json.loads(plain.output_text)) == {"answer"}


def test_langchain_chat_openai_with_reasoning(v1: str) -> None:
    llm = ChatOpenAI(base_url=v1, api_key=KEY, model=MODEL, temperature=0, max_retries=0, reasoning={"effort": "low"})  # type: ignore[arg-type]
    message = llm.invoke(QUESTION)
    assert message.response_metadata["id"].startswith("resp_")  # it went through /v1/responses
    assert any(ch.isdigit() for ch in message.text)
    assert message.usage_metadata is not None  # type: ignore[attr-defined]
    assert message.usage_metadata["output_token_details"]["reasoning"] > 0  # type: ignore[attr-defined]


def test_langchain_streams_through_responses(v1: str) -> None:
    llm = ChatOpenAI(base_url=v1, api_key=KEY, model=MODEL, temperature=0, max_retries=0, reasoning={"effort": "low"})  # type: ignore[arg-type]
    text = "".join(chunk.text for chunk in llm.stream(QUESTION))
    assert any(ch.isdigit() for ch in text), text
