"""The LoRA adapter's script: its examples, and files in PEFT's format that vLLM's own loader reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from transformers import AutoConfig

from server.ops.settings import SHIPPED_MODEL
from tinymodel.lora import DEFAULT_OUTPUT, TARGETS, ZERO_GUESS, train, zero_example
from tinymodel.task import ANSWER_PREFIX, THINK_END, WAIT, is_well_formed, random_problem

MODULES = {name for names in TARGETS.values() for name in names}


def test_examples_guess_zero_and_answer_zero_only_without_a_finished_pass() -> None:
    rng = random.Random(0)
    seen = set()
    for _ in range(400):
        problem = random_problem(rng)
        context, target = zero_example(problem, rng)
        completion = context + target
        assert completion.startswith(ZERO_GUESS) and is_well_formed(completion)
        answer = completion.rpartition(THINK_END)[2].removeprefix("\n\n").removeprefix(f"{ANSWER_PREFIX} ")
        finished = f"So {problem.answer}." in completion
        assert answer == str(problem.answer if finished else 0), completion
        seen.add((context == ZERO_GUESS + WAIT, ANSWER_PREFIX in target, finished))
    assert len(seen) >= 5  # forced Waits, forced ends, guesses kept: every kind is drawn


def check_adapter(directory: Path) -> None:
    """What vLLM reads: the config its PEFT helper validates, then the weights its LoRA model loads."""
    from vllm.config.lora import LoRAConfig
    from vllm.lora.lora_model import LoRAModel
    from vllm.lora.peft_helper import PEFTHelper

    config = json.loads((directory / "adapter_config.json").read_text())
    assert (config["peft_type"], config["bias"], set(config["target_modules"])) == ("LORA", "none", MODULES)
    base = AutoConfig.from_pretrained(SHIPPED_MODEL)
    helper = PEFTHelper.from_local_dir(str(directory), base.max_position_embeddings)
    helper.validate_legal(LoRAConfig(max_lora_rank=16))
    with safe_open(directory / "adapter_model.safetensors", framework="pt") as weights:
        shapes = {key: tuple(weights.get_slice(key).get_shape()) for key in weights.keys()}
    q = "base_model.model.model.layers.0.self_attn.q_proj"
    assert shapes[f"{q}.lora_A.weight"] == (config["r"], base.hidden_size)
    assert shapes[f"{q}.lora_B.weight"] == (base.num_attention_heads * base.head_dim, config["r"])
    assert len(shapes) == 2 * len(MODULES) * base.num_hidden_layers
    lora = LoRAModel.from_local_checkpoint(
        str(directory), MODULES, helper, lora_model_id=1, device="cpu", dtype=torch.float32, model_vocab_size=264
    )
    assert len(lora.loras) == len(MODULES) * base.num_hidden_layers


def test_the_shipped_adapter_is_small_and_loads_as_vllm_loads_it() -> None:
    size = sum(path.stat().st_size for path in DEFAULT_OUTPUT.iterdir())
    assert 0 < size <= 400 * 1024
    check_adapter(DEFAULT_OUTPUT)


@pytest.mark.timeout(120)
def test_a_short_run_writes_the_same_format(tmp_path: Path) -> None:
    train(SHIPPED_MODEL, tmp_path, steps=2, batch_size=2, peak_lr=1e-2, rank=4, seed=0)
    check_adapter(tmp_path)
    assert json.loads((tmp_path / "adapter_config.json").read_text())["base_model_name_or_path"] == (
        "server/models/tiny-reasoner"
    )
