"""Logprobs as `vllm serve` gives them, over the scripted engine: ``prompt_logprobs``, ``echo`` with
``logprobs`` (and ``max_tokens: 0``), ``logprobs: 0`` / ``top_logprobs: 0`` and ``return_tokens_as_token_ids``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.ops.settings import Settings
from tests.fakes import PROMPT_FAVOURITE, FakeEngine

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
USER = [{"role": "user", "content": "What is 12 + 34?"}]
PROMPT = "12+34"


def post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def streamed(client: TestClient, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", path, json={**body, "stream": True}) as response:
        assert response.status_code == 200
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]


def check_vllm_shape(scored: list[Any], prompt: list[int], k: int) -> None:
    """vLLM's: null first, then per token id (a JSON string) its logprob, rank and text; the prompt's own among them."""
    assert scored[0] is None and len(scored) == len(prompt)
    for token, position in zip(prompt[1:], scored[1:], strict=True):
        assert str(token) in position and 1 <= len(position) <= k + 1
        assert all(set(entry) == {"logprob", "rank", "decoded_token"} for entry in position.values())


def test_completions_carry_prompt_logprobs_on_each_choice(client: TestClient, engine: FakeEngine) -> None:
    body = post(client, COMPLETIONS, {"prompt": [PROMPT, "5+6"], "max_tokens": 2, "n": 2, "prompt_logprobs": 1})
    prompts = [engine.tokenizer.encode(text) for text in (PROMPT, "5+6")]
    assert [params.prompt_logprobs for _, params in engine.requests] == [1, 1]
    for choice in body["choices"]:
        check_vllm_shape(choice["prompt_logprobs"], prompts[choice["index"] // 2], 1)
    favourite = body["choices"][0]["prompt_logprobs"][1]["93"]
    assert favourite == {"logprob": -0.25, "rank": 1, "decoded_token": PROMPT_FAVOURITE}
    plain = post(client, COMPLETIONS, {"prompt": PROMPT, "max_tokens": 2})
    assert "prompt_logprobs" not in plain["choices"][0] and engine.requests[-1][1].prompt_logprobs is None


def test_chat_carries_them_on_the_response(client: TestClient, engine: FakeEngine) -> None:
    body = post(client, CHAT, {"messages": USER, "max_tokens": 2, "prompt_logprobs": 0})
    prompt, params = engine.requests[-1]
    assert params.prompt_logprobs == 0
    check_vllm_shape(body["prompt_logprobs"], prompt, 0)
    assert all(len(position) == 1 for position in body["prompt_logprobs"][1:])  # 0: the prompt's own token only
    assert "prompt_logprobs" not in post(client, CHAT, {"messages": USER, "max_tokens": 2})


@pytest.mark.parametrize("path", [CHAT, COMPLETIONS])
@pytest.mark.parametrize(("fields", "status"), [({"prompt_logprobs": 1, "stream": True}, 400),
                                                ({"prompt_logprobs": -1, "stream": True}, 400),
                                                ({"prompt_logprobs": 0, "stream": True}, 200),
                                                ({"prompt_logprobs": -2}, 400),
                                                ({"prompt_logprobs": "many"}, 400)])  # fmt: skip
def test_refused_as_vllm_refuses_them(client: TestClient, path: str, fields: dict[str, Any], status: int) -> None:
    body = {"messages": USER} if path == CHAT else {"prompt": PROMPT}
    response = client.post(path, json={**body, "max_tokens": 2, **fields})
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"]["param"] == "prompt_logprobs"


def test_echo_with_logprobs_scores_the_prompt_first(client: TestClient, engine: FakeEngine) -> None:
    body = post(client, COMPLETIONS, {"prompt": PROMPT, "max_tokens": 3, "echo": True, "logprobs": 1})
    prompt, params = engine.requests[-1]
    assert params.prompt_logprobs == 1  # echo asks for them, as many candidates as the completion's
    choice = body["choices"][0]
    logprobs, completion = choice["logprobs"], choice["text"].removeprefix(PROMPT)
    assert choice["text"].startswith(PROMPT) and completion == "Qui"
    assert "".join(logprobs["tokens"]) == PROMPT + completion
    assert logprobs["token_logprobs"][0] is None and logprobs["top_logprobs"][0] is None
    assert logprobs["token_logprobs"][1 : len(prompt)] == [-1.0] * (len(prompt) - 1)
    # The prompt's token first, then the k most likely (vLLM's order): "2" at -1.0, the fake's favourite at -0.25.
    assert list(logprobs["top_logprobs"][1].items()) == [("2", -1.0), (PROMPT_FAVOURITE, -0.25)]
    assert logprobs["token_logprobs"][len(prompt) :] == [-0.5] * 3
    assert logprobs["text_offset"] == [sum(len(t) for t in logprobs["tokens"][:i]) for i in range(len(prompt) + 3)]
    check_vllm_shape(choice["prompt_logprobs"], prompt, 1)  # vLLM returns them on the choice too


def test_echo_alone_with_max_tokens_0(client: TestClient, engine: FakeEngine) -> None:
    body = post(client, COMPLETIONS, {"prompt": PROMPT, "max_tokens": 0, "echo": True, "logprobs": 0})
    choice, params = body["choices"][0], engine.requests[-1][1]
    assert params.max_tokens == 1  # vLLM decodes one token and shows none
    assert choice["text"] == PROMPT and "".join(choice["logprobs"]["tokens"]) == PROMPT
    assert choice["logprobs"]["token_logprobs"] == [None, -1.0, -1.0, -1.0, -1.0]
    chunks = streamed(client, COMPLETIONS, {"prompt": PROMPT, "max_tokens": 0, "echo": True, "logprobs": 0})
    assert "".join(c["choices"][0]["text"] for c in chunks) == PROMPT
    refused = client.post(COMPLETIONS, json={"prompt": PROMPT, "max_tokens": 0})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "max_tokens"


def test_a_streamed_echo_goes_with_each_choices_first_chunk(client: TestClient) -> None:
    body = {"prompt": PROMPT, "max_tokens": 4, "echo": True, "logprobs": 1, "n": 2, "temperature": 1}
    whole = post(client, COMPLETIONS, body)["choices"][0]["logprobs"]
    chunks = streamed(client, COMPLETIONS, body)
    for index in (0, 1):
        mine = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["index"] == index]
        assert mine[0]["text"].startswith(PROMPT) and not any(PROMPT in c["text"] for c in mine[1:])
        joined = {key: [v for c in mine for v in c["logprobs"][key]] for key in whole}
        assert joined == whole  # text_offset runs on across chunks, as vLLM's


def test_logprobs_0_returns_the_sampled_token(client: TestClient) -> None:
    completion = post(client, COMPLETIONS, {"prompt": PROMPT, "max_tokens": 3, "logprobs": 0})["choices"][0]
    assert completion["logprobs"]["top_logprobs"] == [{"Q": -0.5}, {"u": -0.5}, {"i": -0.5}]
    chat = post(client, CHAT, {"messages": USER, "max_tokens": 3, "logprobs": True, "top_logprobs": 0})
    tokens = chat["choices"][0]["logprobs"]["reasoning"]
    assert tokens and all(t["top_logprobs"] == [] and t["logprob"] == -0.5 for t in tokens)  # vLLM's: none


def test_tokens_as_token_ids(client: TestClient, engine: FakeEngine) -> None:
    fields = {"max_tokens": 3, "return_tokens_as_token_ids": True, "return_token_ids": True}
    completion = post(client, COMPLETIONS, {"prompt": PROMPT, "logprobs": 1, "echo": True, **fields})["choices"][0]
    ids = engine.requests[-1][0] + completion["token_ids"]
    assert completion["logprobs"]["tokens"] == [f"token_id:{i}" for i in ids]
    assert list(completion["logprobs"]["top_logprobs"][1]) == [f"token_id:{ids[1]}", "token_id:93"]
    assert completion["text"].startswith(PROMPT)  # the text is still text
    chat = post(client, CHAT, {"messages": USER, "logprobs": True, "top_logprobs": 1, **fields})["choices"][0]
    token = chat["logprobs"]["reasoning"][0]
    assert token["token"] == f"token_id:{chat['token_ids'][0]}" == token["top_logprobs"][0]["token"]
    assert bytes(token["bytes"]).decode() == "Q"  # the token's own bytes


@pytest.fixture
def ids_server(engine: FakeEngine) -> Iterator[TestClient]:
    settings = Settings(return_tokens_as_token_ids=True)
    with TestClient(create_app(settings, engine.lifetime)) as test_client:
        yield test_client


def test_the_servers_flag_names_tokens_by_id_unless_a_request_says_otherwise(ids_server: TestClient) -> None:
    body = {"prompt": PROMPT, "max_tokens": 2, "logprobs": 0}
    assert post(ids_server, COMPLETIONS, body)["choices"][0]["logprobs"]["tokens"][0].startswith("token_id:")
    plain = {**body, "return_tokens_as_token_ids": False}
    assert post(ids_server, COMPLETIONS, plain)["choices"][0]["logprobs"]["tokens"] == ["Q", "u"]


def test_budgets_keep_their_logprobs(client: TestClient, engine: FakeEngine) -> None:
    budget = {"max_thinking_tokens": 6, "min_thinking_waits": 1, "prompt_logprobs": 1, "logprobs": True}
    body = post(client, CHAT, {"messages": USER, **budget})
    assert engine.requests[-1][1].extra_args and body["choices"][0]["thinking_budget"] is not None
    check_vllm_shape(body["prompt_logprobs"], engine.requests[-1][0], 1)
    echoed = {"prompt": PROMPT, "echo": True, "logprobs": 1, "max_tokens": 8, "max_thinking_tokens": 3}
    choice = post(client, COMPLETIONS, echoed)["choices"][0]
    assert "".join(choice["logprobs"]["tokens"]) == choice["text"]
