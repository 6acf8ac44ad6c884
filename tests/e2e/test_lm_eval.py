"""lm-evaluation-harness against the real server: its ``local-completions`` model scores a multiple-choice task
by loglikelihood, which it reads from ``echo`` with ``logprobs`` (the prompt's tokens' logprobs), as on vLLM.

The task is built from the tiny model's held-out additions, offline: each context is the chat prompt and a
thinking that has added the columns; the choices are the sum and three near misses ("So 128." vs "So 129.",
"So 138.", the quick guess). Reading the sum off the column lines is what the model was trained to do, so
its accuracy is far above chance (1 in 4) only if the server's prompt logprobs are the model's.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from server.ops.settings import SHIPPED_MODEL, SHIPPED_MODEL_NAME
from tinymodel.task import WAIT, Problem, column_lines, held_out_problems, quick_guess

pytestmark = pytest.mark.engine
PROBLEMS = 20
TASK = "tiny_sums"


def document(problem: Problem, tokenizer: Any, rng: random.Random) -> dict[str, Any]:
    """One question: the context up to the sum, the sum and its near misses in a shuffled order."""
    chat = [{"role": "user", "content": problem.question}]
    prompt = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    thinking = f"Quick guess: {quick_guess(problem.a, problem.b)}.\n{WAIT}, let me add column by column.\n"
    sums = {problem.answer, problem.answer + 1, problem.answer + 10, quick_guess(problem.a, problem.b)}
    sums |= {problem.answer + 100, problem.answer + 2} if len(sums) < 4 else set()
    wrong = sorted(sums - {problem.answer})[:3]
    choices = [problem.answer, *wrong]
    rng.shuffle(choices)
    return {
        "context": prompt + thinking + column_lines(problem.a, problem.b),
        "choices": [f"So {total}." for total in choices],
        "label": choices.index(problem.answer),
    }


def write_task(folder: Path) -> None:
    """The dataset as a local JSON-lines file and the task's YAML (JSON is YAML) beside it."""
    tokenizer, rng = AutoTokenizer.from_pretrained(SHIPPED_MODEL), random.Random(0)
    data = folder / "sums.jsonl"
    data.write_text("".join(json.dumps(document(p, tokenizer, rng)) + "\n" for p in held_out_problems(PROBLEMS)))
    config = {
        "task": TASK,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "context",
        "doc_to_choice": "choices",
        "doc_to_target": "label",
        "target_delimiter": "",
        "metric_list": [{"metric": "acc"}],
    }
    (folder / f"{TASK}.yaml").write_text(json.dumps(config))


def test_local_completions_scores_the_tiny_models_sums(
    base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # no hub here: everything is local
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    import lm_eval
    from lm_eval.tasks import TaskManager

    write_task(tmp_path)
    model_args = {
        "model": SHIPPED_MODEL_NAME,
        "base_url": f"{base_url}/v1/completions",
        "tokenizer_backend": "huggingface",
        "tokenizer": str(SHIPPED_MODEL),
        "max_retries": 1,
        "max_length": 1024,
    }
    results = lm_eval.simple_evaluate(
        model="local-completions",
        model_args=model_args,
        tasks=[TASK],
        task_manager=TaskManager(include_path=str(tmp_path), include_defaults=False),
        batch_size=8,  # eight prompts per request: a list of token-id prompts, one engine request each
        bootstrap_iters=0,
        log_samples=False,
    )
    assert results is not None
    accuracy = results["results"][TASK]["acc,none"]
    assert accuracy >= 0.8, results["results"]  # chance is 0.25
