"""How often, and where, each family's test model ends its thinking and its answer on vLLM (greedy).

``python -m bench.families.greedy_rates [NAME ...] [--prompts 16] [--json out.json]``: builds each
model in a temporary directory, starts ``vllm.LLM`` on it (CPU defaults, as the repository's other
offline benchmarks), decodes the held-out addition questions greedily through the chat template, and
reports per family the build and engine-start seconds, the share of completions with the end token
and with EOS, and their positions (tokens from the first generated one). This is the evidence behind
``circuit``'s constants; ``tests/e2e/test_families.py`` checks the behaviour through the server in CI.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.families.build import build_model, delimiters
from bench.families.catalog import FAMILIES, family
from tinymodel.task import held_out_problems

MAX_TOKENS = 120


@dataclass(frozen=True)
class Rates:
    family: str
    build_s: float
    engine_start_s: float
    prompts: int
    ended_thinking: int  # completions containing the end token
    ended: int  # completions that stopped on EOS
    end_positions: list[int | None]
    eos_positions: list[int | None]


def position(ids: list[int], token: int) -> int | None:
    """Index of ``token``'s first occurrence in ``ids``, None when absent."""
    return ids.index(token) if token in ids else None


def load(directory: Path) -> Any:
    """vLLM's offline engine on a built model: eager (no compile on CPU), seeded, a small KV cache."""
    from vllm import LLM

    return LLM(model=str(directory), enforce_eager=True, gpu_memory_utilization=0.1, seed=0, max_model_len=2048)


def greedy(llm: Any, prompts: list[str], max_tokens: int = MAX_TOKENS) -> list[list[int]]:
    """Greedy completions (token ids) of one user message each, through the model's chat template."""
    from vllm import SamplingParams

    chats = [[{"role": "user", "content": prompt}] for prompt in prompts]
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, skip_special_tokens=False)
    outputs = llm.chat(chats, params, use_tqdm=False)
    return [list(output.outputs[0].token_ids) for output in outputs]


def measure(name: str, prompts: int) -> Rates:
    """Build, load and decode family ``name``; the rates and positions of its end token and EOS."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        directory = build_model(name, Path(tmp))
        built = time.perf_counter()
        llm = load(directory)
        loaded = time.perf_counter()
        ids = delimiters(family(name), llm.get_tokenizer())
        questions = [p.question for p in held_out_problems(prompts, seed=7)]
        completions = greedy(llm, questions)
        del llm
    ends = [position(c, ids.end_token) for c in completions]
    eoses = [position(c, ids.eos) for c in completions]
    return Rates(
        name, round(built - started, 2), round(loaded - built, 2), prompts,
        sum(e is not None for e in ends), sum(e is not None for e in eoses), ends, eoses,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"families (default: all of {', '.join(FAMILIES)})")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--json", type=Path, help="write the rates here as well")
    args = parser.parse_args()
    results = [measure(name, args.prompts) for name in args.names or FAMILIES]
    for r in results:
        print(
            f"{r.family}: build {r.build_s}s, engine start {r.engine_start_s}s, "
            f"end token {r.ended_thinking}/{r.prompts} at {r.end_positions}, "
            f"EOS {r.ended}/{r.prompts} at {r.eos_positions}"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
