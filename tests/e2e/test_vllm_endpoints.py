"""`vllm serve`'s other endpoints on the real engine: /tokenize, /detokenize, /v1/models/{id}, /version, /ping,
/invocations, and the prefix cache's hits in the usage (``prompt_tokens_details.cached_tokens``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from transformers import AutoTokenizer

from server.ops.settings import SHIPPED_MODEL

pytestmark = pytest.mark.engine
QUESTION = [{"role": "user", "content": "What is 482 + 397?"}]
# Longer than a few KV-cache blocks (128 tokens on CPU, 16 on GPU; the byte-level tokenizer: ~1 token a byte),
# well inside the shipped model's 1024-token context.
CONTEXT = "You add numbers. " * 30


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(SHIPPED_MODEL)


def post(base_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{base_url}{path}", json=body, timeout=120)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_tokenize_text_is_the_tokenizers(base_url: str, tokenizer: Any) -> None:
    body = post(base_url, "/tokenize", {"prompt": "What is 482 + 397?", "return_token_strs": True})
    ids = tokenizer.encode("What is 482 + 397?", add_special_tokens=True)
    context = httpx.get(f"{base_url}/v1/models/tiny-reasoner").json()["max_model_len"]
    assert (body["tokens"], body["count"], body["max_model_len"]) == (ids, len(ids), context)
    assert body["token_strs"] == tokenizer.convert_ids_to_tokens(ids)


def test_tokenize_chat_is_the_prompt_the_chat_endpoint_sends(base_url: str, sdk: openai.OpenAI, tokenizer: Any) -> None:
    tokens = post(base_url, "/tokenize", {"model": "tiny-reasoner", "messages": QUESTION})["tokens"]
    rendered = tokenizer.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
    assert tokens == tokenizer.encode(rendered, add_special_tokens=False)
    chat = sdk.chat.completions.create(
        model="tiny-reasoner", messages=QUESTION, max_tokens=1, extra_body={"return_token_ids": True}
    )
    assert tokens == chat.prompt_token_ids  # type: ignore[attr-defined]
    assert len(tokens) == chat.usage.prompt_tokens  # type: ignore[union-attr]


def test_detokenize_round_trips(base_url: str, tokenizer: Any) -> None:
    tokens = post(base_url, "/tokenize", {"messages": QUESTION})["tokens"]
    assert post(base_url, "/detokenize", {"tokens": tokens})["prompt"] == tokenizer.decode(tokens)
    refused = httpx.post(f"{base_url}/detokenize", json={"tokens": [len(tokenizer) + 5]})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "tokens"


def test_model_card_root_parent_and_context(base_url: str, sdk: openai.OpenAI) -> None:
    card = httpx.get(f"{base_url}/v1/models/tiny-reasoner").json()
    assert Path(card["root"]).resolve() == SHIPPED_MODEL.resolve()
    assert (card["parent"], card["max_model_len"]) == (None, 1024)  # the shipped model's context
    assert sdk.models.retrieve("tiny-reasoner").id == "tiny-reasoner"


def test_version_is_vllms(base_url: str) -> None:
    from vllm.version import __version__ as vllm_version

    versions = httpx.get(f"{base_url}/version").json()
    assert versions["version"] == vllm_version and versions["thinkserve"]


def test_ping_answers_get_and_post(base_url: str) -> None:
    assert httpx.get(f"{base_url}/ping").status_code == httpx.post(f"{base_url}/ping").status_code == 200


def test_invocations_dispatch_by_the_bodys_shape(base_url: str) -> None:
    chat = {"messages": QUESTION, "temperature": 0, "max_tokens": 40}
    invoked = post(base_url, "/invocations", chat)
    assert invoked["object"] == "chat.completion"
    direct = post(base_url, "/v1/chat/completions", chat)
    assert invoked["choices"][0]["message"] == direct["choices"][0]["message"]
    completion = {"prompt": "What is 482 + 397?", "temperature": 0, "max_tokens": 8}
    invoked = post(base_url, "/invocations", completion)
    assert invoked["object"] == "text_completion"
    assert invoked["choices"][0]["text"] == post(base_url, "/v1/completions", completion)["choices"][0]["text"]


def test_a_repeated_prompt_reports_prefix_cache_hits(sdk: openai.OpenAI) -> None:
    messages = [{"role": "system", "content": CONTEXT}, *QUESTION]
    fields: dict[str, Any] = {"model": "tiny-reasoner", "messages": messages, "max_tokens": 8, "temperature": 0}
    sdk.chat.completions.create(**fields)  # fills the cache
    again = sdk.chat.completions.create(**fields).usage
    assert again is not None and again.prompt_tokens_details is not None
    assert 0 < (again.prompt_tokens_details.cached_tokens or 0) < again.prompt_tokens
    streamed = [
        c.usage for c in sdk.chat.completions.create(**fields, stream=True, stream_options={"include_usage": True})
    ]
    last = streamed[-1]
    assert last is not None and last.prompt_tokens_details is not None
    assert last.prompt_tokens_details.cached_tokens == again.prompt_tokens_details.cached_tokens
    for _ in range(2):  # the first fills the cache (if the chats' blocks did not)
        text = sdk.completions.create(model="tiny-reasoner", prompt=CONTEXT, max_tokens=4, temperature=0)
    assert (text.usage.prompt_tokens_details.cached_tokens or 0) > 0  # type: ignore[union-attr]
