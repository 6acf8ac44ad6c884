"""Client matrix: what real client libraries show of a chat reply, per ``--reasoning-field`` mode.

The server sends the thinking in ``reasoning_content``, ``reasoning`` or both (of ``message`` and of stream
``delta``s). Each test asks one client, as its users do, and checks what the user sees: the answer alone in
the answer, and the thinking exactly where :data:`SEEN` says, no more (``both`` shows it twice in
openai-agents' streamed runs: a reasoning summary and a reasoning text). ``SEEN`` is what was observed with
the versions pinned in ``pyproject.toml``; :data:`DEFAULT` is the mode the server takes without the flag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import litellm
import openai
import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    Runner,
    RunResult,
    RunResultStreaming,
)
from langchain_deepseek import ChatDeepSeek
from langchain_openai import ChatOpenAI

from bench.server_process import running_server

QUESTION = "What is 15 + 27?"
MESSAGES = [{"role": "user", "content": QUESTION}]
DEFAULT = "reasoning_content"  # the mode without --reasoning-field
SEEN: dict[str, dict[str, tuple[str, ...]]] = {  # mode -> client view -> where it shows the thinking
    "reasoning_content": {
        "openai": ("reasoning_content",),  # message.model_extra / delta extras
        "agents": ("summary",),  # ReasoningItem.raw_item.summary / .content (reasoning text)
        "agents_streamed": ("summary",),
        "litellm": ("reasoning_content",),  # message / delta .reasoning_content
        "deepseek": ("reasoning_content",),  # AIMessage.additional_kwargs
        "chatopenai": (),  # AIMessage.additional_kwargs
    },
    "reasoning": {
        "openai": ("reasoning",),
        "agents": ("text",),
        "agents_streamed": ("text",),
        "litellm": ("reasoning_content",),  # litellm copies `reasoning` into reasoning_content
        "deepseek": ("reasoning_content",),  # ChatDeepSeek falls back to `reasoning`
        "chatopenai": (),
    },
    "both": {
        "openai": ("reasoning", "reasoning_content"),
        "agents": ("summary",),  # Runner.run keeps reasoning_content when both come
        "agents_streamed": ("summary", "text"),  # the thinking twice
        "litellm": ("reasoning_content",),
        "deepseek": ("reasoning_content",),
        "chatopenai": (),
    },
}


@dataclass(frozen=True)
class Server:
    url: str
    mode: str
    thinking: str  # the greedy reply, read from the raw JSON
    answer: str

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


# The default, and `both`, the mode that shows why it is not the default (openai-agents shows the thinking twice).
# `reasoning_content` is the default's value, and `reasoning` differs only in the field's name: the fast test
# tests/api/test_thinking_and_answer.py covers both, with a server start saved each (CI time).
@pytest.fixture(scope="module", params=[None, "both"], ids=lambda m: m or "default")
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    mode = request.param
    with running_server(*(["--reasoning-field", mode] if mode else [])) as url:
        body = {"model": "tiny-reasoner", "messages": MESSAGES, "temperature": 0}
        message = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120).json()["choices"][0]["message"]
        thinking = message.get("reasoning_content") or message.get("reasoning")
        assert thinking and message["content"], message
        yield Server(url, mode or DEFAULT, thinking, message["content"])


def check(server: Server, view: str, answer: str | None, places: dict[str, str | None]) -> None:
    """The answer is the answer alone; the thinking is in exactly the places ``SEEN`` lists, whole."""
    assert answer == server.answer
    assert "</think>" not in answer and server.thinking not in answer
    shown = {place: text for place, text in places.items() if text}
    assert shown == dict.fromkeys(SEEN[server.mode][view], server.thinking)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_openai_sdk(server: Server, stream: bool) -> None:
    sdk = openai.OpenAI(base_url=server.v1, api_key="unused", max_retries=0, timeout=120)
    reply = sdk.chat.completions.create(model="tiny-reasoner", messages=MESSAGES, temperature=0, stream=stream)  # type: ignore[call-overload]
    if not stream:
        message = reply.choices[0].message
        return check(server, "openai", message.content, dict(message.model_extra or {}))
    places: dict[str, str] = {}
    content = ""
    for chunk in reply:
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for field, text in (choice.delta.model_extra or {}).items():
                places[field] = places.get(field, "") + (text or "")
    check(server, "openai", content, places)


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
def test_openai_agents(server: Server, streamed: bool) -> None:
    client = openai.AsyncOpenAI(base_url=server.v1, api_key="unused", max_retries=0, timeout=120)
    model = OpenAIChatCompletionsModel(model="tiny-reasoner", openai_client=client)
    agent = Agent(name="assistant", model=model, model_settings=ModelSettings(temperature=0))

    async def run() -> RunResult | RunResultStreaming:
        if not streamed:
            return await Runner.run(agent, QUESTION)
        result = Runner.run_streamed(agent, QUESTION)
        async for _ in result.stream_events():
            pass
        return result

    result = asyncio.run(run())
    [reasoning] = [item.raw_item for item in result.new_items if item.type == "reasoning_item"]
    places = {
        "summary": "".join(part.text for part in reasoning.summary),
        "text": "".join(part.text for part in reasoning.content or []),
    }
    check(server, "agents_streamed" if streamed else "agents", result.final_output, places)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("provider", ["openai", "hosted_vllm"])
def test_litellm(server: Server, provider: str, stream: bool) -> None:
    reply = litellm.completion(
        model=f"{provider}/tiny-reasoner",
        api_base=server.v1,
        api_key="unused",
        messages=MESSAGES,
        temperature=0,
        stream=stream,
    )
    if not stream:
        message = reply.choices[0].message
        return check(server, "litellm", message.content, {"reasoning_content": message.reasoning_content})
    reasoning_content = content = ""
    for chunk in reply:
        delta = chunk.choices[0].delta
        reasoning_content += getattr(delta, "reasoning_content", None) or ""
        content += delta.content or ""
    check(server, "litellm", content, {"reasoning_content": reasoning_content})


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
@pytest.mark.parametrize("view", ["deepseek", "chatopenai"])
def test_langchain(server: Server, view: str, stream: bool) -> None:
    common = {"model": "tiny-reasoner", "api_key": "unused", "temperature": 0, "max_retries": 0}
    if view == "deepseek":
        llm = ChatDeepSeek(api_base=server.v1, **common)
    else:
        llm = ChatOpenAI(base_url=server.v1, **common)
    if stream:
        message = None
        for chunk in llm.stream(MESSAGES):
            message = chunk if message is None else message + chunk
    else:
        message = llm.invoke(MESSAGES)
    assert message is not None and isinstance(message.content, str)
    places = {key: value for key, value in message.additional_kwargs.items() if isinstance(value, str)}
    check(server, view, message.content, places)
