"""Write a family's test model as a Hugging Face model directory that vLLM loads like any other.

The directory holds ``config.json``, ``generation_config.json``, ``model.safetensors`` and the
tokenizer's files (``tokenizer.json``, ``tokenizer_config.json``, ``chat_template.jinja``). Nothing
is downloaded and nothing large is committed: tests build it in a temporary directory in a few
seconds (mostly the tokenizer conversion, cached per process, and writing 40-65 MB of bfloat16).

``generation_config.json`` carries only the EOS list and the pad id, as the repository's shipped model
does: a sampling default there (the real Qwen3 sets temperature 0.6) would become vLLM's default and
make un-parameterised requests random.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from transformers import PreTrainedTokenizerFast

from bench.families.catalog import MAX_POSITIONS, Family, family
from bench.families.circuit import PHASE_TOKENS, Delimiters, wire
from bench.families.hf_tokenizer import build_tokenizer
from bench.families.weights import SAVED_DTYPE, qwen3_config, random_weights


def token_id(tokenizer: PreTrainedTokenizerFast, text: str, last: bool = True) -> int:
    """The last (or first) token of ``text`` as the tokenizer encodes it."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    return int(ids[-1] if last else ids[0])


def delimiters(known: Family, tokenizer: PreTrainedTokenizerFast) -> Delimiters:
    """The ids the circuit needs: anchors (delimiters' last tokens), the end token, EOS, the opener."""
    return Delimiters(
        start_anchor=token_id(tokenizer, known.think_start),
        end_anchor=token_id(tokenizer, known.think_end),
        end_token=token_id(tokenizer, known.end_token),
        eos=token_id(tokenizer, known.eos_token),
        opener=token_id(tokenizer, known.think_start) if known.prompt_thinking == "none" else None,
    )


def model_config(known: Family, tokenizer: PreTrainedTokenizerFast) -> dict[str, Any]:
    """``config.json``: the family's embedding size and special ids."""
    bos = token_id(tokenizer, known.bos_token) if known.bos_token else None
    eos, pad = token_id(tokenizer, known.eos_token), token_id(tokenizer, known.pad_token)
    return qwen3_config(known.vocab_size, eos, pad, bos, MAX_POSITIONS)


def generation_config(known: Family, tokenizer: PreTrainedTokenizerFast) -> dict[str, Any]:
    """``generation_config.json``: every EOS of the family (Qwen also stops on ``<|endoftext|>``), no sampling."""
    config: dict[str, Any] = {
        "eos_token_id": [token_id(tokenizer, t) for t in known.eos_tokens],
        "pad_token_id": token_id(tokenizer, known.pad_token),
    }
    if known.bos_token:
        config["bos_token_id"] = token_id(tokenizer, known.bos_token)
    return config


def build_model(name: str, directory: Path, seed: int = 0, *, phase_tokens: int = PHASE_TOKENS) -> Path:
    """Write family ``name``'s test model into ``directory`` (created if missing) and return it.

    ``seed`` draws the random weights; ``phase_tokens`` is how many tokens the model thinks, and then
    answers, before it ends each by itself under greedy decoding (see ``circuit``).
    """
    known = family(name)
    tokenizer = build_tokenizer(name)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(directory)
    weights = wire(random_weights(known.vocab_size, seed), delimiters(known, tokenizer), phase_tokens)
    saved = {name: tensor.to(SAVED_DTYPE).contiguous() for name, tensor in weights.items()}
    save_file(saved, str(directory / "model.safetensors"), metadata={"format": "pt"})
    for file, content in (
        ("config.json", model_config(known, tokenizer)),
        ("generation_config.json", generation_config(known, tokenizer)),
    ):
        (directory / file).write_text(json.dumps(content, indent=2) + "\n")
    return directory
