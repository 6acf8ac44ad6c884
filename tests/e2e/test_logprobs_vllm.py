"""Logprobs as `vllm serve` gives them, on the real engine: prompt logprobs that score what the model generates
(echo with ``max_tokens: 0``), their shape on both endpoints, vLLM's refusals, ``logprobs: 0``, tokens named
by id, and a budget's forced tokens."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from transformers import AutoTokenizer

from server.ops.settings import SHIPPED_MODEL

pytestmark = pytest.mark.engine
QUESTION = [{"role": "user", "content": "What is 482 + 397?"}]
CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
NAMED_BY_ID = re.compile(r"token_id:\d+")


@pytest.fixture(scope="module")
def prompt() -> list[int]:
    """The chat endpoint's prompt for QUESTION, as token ids (the completions endpoint takes them as they are)."""
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
    rendered = tokenizer.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
    ids: list[int] = tokenizer.encode(rendered, add_special_tokens=False)
    return ids


def post(base_url: str, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = httpx.post(f"{base_url}{path}", json={"temperature": 0, **body}, timeout=120)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def check_shape(scored: list[Any], prompt: list[int], k: int) -> None:
    """vLLM's: null first; per position the prompt's own token and the k most likely, ranked from 1."""
    assert scored[0] is None and len(scored) == len(prompt)
    for token, position in zip(prompt[1:], scored[1:], strict=True):
        assert str(token) in position and k <= len(position) <= k + 1
        assert set(range(1, k + 1)) <= {entry["rank"] for entry in position.values()}
        assert all(entry["logprob"] <= 0 and isinstance(entry["decoded_token"], str) for entry in position.values())


def flat(scored: list[Any]) -> list[tuple[str, float]]:
    return [(token, entry["logprob"]) for position in scored[1:] for token, entry in sorted(position.items())]


def test_an_echo_scores_what_the_model_generated(base_url: str, prompt: list[int]) -> None:
    body = {"prompt": prompt, "max_tokens": 16, "logprobs": 2, "return_token_ids": True}
    choice = post(base_url, COMPLETIONS, body)["choices"][0]
    ids, logprobs = choice["token_ids"], choice["logprobs"]["token_logprobs"]
    scored = post(base_url, COMPLETIONS, {"prompt": prompt + ids, "max_tokens": 0, "echo": True, "logprobs": 2})
    echo = scored["choices"][0]
    echoed = echo["logprobs"]
    assert echo["text"] == AutoTokenizer.from_pretrained(SHIPPED_MODEL).decode(prompt + ids)
    assert len(echoed["tokens"]) == len(prompt + ids) and echoed["token_logprobs"][0] is None
    assert echoed["top_logprobs"][0] is None
    # Teacher forcing gives the numbers decoding gave (a prefill's arithmetic, not a decode step's).
    assert echoed["token_logprobs"][len(prompt) :] == pytest.approx(logprobs, abs=2e-3)
    generated = zip(echoed["token_logprobs"][len(prompt) :], echoed["top_logprobs"][len(prompt) :], strict=True)
    assert all(logprob == max(top.values()) for logprob, top in generated)  # greedy: each was the most likely
    # The same numbers in vLLM's own field, on the choice.
    field = echo["prompt_logprobs"]
    check_shape(field, prompt + ids, 2)
    assert [field[i][str(t)]["logprob"] for i, t in enumerate(prompt + ids) if i] == echoed["token_logprobs"][1:]


def test_both_endpoints_carry_them_in_vllms_shape(base_url: str, prompt: list[int]) -> None:
    chat = post(base_url, CHAT, {"messages": QUESTION, "max_tokens": 2, "prompt_logprobs": 3})
    check_shape(chat["prompt_logprobs"], prompt, 3)
    body = {"prompt": prompt, "max_tokens": 2, "prompt_logprobs": 3, "n": 2, "temperature": 1, "seed": 5}
    theirs = flat(chat["prompt_logprobs"])
    for choice in post(base_url, COMPLETIONS, body)["choices"]:
        check_shape(choice["prompt_logprobs"], prompt, 3)
        mine = flat(choice["prompt_logprobs"])  # one prompt, one set of numbers
        assert [t for t, _ in mine] == [t for t, _ in theirs]
        assert [lp for _, lp in mine] == pytest.approx([lp for _, lp in theirs], abs=1e-4)
    assert "prompt_logprobs" not in post(base_url, CHAT, {"messages": QUESTION, "max_tokens": 2})


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"prompt_logprobs": -1}, "max allowed: 20"),  # the vocabulary, beyond vLLM's --max-logprobs 20
        ({"prompt_logprobs": 21}, "max allowed: 20"),
        ({"prompt_logprobs": 1, "stream": True}, "stream"),
    ],
)
def test_refused_as_vllm_refuses_them(base_url: str, fields: dict[str, Any], says: str) -> None:
    for path, body in ((CHAT, {"messages": QUESTION}), (COMPLETIONS, {"prompt": "12+34"})):
        error = post(base_url, path, {**body, "max_tokens": 2, **fields}, status=400)["error"]
        assert error["param"] == "prompt_logprobs" and says in error["message"]


