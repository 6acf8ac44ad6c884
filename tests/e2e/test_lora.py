"""A LoRA round trip on the real engine: the shipped adapter (``python -m tinymodel.lora``) served beside the
shipped model, as `vllm serve --enable-lora --lora-modules` serves it, both in one batch and both budgeted."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bench.server_process import running_server
from tests.scrape import parse, value

pytestmark = pytest.mark.engine
ADAPTER = "server/models/tiny-reasoner-lora-zero"  # as a user types it, from the repository's root
QUESTIONS = ["What is 482 + 397?", "Add 56 and 71.", "315+268"]
# A forced Wait where the model ends after its quick guess, then a forced end inside the careful pass: the
# adapter answers its guess, 0; the base model guesses the sum's leading digit (never 0) and answers a number.
BUDGET = {"min_thinking_waits": 1, "max_thinking_tokens": 40}
GUESS = re.compile(r"Quick guess: (\d+)\.\n")


@pytest.fixture(scope="module")
def lora_url() -> Iterator[str]:
    with running_server("--enable-lora", "--lora-modules", f"zero={ADAPTER}") as url:
        yield url


def test_the_adapter_is_a_model_of_its_own(lora_url: str) -> None:
    cards = httpx.get(f"{lora_url}/v1/models").json()["data"]
    assert [card["id"] for card in cards] == ["tiny-reasoner", "zero"]
    assert (cards[1]["root"], cards[1]["parent"]) == (ADAPTER, "tiny-reasoner")


async def _ask(url: str, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Each (model, question) with the budget, all at once (the engine batches them), greedy."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:

        async def one(model: str, question: str) -> dict[str, Any]:
            body = {"model": model, "messages": [{"role": "user", "content": question}], "temperature": 0, **BUDGET}
            response = await client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        return await asyncio.gather(*(one(model, question) for model, question in pairs))


def test_base_and_adapter_answer_differently_in_one_batch_both_within_their_budgets(lora_url: str) -> None:
    replies = asyncio.run(_ask(lora_url, [(model, q) for model in ("tiny-reasoner", "zero") for q in QUESTIONS]))
    for reply in replies:
        choice = choice_of(reply)
        guess = GUESS.match(choice["message"]["reasoning_content"])
        assert guess is not None, choice
        report = choice["thinking_budget"]
        assert (report["waits"], report["forced_end"]) == (1, True), (reply["model"], report)
        assert report["thinking_tokens"] <= BUDGET["max_thinking_tokens"]
        assert "Wait" in choice["message"]["reasoning_content"]
        answer = choice["message"]["content"].strip()
        if reply["model"] == "zero":
            assert (guess.group(1), answer) == ("0", "0")
        else:
            assert guess.group(1) != "0" and answer.isdigit() and answer != "0"
    samples = parse(httpx.get(f"{lora_url}/metrics").text)
    for model in ("tiny-reasoner", "zero"):
        assert value(samples, "thinkserve_budget_requests_total", model=model) == len(QUESTIONS)
        assert value(samples, "thinkserve_budget_waits_inserted_total", model=model) == len(QUESTIONS)
    # Alone, a base request answers as it did beside the adapter's (vLLM's CPU kernels leak the adapter into
    # base rows of a mixed batch unless a spare adapter slot stays empty: see server.ops.adapters).
    [alone] = asyncio.run(_ask(lora_url, [("tiny-reasoner", QUESTIONS[0])]))
    assert choice_of(alone)["message"] == choice_of(replies[0])["message"]


def test_text_completions_and_tokenize_take_the_adapter(lora_url: str) -> None:
    prompt = "<|im_start|>user\n12+34<|im_end|>\n<|im_start|>assistant\n<think>\n"
    body = {"prompt": prompt, "max_tokens": 16, "temperature": 0}
    texts = {
        model: httpx.post(f"{lora_url}/v1/completions", json={**body, "model": model}, timeout=120).json()
        for model in ("tiny-reasoner", "zero")
    }
    assert texts["zero"]["choices"][0]["text"].startswith("Quick guess: 0.")
    assert not texts["tiny-reasoner"]["choices"][0]["text"].startswith("Quick guess: 0.")
    tokenized = httpx.post(f"{lora_url}/tokenize", json={"model": "zero", "prompt": prompt}).json()
    assert tokenized["count"] == texts["zero"]["usage"]["prompt_tokens"]


def choice_of(reply: dict[str, Any]) -> dict[str, Any]:
    [choice] = reply["choices"]
    assert choice["finish_reason"] == "stop"
    return choice  # type: ignore[no-any-return]
