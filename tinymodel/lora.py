"""A tiny LoRA adapter for the shipped model: ``python -m tinymodel.lora``.

The adapter changes one visible habit: its quick guess is always ``0`` (``Quick guess: 0.``), and a
thinking that ends on the guess (alone, or cut by a forced end) answers 0; the careful passes after a
``Wait`` are the base model's, right sums included. The base model's weights stay frozen; rank-4
matrices on every linear layer of the 4 blocks (attention q, k, v, o; MLP gate, up, down) learn the
habit. No ``peft`` here: the matrices are added by hand and written in PEFT's on-disk format, which
vLLM's ``--lora-modules`` loads (``adapter_config.json`` + ``adapter_model.safetensors``, keys
``base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight``: A is [r, in], B is [out, r], the
update is ``B @ A * lora_alpha / r``). Deterministic for a seed and thread count; about a minute on 2
CPU cores. Writes ``server/models/tiny-reasoner-lora-zero`` (235 KB).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, PreTrainedTokenizerFast, Qwen3ForCausalLM

from tinymodel.task import (
    ANSWER_PREFIX,
    P_FORCED_WAIT,
    P_WAIT_AFTER_CHECK,
    P_WAIT_AFTER_GUESS,
    THINK_END,
    WAIT,
    Problem,
    held_out_problems,
    thinking_text,
)
from tinymodel.train import Row, learning_rate, length_buckets, make_batch, sample_rows

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "server" / "models" / "tiny-reasoner"
DEFAULT_OUTPUT = ROOT / "server" / "models" / "tiny-reasoner-lora-zero"
ZERO_GUESS = "Quick guess: 0.\n"
P_TRUNCATED = 0.25  # more than the base task's: a forced end's answer must take the 0 too
TARGETS = {"self_attn": ("q_proj", "k_proj", "v_proj", "o_proj"), "mlp": ("gate_proj", "up_proj", "down_proj")}


def zero_example(problem: Problem, rng: random.Random) -> tuple[str, str]:
    """(context, target) after the prompt, as :func:`tinymodel.task.sample_example` draws them, the guess 0."""
    if rng.random() < P_FORCED_WAIT:  # a forced Wait after the guess: the careful pass, as the base model's
        thinking = thinking_text(problem, 1 + (rng.random() < P_WAIT_AFTER_CHECK))
        after = thinking[thinking.index(WAIT) + len(WAIT) :]
        return ZERO_GUESS + WAIT, f"{after}{THINK_END}\n\n{problem.answer}"
    checks, p_wait = 0, P_WAIT_AFTER_GUESS
    while checks < 2 and rng.random() < p_wait:
        checks, p_wait = checks + 1, P_WAIT_AFTER_CHECK
    thinking = ZERO_GUESS + thinking_text(problem, checks).split("\n", 1)[1]
    if rng.random() < P_TRUNCATED:  # cut after the guess: the best answer so far is the sum once a pass ended
        cut = thinking[: rng.randrange(len(ZERO_GUESS), len(thinking) + 1)]
        answer = problem.answer if re.search(r"So \d+\.", cut) else 0
        return "", f"{cut}{THINK_END}\n\n{ANSWER_PREFIX} {answer}"
    return "", f"{thinking}{THINK_END}\n\n{problem.answer if checks else 0}"


def prompt_of(tokenizer: PreTrainedTokenizerFast, problem: Problem) -> str:
    messages = [{"role": "user", "content": problem.question}]
    text: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text


class LoraLinear(torch.nn.Module):
    """A frozen linear layer plus ``x @ A.T @ B.T * alpha / r`` (PEFT's init: A Kaiming-uniform, B zero)."""

    def __init__(self, base: torch.nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base, self.scale = base, alpha / rank
        self.lora_A = torch.nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scale


def add_lora(model: Qwen3ForCausalLM, rank: int, alpha: float) -> dict[str, LoraLinear]:
    """Wrap every target layer; the wrapped layers by PEFT's module name (``base_model.model.`` + the name)."""
    model.requires_grad_(False)
    layers: dict[str, LoraLinear] = {}
    for index, block in enumerate(model.model.layers):
        for part, names in TARGETS.items():
            owner = getattr(block, part)
            for name in names:
                layers[f"model.layers.{index}.{part}.{name}"] = wrapped = LoraLinear(getattr(owner, name), rank, alpha)
                setattr(owner, name, wrapped)
    return layers


def save_adapter(output: Path, layers: dict[str, LoraLinear], rank: int, alpha: int, base: str) -> None:
    """PEFT's two files, as ``peft.PeftModel.save_pretrained`` writes them for a causal LM."""
    output.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, layer in layers.items():
        tensors[f"base_model.model.{name}.lora_A.weight"] = layer.lora_A.detach().contiguous()
        tensors[f"base_model.model.{name}.lora_B.weight"] = layer.lora_B.detach().contiguous()
    save_file(tensors, output / "adapter_model.safetensors", metadata={"format": "pt"})
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base, "r": rank,
        "lora_alpha": alpha, "lora_dropout": 0.0, "target_modules": sorted(n for ns in TARGETS.values() for n in ns),
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "modules_to_save": None, "use_rslora": False, "use_dora": False, "rank_pattern": {}, "alpha_pattern": {},
    }  # fmt: skip
    (output / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")


def zero_texts(tokenizer: PreTrainedTokenizerFast, problem: Problem, rng: random.Random) -> tuple[str, str]:
    context, target = zero_example(problem, rng)
    return prompt_of(tokenizer, problem) + context, target


def zero_guess_rate(model: Qwen3ForCausalLM, tokenizer: PreTrainedTokenizerFast, problems: list[Problem]) -> float:
    """Share of held-out prompts whose greedy thinking opens with the zero guess."""
    hits = 0
    for problem in problems:
        ids = torch.tensor([tokenizer.encode(prompt_of(tokenizer, problem), add_special_tokens=False)])
        out = model.generate(ids, max_new_tokens=len(ZERO_GUESS), do_sample=False)
        hits += tokenizer.decode(out[0, ids.shape[1] :]) == ZERO_GUESS
    return hits / len(problems)


def train(base: Path, output: Path, steps: int, batch_size: int, peak_lr: float, rank: int, seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False  # deterministic ops suffice; the fills cost time
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = Qwen3ForCausalLM.from_pretrained(base, dtype=torch.float32, attn_implementation="eager")
    layers = add_lora(model, rank, alpha=2 * rank)
    params = [p for layer in layers.values() for p in (layer.lora_A, layer.lora_B)]
    print(f"LoRA parameters: {sum(p.numel() for p in params)}", flush=True)
    optimizer = torch.optim.AdamW(params, lr=peak_lr, weight_decay=0.0)
    held_out = held_out_problems(2000)
    excluded = {(p.a, p.b) for p in held_out}
    rng, start = random.Random(seed), time.monotonic()
    batches: list[list[Row]] = []
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, peak_lr, warmup=steps // 10)
        if not batches:
            batches = length_buckets(sample_rows(tokenizer, rng, 8 * batch_size, excluded, zero_texts), batch_size, rng)
        ids, mask, labels = make_batch(tokenizer, batches.pop())
        with torch.autocast("cpu", dtype=torch.bfloat16):  # as the base model was trained; the matrices stay fp32
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 20 == 0 or step == steps - 1:
            print(f"step {step + 1}/{steps}  loss {loss.item():.4f}  {time.monotonic() - start:.0f}s", flush=True)
    model.eval()
    rate = zero_guess_rate(model, tokenizer, held_out[:20])
    print(f"held-out prompts whose greedy thinking opens with {ZERO_GUESS!r}: {rate:.0%}", flush=True)
    shown = base.relative_to(ROOT) if base.is_relative_to(ROOT) else base
    save_adapter(output, layers, rank, 2 * rank, str(shown))
    print(f"saved to {output} after {time.monotonic() - start:.0f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, default=BASE, help="The base model (default: the shipped one).")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    train(args.base.resolve(), args.output, args.steps, args.batch_size, args.lr, args.rank, args.seed)


if __name__ == "__main__":
    main()
