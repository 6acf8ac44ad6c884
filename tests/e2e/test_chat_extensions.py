"""vLLM's chat extensions on the real engine (issue #18, A2): the shipped model continues its own "Quick guess:"
(a thinking the prompt opened many tokens back), ``echo``, ``include_reasoning: false`` under a budget, usage in
every chunk, a request's chat template refused without ``--trust-request-chat-template``."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.engine
QUESTION = {"role": "user", "content": "What is 482 + 397?"}
OPENED = {"role": "assistant", "content": "<think>\nQuick guess:"}
CONTINUE = {"add_generation_prompt": False, "continue_final_message": True}


def chat(base_url: str, **body: Any) -> dict[str, Any]:
    request = {"model": "tiny-reasoner", "messages": [QUESTION], "max_tokens": 160, "temperature": 0, **body}
    response = httpx.post(f"{base_url}/v1/chat/completions", json=request, timeout=120)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_the_model_continues_its_quick_guess(base_url: str) -> None:
    fresh = chat(base_url)["choices"][0]["message"]
    assert fresh["reasoning_content"].startswith("Quick guess:")
    continued = chat(base_url, messages=[QUESTION, OPENED], **CONTINUE)["choices"][0]["message"]
    # The thinking goes on from the guess (greedy: as it went on unprompted), then ends and the answer follows.
    assert not continued["reasoning_content"].startswith("Quick guess")
    assert "Quick guess:" + continued["reasoning_content"] == fresh["reasoning_content"]
    assert continued["content"] == fresh["content"] and continued["content"].strip().isdigit()


def test_echo_puts_the_continued_message_first(base_url: str) -> None:
    body = {"messages": [QUESTION, OPENED], "echo": True, **CONTINUE}
    message = chat(base_url, **body)["choices"][0]["message"]
    assert message["content"].startswith(OPENED["content"]) and message["content"] != OPENED["content"]
    request = {"model": "tiny-reasoner", "max_tokens": 160, "temperature": 0, **body, "stream": True}
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=request, timeout=120) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    assert chunks[1]["choices"][0]["delta"]["content"] == OPENED["content"]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == message["content"]


def test_include_reasoning_false_hides_a_budgeted_thinking_but_reports_it(base_url: str) -> None:
    body = chat(base_url, include_reasoning=False, max_thinking_tokens=6)
    choice = body["choices"][0]
    assert "reasoning_content" not in choice["message"] and choice["message"]["content"]
    assert choice["thinking_budget"]["forced_end"] is True and choice["thinking_budget"]["thinking_tokens"] == 6
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] >= 6


def test_every_chunk_carries_the_usage_so_far(base_url: str) -> None:
    request = {
        "model": "tiny-reasoner", "messages": [QUESTION], "max_tokens": 40, "temperature": 0, "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
    }  # fmt: skip
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=request, timeout=120) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    counts = [chunk["usage"]["completion_tokens"] for chunk in chunks]
    assert counts[0] == 0 and counts[:-1] == sorted(counts[:-1]) and counts[-2] == counts[-1] > 1
    assert len(set(counts)) > 2  # it grows chunk by chunk
    assert {chunk["usage"]["prompt_tokens"] for chunk in chunks} == {chunks[-1]["usage"]["prompt_tokens"]}


def test_a_request_template_is_refused_without_the_trust_flag(base_url: str) -> None:
    request = {"messages": [QUESTION], "chat_template": "{{ messages[0]['content'] }}"}
    response = httpx.post(f"{base_url}/v1/chat/completions", json=request, timeout=120)
    assert response.status_code == 400 and response.json()["error"]["param"] == "chat_template"


def test_a_role_beyond_openais_reaches_the_template(base_url: str) -> None:
    messages = [{"role": "reviewer", "content": "Check the sums."}, QUESTION]
    reply = chat(base_url, messages=messages, return_token_ids=True, max_tokens=40)
    prompt = httpx.post(f"{base_url}/detokenize", json={"tokens": reply["prompt_token_ids"]}, timeout=60).json()
    assert "<|im_start|>reviewer\nCheck the sums.<|im_end|>\n" in prompt["prompt"]  # the template wrote the role
    assert reply["choices"][0]["message"]["reasoning_content"].startswith("Quick guess:")
