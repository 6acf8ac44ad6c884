"""Train the tiny reasoning model from scratch: ``python -m tinymodel.train``.

A 1.8M-parameter Qwen3 (4 layers, hidden 192, 4 heads of dim 64, 2 KV heads) on
freshly sampled addition problems (``tinymodel.task``), most plain, the rest as tool
calls, tool results and JSON answers (``tinymodel.tools_task``), loss on the
completion only. Deterministic for a given seed and thread count; 2,000 steps in
about 30 minutes on 2 CPU cores (29 min 59 s measured, nothing else running).
``--init DIR`` starts from existing weights instead (new tokens get the mean
embedding): a cheap fine-tune that ``python -m tinymodel.train`` alone does not reproduce.
Writes a Hugging Face model directory (weights, config, tokenizer, chat template)
that both vLLM and ``transformers`` load.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from tinymodel.task import Problem, held_out_problems, random_problem
from tinymodel.tokenizer import save_tokenizer
from tinymodel.tools_task import ChatExample, sample_chat_example

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "server" / "models" / "tiny-reasoner"
IGNORE = -100


def model_config(tokenizer: PreTrainedTokenizerFast) -> Qwen3Config:
    return Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=192,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,  # divisible by 2: tensor parallel 2 works
        num_key_value_heads=2,
        head_dim=64,  # vLLM's CPU attention does not support 16
        max_position_embeddings=1024,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        torch_dtype="float32",
    )


def prompt_text(tokenizer: PreTrainedTokenizerFast, example: ChatExample) -> str:
    return tokenizer.apply_chat_template(
        example.messages, tools=example.tools, tokenize=False, add_generation_prompt=True
    )


Row = tuple[list[int], list[int]]  # prompt ids, completion ids (+ EOS)


Texts = Callable[[PreTrainedTokenizerFast, Problem, random.Random], tuple[str, str]]  # prompt (+ context), target


def chat_texts(tokenizer: PreTrainedTokenizerFast, problem: Problem, rng: random.Random) -> tuple[str, str]:
    """One example of the mixture: the chat prompt with its context, and the target."""
    example = sample_chat_example(problem, rng)
    return prompt_text(tokenizer, example) + example.context, example.target


def sample_rows(
    tokenizer: PreTrainedTokenizerFast,
    rng: random.Random,
    count: int,
    excluded: set[tuple[int, int]],
    texts: Texts = chat_texts,
) -> list[Row]:
    """``count`` fresh problems (none of ``excluded``) as token rows; the tokenizer adds no special tokens."""
    rows: list[Row] = []
    while len(rows) < count:
        problem = random_problem(rng)
        if (problem.a, problem.b) in excluded:
            continue
        prompt, target = texts(tokenizer, problem, rng)
        rows.append((tokenizer.encode(prompt), [*tokenizer.encode(target), tokenizer.eos_token_id]))
    return rows


def length_buckets(rows: list[Row], size: int, rng: random.Random) -> list[list[Row]]:
    """Batches of similar length (less padding), in random order."""
    rows = sorted(rows, key=lambda row: len(row[0]) + len(row[1]))
    batches = [rows[i : i + size] for i in range(0, len(rows), size)]
    rng.shuffle(batches)
    return batches


def make_batch(tokenizer: PreTrainedTokenizerFast, rows: list[Row]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """input_ids, attention_mask, labels: [rows, longest]; labels mask the prompt and padding."""
    size = len(rows)
    longest = max(len(p) + len(c) for p, c in rows)
    ids = torch.full((size, longest), tokenizer.pad_token_id)
    mask = torch.zeros((size, longest), dtype=torch.long)
    labels = torch.full((size, longest), IGNORE)
    for i, (prompt, completion) in enumerate(rows):
        n = len(prompt) + len(completion)
        ids[i, :n] = torch.tensor(prompt + completion)
        mask[i, :n] = 1
        labels[i, len(prompt) : n] = torch.tensor(completion)
    return ids, mask, labels


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def train(output: Path, steps: int, batch_size: int, peak_lr: float, seed: int, init: Path | None = None) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    tokenizer = save_tokenizer(output)
    if init:  # warm start (e.g. from the previous shipped weights): new token rows get the mean embedding
        model = Qwen3ForCausalLM.from_pretrained(init, dtype=torch.float32)
        known = model.get_input_embeddings().weight.shape[0]
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():
            embeddings = model.get_input_embeddings().weight
            embeddings[known:] = embeddings[:known].mean(0)
    else:
        model = Qwen3ForCausalLM(model_config(tokenizer))
    print(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M", flush=True)
    excluded = {(p.a, p.b) for p in held_out_problems(2000)}
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.01, betas=(0.9, 0.98))
    rng = random.Random(seed)
    start = time.monotonic()
    model.train()
    batches: list[list[Row]] = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, peak_lr, warmup=min(100, steps // 10))
        if not batches:
            batches = length_buckets(sample_rows(tokenizer, rng, 8 * batch_size, excluded), batch_size, rng)
        ids, mask, labels = make_batch(tokenizer, batches.pop())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 50 == 0 or step == steps - 1:
            elapsed = time.monotonic() - start
            print(f"step {step + 1}/{steps}  loss {loss.item():.4f}  {elapsed:.0f}s", flush=True)
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, tokenizer.pad_token_id]
    model.save_pretrained(output, safe_serialization=True)
    print(f"saved to {output} after {time.monotonic() - start:.0f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", type=Path, help="Start from these weights (new tokens appended) instead of scratch.")
    args = parser.parse_args()
    torch.set_num_threads(2)
    train(args.output, args.steps, args.batch_size, args.lr, args.seed, args.init)


if __name__ == "__main__":
    main()
