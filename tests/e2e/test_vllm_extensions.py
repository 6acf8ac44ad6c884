"""vLLM's request extensions on the real engine and the shipped model: each honoured as `vllm serve` honours it, or a
400 naming it, and the thinking budget still enforced beside them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from transformers import AutoTokenizer

from server.ops.settings import SHIPPED_MODEL

pytestmark = pytest.mark.engine
QUESTION = [{"role": "user", "content": "What is 482 + 397?"}]
CHAT = {"model": "tiny-reasoner", "messages": QUESTION, "temperature": 0, "max_tokens": 300}
DIGITS = "0123456789"
CONTEXT = "You add numbers. " * 30  # a few KV-cache blocks (128 tokens on CPU)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(SHIPPED_MODEL)


def call(base_url: str, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = httpx.post(f"{base_url}{path}", json=body, timeout=120)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def chat(base_url: str, **fields: Any) -> dict[str, Any]:
    return call(base_url, "/v1/chat/completions", {**CHAT, **fields})


def refused(base_url: str, body: dict[str, Any], path: str = "/v1/chat/completions") -> str:
    param: str = call(base_url, path, body, status=400)["error"]["param"]
    return param


def test_a_bad_word_is_never_written(base_url: str) -> None:
    message = chat(base_url)["choices"][0]["message"]
    written = message["reasoning_content"] + message["content"]
    digit = next(d for d in DIGITS if d in written)  # byte-level: the digit's own token, banned everywhere
    banned = chat(base_url, bad_words=[digit])["choices"][0]["message"]
    assert digit not in (banned["reasoning_content"] or "") + (banned["content"] or "")


def test_only_allowed_tokens_are_sampled_and_the_budget_still_closes(base_url: str, tokenizer: Any) -> None:
    digits = tokenizer.encode(DIGITS, add_special_tokens=False)
    prompt = "<|im_start|>user\n12+34<|im_end|>\n<|im_start|>assistant\n<think>\n"
    body = {"model": "tiny-reasoner", "prompt": prompt, "max_tokens": 6, "temperature": 0, "allowed_token_ids": digits}
    choice = call(base_url, "/v1/completions", body)["choices"][0]
    assert choice["text"] and set(choice["text"]) <= set(DIGITS) and choice["finish_reason"] == "length"
    assert refused(base_url, {**CHAT, "max_thinking_tokens": 6, "allowed_token_ids": digits}) == "allowed_token_ids"
    # With the budget's own tokens (its wait, its closing) allowed, the thinking is exactly as long as it says.
    forced = tokenizer.encode("Wait</think>\n\nFinal Answer:", add_special_tokens=False)
    allowed = digits + forced + [tokenizer.eos_token_id]
    budget = {"min_thinking_tokens": 6, "max_thinking_tokens": 6, "include_answer_prefix": True}
    choice = chat(base_url, **budget, allowed_token_ids=allowed)["choices"][0]
    assert choice["thinking_budget"]["forced_end"] and choice["thinking_budget"]["thinking_tokens"] == 6
    assert set(choice["message"]["reasoning_content"]) <= set(DIGITS + "Wait\nFinal Answer:")
    assert choice["message"]["content"].startswith("Final Answer:")


def test_a_bad_word_that_would_ban_a_forced_token_is_refused(base_url: str) -> None:
    assert refused(base_url, {**CHAT, "min_thinking_waits": 1, "bad_words": ["Wait"]}) == "bad_words"
    choice = chat(base_url, min_thinking_waits=1, bad_words=["9"])["choices"][0]
    assert choice["thinking_budget"]["waits"] == 1 and "9" not in choice["message"]["reasoning_content"]


def test_an_included_stop_string_stays_in_the_answer(base_url: str) -> None:
    content = chat(base_url)["choices"][0]["message"]["content"]
    assert len(content) >= 2
    stop = content[1]
    cut = content.find(stop)
    for include, expected in ((False, content[:cut]), (True, content[: cut + 1])):
        choice = chat(base_url, stop=[stop], include_stop_str_in_output=include)["choices"][0]
        assert ((choice["message"]["content"] or ""), choice["finish_reason"]) == (expected, "stop")
    # Budgeted: the forced "Final Answer:" never matches, included or not.
    budgeted = chat(base_url, max_thinking_tokens=8, include_answer_prefix=True)["choices"][0]["message"]["content"]
    kept = chat(
        base_url, max_thinking_tokens=8, include_answer_prefix=True, stop=["Answer"], include_stop_str_in_output=True
    )
    assert kept["choices"][0]["message"]["content"] == budgeted and budgeted.startswith("Final Answer:")


def test_the_engine_s_stop_strings_include_it_too(base_url: str) -> None:
    body = {"model": "tiny-reasoner", "prompt": "What is 482 + 397?", "max_tokens": 12, "temperature": 0}
    text = call(base_url, "/v1/completions", body)["choices"][0]["text"]
    assert len(text) >= 5
    stop = text[3:5]
    cut = text.find(stop)
    fields = {"stop": [stop], "stop_in_thinking": True}  # no budget, the thinking too: the engine matches it
    for include, expected in ((False, text[:cut]), (True, text[: cut + 2])):
        got = call(base_url, "/v1/completions", {**body, **fields, "include_stop_str_in_output": include})
        assert got["choices"][0]["text"] == expected


def test_special_tokens_stay_in_the_text_when_asked(base_url: str, tokenizer: Any) -> None:
    plain = chat(base_url, include_stop_str_in_output=True)["choices"][0]
    kept = chat(base_url, include_stop_str_in_output=True, skip_special_tokens=False)["choices"][0]
    specials = tuple(tokenizer.decode([t]) for t in tokenizer.all_special_ids)
    assert plain["finish_reason"] == kept["finish_reason"] == "stop"  # by EOS, whose text is included
    assert not plain["message"]["content"].endswith(specials) and kept["message"]["content"].endswith(specials)
    assert kept["message"]["content"].startswith(plain["message"]["content"])
    assert kept["message"]["reasoning_content"] == plain["message"]["reasoning_content"]  # the split holds


def test_priority_needs_priority_scheduling(base_url: str) -> None:
    assert refused(base_url, {**CHAT, "priority": 1}) == "priority"
    assert chat(base_url, priority=0, max_tokens=4)["choices"]


def test_vllm_xargs_reach_the_engine_beside_the_budget(base_url: str) -> None:
    assert refused(base_url, {**CHAT, "vllm_xargs": {"thinking_budget": 5}}) == "vllm_xargs.thinking_budget"
    choice = chat(base_url, max_thinking_tokens=8, vllm_xargs={"tenant": "a", "weights": [1, 2.5]})["choices"][0]
    assert choice["thinking_budget"]["forced_end"] and choice["thinking_budget"]["thinking_tokens"] == 8


def test_a_cache_salt_keeps_prefix_cache_hits_to_its_own_requests(base_url: str) -> None:
    body = {"model": "tiny-reasoner", "prompt": CONTEXT, "max_tokens": 2, "temperature": 0}

    def cached(**fields: Any) -> int:
        usage = call(base_url, "/v1/completions", {**body, **fields})["usage"]
        return int(usage["prompt_tokens_details"]["cached_tokens"])

    cached()
    assert cached() > 0  # unsalted: the second finds the first's blocks
    salt = uuid.uuid4().hex
    assert cached(cache_salt=salt) == 0  # salted: nothing of the unsalted prompt's
    assert cached(cache_salt=salt) > 0  # the same salt: its own blocks
    assert cached(cache_salt=uuid.uuid4().hex) == 0
    assert refused(base_url, {**body, "cache_salt": "a/b"}, "/v1/completions") == "cache_salt"


def test_truncate_prompt_tokens_keeps_the_prompt_s_end(base_url: str) -> None:
    whole = chat(base_url, max_tokens=4, return_token_ids=True)
    short = chat(base_url, max_tokens=4, return_token_ids=True, truncate_prompt_tokens=12)
    assert short["usage"]["prompt_tokens"] == 12 < whole["usage"]["prompt_tokens"]
    assert short["prompt_token_ids"] == whole["prompt_token_ids"][-12:]
    assert refused(base_url, {**CHAT, "truncate_prompt_tokens": 5000}) == "truncate_prompt_tokens"
    long = {**CHAT, "messages": [{"role": "user", "content": "1" * 5000}], "max_tokens": 4}
    assert refused(base_url, long) == "messages"
    truncated = {**long, "truncate_prompt_tokens": -1, "max_tokens": 1}  # the context less one: room for one token
    assert chat(base_url, **truncated)["usage"]["prompt_tokens"] == 1023


@pytest.mark.parametrize(
    ("name", "value"),
    [("use_beam_search", True), ("request_id", "mine"), ("kv_transfer_params", {"do_remote_prefill": True})],
)
def test_vllms_fields_for_what_is_not_offered_are_refused_by_name(base_url: str, name: str, value: Any) -> None:
    assert refused(base_url, {**CHAT, name: value}) == name
    text = {"model": "tiny-reasoner", "prompt": "12+34", "max_tokens": 4, name: value}
    assert refused(base_url, text, "/v1/completions") == name
    assert chat(base_url, max_tokens=4, use_beam_search=False, request_id=None)["choices"]  # asking for nothing
