"""The engine's own tokenizer, inside the engine's process: what the boundary set of a grace is read from.

Loaded as vLLM loads it (its cache, its tokenizer modes), at the first request with a grace, so this
import stays out of the processors' import time. vLLM 0.32 takes the model config; later versions take a
renderer config with the same tokenizer fields, which the engine config carries beside it.
"""

from __future__ import annotations

from typing import Any


def engine_tokenizer(vllm_config: Any) -> Any:
    from vllm.tokenizers import cached_tokenizer_from_config

    config = getattr(vllm_config, "renderer_config", None) or vllm_config.model_config
    return cached_tokenizer_from_config(config)  # None under --skip-tokenizer-init
