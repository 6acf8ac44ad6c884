"""Real vocabularies on the real engine: Qwen3, Qwen3.5/3.6 and DeepSeek V4 tokenizers, each with its family's chat
template and a seeded random Qwen3-architecture model at its vocabulary size (``bench.families``).

Per family, one server: s1's multi-call reference procedure runs on it without budgets (``bench.served_llm``:
vLLM's ``stop_token_ids`` and ``return_token_ids``; the processor leaves budget-less rows alone, which the kernel's
property tests prove), and the same prompts with budgets must give the reference's tokens exactly. The front
end must split, stream, stop and report on byte-level BPE text as it does on the shipped model's characters.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from transformers import AutoTokenizer

from bench.families import FAMILIES as CATALOG
from bench.families import build_model
from bench.s1_reference import BOUNDED_BUDGETS, opened_prompts, reference_outputs
from bench.served_llm import ServedLLM
from bench.server_process import running_server
from server.thinking.tokens import ThinkingTokens, resolve_thinking_tokens
from tests.e2e.test_budget_oracle import served as completions

pytestmark = pytest.mark.engine

PROBLEMS = 8
CAP = 160  # max_tokens of every request: thinking + closing + answer (the reference caps the answer alone)
FAMILIES = ["qwen3", "qwen3.5", "deepseek-v4", "s1"]


@dataclass
class Served:
    family: str
    url: str
    tokenizer: object
    thinking: ThinkingTokens
    reference: dict


@pytest.fixture(scope="module", params=FAMILIES)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    family = request.param
    directory = build_model(family, tmp_path_factory.mktemp(family.replace(".", "_")))
    tokenizer = AutoTokenizer.from_pretrained(directory)
    eos_ids = json.loads((directory / "generation_config.json").read_text())["eos_token_id"]
    eos = set(eos_ids if isinstance(eos_ids, list) else [eos_ids])
    thinking = resolve_thinking_tokens(tokenizer, "auto", eos)  # as the server resolves them
    parser = CATALOG[family].reasoning_parser  # as `vllm serve` users pass it; s1 has none (auto)
    flags = ["--reasoning-parser", parser] if parser else []
    with running_server("--model", str(directory), "--max-model-len", "1024", *flags) as url:
        prompts = opened_prompts(tokenizer, thinking, PROBLEMS)
        reference = reference_outputs(ServedLLM(url), tokenizer, thinking, prompts, BOUNDED_BUDGETS, CAP)
        yield Served(family, url, tokenizer, thinking, reference)


def test_budgets_give_the_s1_reference_tokens(served: Served) -> None:
    ours = asyncio.run(completions(served.url, served.reference["prompt_ids"], BOUNDED_BUDGETS, CAP))
    skip = served.thinking.skip_special_tokens
    for name in BOUNDED_BUDGETS:
        for i, (mine, theirs) in enumerate(zip(ours[name], served.reference[name], strict=True)):
            ids = theirs["ids"][:CAP]  # the server caps thinking and answer together
            where = f"{served.family}, {name}, prompt {i}"
            assert mine["tokens"] == len(ids), where
            shown = ids[:-1] if ids[-1] in served.thinking.eos else ids  # vLLM leaves the EOS out of the text
            assert mine["text"] == served.tokenizer.decode(shown, skip_special_tokens=skip), where
            assert mine["report"]["waits"] == theirs["waits"], where
    assert all(r["report"]["forced_end"] and r["report"]["thinking_tokens"] == 0 for r in ours["max-0"])
    attempts = [a for name in BOUNDED_BUDGETS for trace in served.reference[name] for a in trace["attempts"]]
    assert served.thinking.end in attempts, "the model never tried to end its thinking: the minimum went untested"


def test_eos_inside_the_thinking_is_an_attempt_to_end(served: Served) -> None:
    """A logit bias makes EOS the model's choice at every step. Where the template opened the thinking, the
    minimum turns the first two into waits, the third becomes the end of thinking (so the request still
    answers) and the answer ends at its first token. Qwen3's hybrid template leaves <think> to the model,
    which then never opens it: nothing to enforce, and EOS ends the request."""
    eos = min(served.thinking.eos)
    fields = {"min_thinking_waits": 2, "max_thinking_tokens": 30, "logit_bias": {str(eos): 100}}
    choice = chat(served.url, **fields)["choices"][0]
    assert choice["finish_reason"] == "stop" and not choice["message"]["content"]
    if served.family == "qwen3":
        assert choice["thinking_budget"] == {"thinking_tokens": 0, "waits": 0, "forced_end": False}
        return
    wait = served.tokenizer.encode("Wait", add_special_tokens=False)
    assert choice["thinking_budget"] == {"thinking_tokens": 2 * len(wait), "waits": 2, "forced_end": False}
    # s1's end is <|im_start|> answer: the EOS became <|im_start|>, and a model biased to EOS never writes
    # `answer`, so the text has no end delimiter and the split keeps it all as thinking (README: Model families).
    rest = "<|im_start|>" if served.family == "s1" else ""
    assert choice["message"]["reasoning_content"] == 2 * served.tokenizer.decode(wait) + rest


def chat(url: str, **fields: object) -> dict:
    body = {"messages": [{"role": "user", "content": "What is 482 + 397?"}], "max_tokens": CAP, "temperature": 0}
    response = httpx.post(f"{url}/v1/chat/completions", json={**body, **fields}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def streamed(url: str, **fields: object) -> tuple[str, str]:
    body = {"messages": [{"role": "user", "content": "What is 482 + 397?"}], "max_tokens": CAP, "temperature": 0}
    reasoning, content = [], []
    with httpx.stream("POST", f"{url}/v1/chat/completions", json={**body, **fields, "stream": True}, timeout=120) as r:
        for line in r.iter_lines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    reasoning.append(choice["delta"].get("reasoning_content") or "")
                    content.append(choice["delta"].get("content") or "")
    return "".join(reasoning), "".join(content)


@pytest.mark.parametrize("fields", [{"max_thinking_tokens": 12}, {"min_thinking_waits": 1, "max_thinking_tokens": 40}])
def test_streamed_split_equals_the_whole_one(served: Served, fields: dict) -> None:
    """Deltas of byte-level BPE tokens: a delimiter merged with its neighbours, characters split across tokens."""
    message = chat(served.url, **fields)["choices"][0]["message"]
    reasoning, content = streamed(served.url, **fields)
    assert (reasoning, content) == (message.get("reasoning_content") or "", message["content"] or "")
    end = served.thinking.format.delimiters.end
    assert end not in reasoning and end not in content


def test_max_thinking_zero_forces_the_end_at_once(served: Served) -> None:
    choice = chat(served.url, max_thinking_tokens=0)["choices"][0]
    assert choice["thinking_budget"] == {"thinking_tokens": 0, "waits": 0, "forced_end": True}
    assert not choice["message"].get("reasoning_content") and choice["message"]["content"] is not None


def test_logprobs_and_stop_strings_cover_the_answer_only(served: Served) -> None:
    choice = chat(served.url, max_thinking_tokens=16, logprobs=True)["choices"][0]
    answer, logprobs = choice["message"]["content"] or "", choice["logprobs"]
    # The thinking's tokens (and a <think> the model wrote), none of the closing's; the answer's, without the
    # dropped answer prefix.
    wrote_start = served.family == "qwen3"  # Qwen3's model opens its own thinking, as the real one does
    assert len(logprobs["reasoning"]) == choice["thinking_budget"]["thinking_tokens"] + wrote_start
    assert (logprobs["reasoning"][0]["token"] == "<think>") == wrote_start
    assert not answer.startswith("Final Answer:")
    assert "".join(entry["token"] for entry in logprobs["content"] or []).strip() != "" or not answer.strip()
    words = answer.split()  # a stop string without white space: the answer's first spaces were stripped
    stop = words[len(words) // 2][:3] if words else ""
    if stop:  # an answer that is only an EOS has nothing to stop at
        cut = chat(served.url, max_thinking_tokens=16, stop=[stop])["choices"][0]
        assert (cut["message"]["content"] or "") == answer[: answer.index(stop)]
        assert cut["message"]["reasoning_content"] == choice["message"]["reasoning_content"]


def test_the_template_switch_turns_the_thinking_and_the_budget_off(served: Served) -> None:
    switch = CATALOG[served.family].switch
    if switch is None:
        pytest.skip(f"{served.family}'s chat template has no thinking switch")
    choice = chat(served.url, max_thinking_tokens=8, chat_template_kwargs={switch: False})["choices"][0]
    assert choice["thinking_budget"]["thinking_off"] is True
    # No thinking at all: the model answers and stops by itself (well before max_tokens).
    assert "reasoning_content" not in choice["message"] and choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
