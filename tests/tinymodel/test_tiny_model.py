"""The shipped model: its files, its tokenizer, and that ``transformers`` loads and runs it."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from server.ops.settings import SHIPPED_MODEL
from tinymodel.task import Problem, is_well_formed


def test_weights_are_small_and_the_shape_suits_vllm_on_cpu() -> None:
    weights = sum(path.stat().st_size for path in SHIPPED_MODEL.glob("*.safetensors"))
    assert 0 < weights <= 20 * 2**20
    config = AutoConfig.from_pretrained(SHIPPED_MODEL)
    assert config.model_type == "qwen3" and config.head_dim >= 64
    assert config.num_attention_heads % 2 == 0 and config.num_key_value_heads % 2 == 0  # tensor parallel 2


def test_tokenizer_has_single_token_delimiters_and_a_thinking_template() -> None:
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
    for word in ("<think>", "</think>", "Wait", "<tool_call>", "</tool_call>"):
        assert len(tokenizer.encode(word, add_special_tokens=False)) == 1
    assert tokenizer.encode("So.\nWait,", add_special_tokens=False)[-2] == tokenizer.convert_tokens_to_ids("Wait")
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "1+2"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    assert tokenizer.eos_token == "<|im_end|>"


@pytest.mark.parametrize("problem", [Problem(482, 397), Problem(15, 27, 2)])
def test_transformers_runs_it_and_it_answers_in_format(problem: Problem) -> None:
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODEL)
    model = AutoModelForCausalLM.from_pretrained(SHIPPED_MODEL)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": problem.question}], tokenize=False, add_generation_prompt=True
    )
    ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)])
    out = model.generate(ids, max_new_tokens=80, do_sample=False)
    completion = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert is_well_formed(completion), completion
    assert completion.startswith("Quick guess: ")