def test_logprobs_0_is_the_sampled_token_and_top_logprobs_0_none(base_url: str, prompt: list[int]) -> None:
    choice = post(base_url, COMPLETIONS, {"prompt": prompt, "max_tokens": 6, "logprobs": 0})["choices"][0]
    logprobs = choice["logprobs"]
    sampled = zip(logprobs["tokens"], logprobs["token_logprobs"], strict=True)
    assert logprobs["top_logprobs"] == [{token: logprob} for token, logprob in sampled]
    chat = post(base_url, CHAT, {"messages": QUESTION, "max_tokens": 6, "logprobs": True, "top_logprobs": 0})
    tokens = chat["choices"][0]["logprobs"]["reasoning"]
    assert tokens and all(t["top_logprobs"] == [] for t in tokens)


def test_tokens_named_by_their_ids(base_url: str, prompt: list[int]) -> None:
    named = {"return_tokens_as_token_ids": True, "return_token_ids": True}
    body = {"prompt": prompt, "max_tokens": 200, "logprobs": 2, **named}  # to the model's own end
    choice = post(base_url, COMPLETIONS, body)["choices"][0]
    assert choice["finish_reason"] == "stop"  # on EOS, whose logprobs are there too (vLLM's: one per token)
    assert choice["logprobs"]["tokens"] == [f"token_id:{t}" for t in choice["token_ids"]]
    assert all(NAMED_BY_ID.fullmatch(name) for top in choice["logprobs"]["top_logprobs"] for name in top)
    chat = post(base_url, CHAT, {"messages": QUESTION, "logprobs": True, "top_logprobs": 2, **named})["choices"][0]
    tokens = chat["logprobs"]["reasoning"] + chat["logprobs"]["content"]
    assert tokens and all(NAMED_BY_ID.fullmatch(t["token"]) for t in tokens)
    assert all(NAMED_BY_ID.fullmatch(top["token"]) for t in tokens for top in t["top_logprobs"])


def test_a_budgets_forced_tokens_have_the_logprobs_the_engine_reports(base_url: str, prompt: list[int]) -> None:
    budget = {"min_thinking_waits": 1, "max_thinking_tokens": 80, "logprobs": True, "prompt_logprobs": 1}
    chat = post(base_url, CHAT, {"messages": QUESTION, **budget})
    choice = chat["choices"][0]
    assert choice["thinking_budget"]["waits"] == 1  # a Wait was forced where the model ended its thinking
    check_shape(chat["prompt_logprobs"], prompt, 1)
    reasoning = choice["logprobs"]["reasoning"]
    assert "".join(t["token"] for t in reasoning) == choice["message"]["reasoning_content"]
    assert any(t["token"] == "Wait" for t in reasoning) and all(t["logprob"] > -9999 for t in reasoning)
    echoed = {"prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 24, "max_thinking_tokens": 4}
    completion = post(base_url, COMPLETIONS, echoed)["choices"][0]
    assert completion["thinking_budget"]["forced_end"]
    generated = completion["logprobs"]["token_logprobs"][len(prompt) :]
    assert generated and all(isinstance(lp, float) for lp in generated)
