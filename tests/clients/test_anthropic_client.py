"""Anthropic's own SDK against the real server on the shipped model (issue 16's acceptance for ``/v1/messages``).

``messages.create`` and ``messages.stream`` with ``thinking.budget_tokens`` (the thinking never exceeds it,
counted with the shipped tokenizer and by the server's budget report), with ``min_thinking_waits`` in
``extra_body`` (a forced ``Wait`` appears in the thinking block), a ``tool_use`` round trip (created and
streamed), ``count_tokens``, and an error the SDK raises from Anthropic's error shape. The server runs with an
API key, which the SDK sends as ``x-api-key``. The shipped model adds numbers: given an ``add(a, b)`` tool it
thinks, then calls it; given the result it answers it. What is checked is structure, not arithmetic.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from transformers import AutoTokenizer

from server.ops.settings import SHIPPED_MODEL
from tests.clients.served import ADD_PARAMETERS, KEY

MODEL = "tiny-reasoner"
USER: list[Any] = [{"role": "user", "content": "What is 482 + 397?"}]
GREEDY = {"temperature": 0}  # Anthropic's SDK no longer has the argument: sent as extra_body, as for any field
ADD = {
    "name": "add",
    "description": "Add two integers.",
    "input_schema": ADD_PARAMETERS,
}


@pytest.fixture(scope="module")
def client(served: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=served, api_key=KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(SHIPPED_MODEL)


def blocks(message: Any, kind: str) -> list[Any]:
    return [block for block in message.content if block.type == kind]


def thinking_of(message: Any) -> str:
    [block] = blocks(message, "thinking")
    assert block.signature, block  # opaque, but there
    return str(block.thinking)


def report(message: Any) -> dict[str, Any]:
    budget: dict[str, Any] = (message.model_extra or {})["thinking_budget"]
    return budget


@pytest.mark.parametrize("budget", [4, 12])
def test_create_keeps_the_thinking_within_budget_tokens(
    client: anthropic.Anthropic, tokenizer: Any, budget: int
) -> None:
    thinking = {"type": "enabled", "budget_tokens": budget}
    message = client.messages.create(model=MODEL, max_tokens=200, messages=USER, thinking=thinking, extra_body=GREEDY)  # type: ignore[arg-type]
    assert message.id.startswith("msg_") and message.stop_reason == "end_turn", message
    text = thinking_of(message)
    assert len(tokenizer.encode(text, add_special_tokens=False)) <= budget, text
    assert report(message)["thinking_tokens"] <= budget and report(message)["forced_end"], report(message)
    assert message.content[-1].type == "text" and message.content[-1].text.strip()
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > budget


def test_stream_keeps_the_thinking_within_budget_tokens(client: anthropic.Anthropic, tokenizer: Any) -> None:
    kinds: list[str] = []
    thinking = {"type": "enabled", "budget_tokens": 6}
    with client.messages.stream(
        model=MODEL,
        max_tokens=200,
        messages=USER,
        thinking=thinking,
        extra_body=GREEDY,  # type: ignore[arg-type]
    ) as stream:
        for event in stream:
            kinds.append(event.type)
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "thinking" in kinds and "text" in kinds
    text = thinking_of(final)
    assert 0 < len(tokenizer.encode(text, add_special_tokens=False)) <= 6, text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 6


@pytest.mark.parametrize("streamed", [False, True], ids=["create", "stream"])
def test_min_thinking_waits_forces_a_wait_into_the_thinking(client: anthropic.Anthropic, streamed: bool) -> None:
    extra = {**GREEDY, "min_thinking_waits": 1}
    if streamed:
        with client.messages.stream(model=MODEL, max_tokens=400, messages=USER, extra_body=extra) as stream:
            message = stream.get_final_message()
    else:
        message = client.messages.create(model=MODEL, max_tokens=400, messages=USER, extra_body=extra)
        assert report(message)["waits"] == 1, report(message)
    assert "Wait" in thinking_of(message), message.content


def two_ints(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"a", "b"} and all(isinstance(v, int) for v in value.values())


@pytest.mark.parametrize("streamed", [False, True], ids=["create", "stream"])
def test_tool_use_round_trip(client: anthropic.Anthropic, streamed: bool) -> None:
    ask: dict[str, Any] = {"model": MODEL, "max_tokens": 300, "tools": [ADD], "extra_body": GREEDY}
    thinking = {"type": "enabled", "budget_tokens": 4}  # the call does not depend on the thinking
    if streamed:
        with client.messages.stream(messages=USER, thinking=thinking, **ask) as stream:
            first = stream.get_final_message()
    else:
        first = client.messages.create(messages=USER, thinking=thinking, **ask)
    assert first.stop_reason == "tool_use", first
    [use] = blocks(first, "tool_use")
    assert use.id.startswith("toolu_") and use.name == "add" and two_ints(use.input), use
    assert (first.content[0].type, first.content[-1].type) == ("thinking", "tool_use")  # thinking first, call last
    result = {"type": "tool_result", "tool_use_id": use.id, "content": str(sum(use.input.values()))}
    # As Anthropic's guide does: the reply's content itself (its thinking block and signature too) goes back.
    history = [*USER, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}]
    final = client.messages.create(messages=history, **ask)
    assert final.stop_reason == "end_turn" and not blocks(final, "tool_use"), final
    assert final.content[-1].type == "text" and final.content[-1].text.strip().isdigit(), final.content


def test_count_tokens_matches_the_message(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model=MODEL, messages=USER, tools=[ADD])  # type: ignore[list-item]
    message = client.messages.create(model=MODEL, max_tokens=50, messages=USER, tools=[ADD], extra_body=GREEDY)  # type: ignore[list-item]
    assert counted.input_tokens == message.usage.input_tokens > 0


def test_errors_come_back_in_anthropics_shape(client: anthropic.Anthropic) -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": [image]}])  # type: ignore[list-item]
    assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "messages.0.content.0" in refused.value.message
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="claude-sonnet-4-5", max_tokens=50, messages=USER)
    wrong = anthropic.Anthropic(base_url=str(client.base_url), api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        wrong.messages.create(model=MODEL, max_tokens=50, messages=USER)
