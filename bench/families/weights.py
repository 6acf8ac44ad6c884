"""A seeded, randomly initialised Qwen3 (``Qwen3ForCausalLM``) at a real vocabulary size, as plain tensors.

Small enough to build in a second and load on vLLM's CPU backend in seconds: hidden 64, head_dim 64
(vLLM's CPU attention wants 64; 16 fails), 2 query heads sharing 1 KV head, 2 layers, MLP 128, untied
embeddings. The embedding and LM head are the bulk (151,936 x 64 x 2 bfloat16, 39 MB; Qwen3.5 64 MB).

Saved as bfloat16: vLLM's CPU backend runs a float32 checkpoint in bfloat16 anyway unless every engine is
started with ``dtype="float32"`` (its "auto" downcasts float32 to the platform's first dtype), so float32
files would cost twice the bytes and the write time and change nothing. The weights are drawn and wired
in float32 and cast once; the circuit keeps its margins above bfloat16's rounding, so the positions of
the end token and EOS do not depend on the batch (only the random filler text between them may).

The tensors are drawn with ``torch.Generator`` directly (no transformers model is instantiated), in
the names and shapes vLLM and transformers load (a test checks them against a meta-device model).
"""

from __future__ import annotations

from typing import Any

import torch
import transformers

HIDDEN = 64
HEAD_DIM = 64
HEADS = 2
KV_HEADS = 1
LAYERS = 2
INTERMEDIATE = 128
ROPE_THETA = 1_000_000.0  # Qwen3's; the circuit's clock frequencies are derived from it
INIT_STD = 0.02  # Qwen3's initializer_range
DTYPE = torch.float32  # drawing and wiring
SAVED_DTYPE = torch.bfloat16  # what the checkpoint holds


def qwen3_config(
    vocab_size: int, eos_token_id: int, pad_token_id: int, bos_token_id: int | None, positions: int
) -> dict[str, Any]:
    """``config.json`` for the small Qwen3 (field names as transformers 5 writes them).

    ``transformers_version`` matters: without it transformers takes a local tokenizer for a Mistral one
    and warns that its regex is wrong.
    """
    return {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN,
        "head_dim": HEAD_DIM,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "num_hidden_layers": LAYERS,
        "intermediate_size": INTERMEDIATE,
        "layer_types": ["full_attention"] * LAYERS,
        "max_window_layers": LAYERS,
        "max_position_embeddings": positions,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_theta": ROPE_THETA, "rope_type": "default"},
        "attention_bias": False,
        "attention_dropout": 0.0,
        "use_sliding_window": False,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "initializer_range": INIT_STD,
        "bos_token_id": bos_token_id,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
        "use_cache": True,
        "dtype": "bfloat16",
        "transformers_version": transformers.__version__,
    }


def tensor_shapes(vocab_size: int) -> dict[str, tuple[int, ...]]:
    """Every parameter of ``Qwen3ForCausalLM`` at this size, by its checkpoint name."""
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (vocab_size, HIDDEN),
        "model.norm.weight": (HIDDEN,),
        "lm_head.weight": (vocab_size, HIDDEN),
    }
    for layer in range(LAYERS):
        prefix = f"model.layers.{layer}."
        shapes |= {
            prefix + "input_layernorm.weight": (HIDDEN,),
            prefix + "post_attention_layernorm.weight": (HIDDEN,),
            prefix + "self_attn.q_proj.weight": (HEADS * HEAD_DIM, HIDDEN),
            prefix + "self_attn.k_proj.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
            prefix + "self_attn.v_proj.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
            prefix + "self_attn.o_proj.weight": (HIDDEN, HEADS * HEAD_DIM),
            prefix + "self_attn.q_norm.weight": (HEAD_DIM,),
            prefix + "self_attn.k_norm.weight": (HEAD_DIM,),
            prefix + "mlp.gate_proj.weight": (INTERMEDIATE, HIDDEN),
            prefix + "mlp.up_proj.weight": (INTERMEDIATE, HIDDEN),
            prefix + "mlp.down_proj.weight": (HIDDEN, INTERMEDIATE),
        }
    return shapes


def random_weights(vocab_size: int, seed: int) -> dict[str, torch.Tensor]:
    """Norms at one, every matrix N(0, 0.02): what ``Qwen3ForCausalLM`` initialises, drawn in name order."""
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in sorted(tensor_shapes(vocab_size).items()):
        if name.endswith("norm.weight"):
            weights[name] = torch.ones(shape, dtype=DTYPE)
        else:
            weights[name] = torch.randn(shape, generator=generator, dtype=DTYPE) * INIT_STD
    return weights
