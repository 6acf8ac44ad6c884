"""Which budget processor the engine loads: the one for the model runner vLLM will use.

vLLM's two runners take different processor interfaces and each rejects the other's
classes at startup, so the choice follows vLLM's own (``VllmConfig.use_v2_model_runner``:
the ``VLLM_USE_V2_MODEL_RUNNER`` variable if set, else V2 where Triton runs and no
unsupported feature is on). vLLM 0.34 has removed the V1 runner and its processor
module: V2 there, without importing anything of V1.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from server.engine.forcing.plans import SPECULATIVE_DECODING

V1_PROCESSOR = "server.engine.forcing.v1:V1BudgetProcessor"
V2_PROCESSOR = "server.engine.forcing.v2:V2BudgetProcessor"
V1_INTERFACE = "vllm.v1.sample.logits_processor"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    runner: str  # "V1" or "V2"
    processor: str  # the processor's "module:Class", as vLLM loads it

    def describe(self) -> str:
        return f"vLLM model runner {self.runner}; thinking budgets by {self.processor}"


def has_v1_runner() -> bool:
    """Whether this vLLM still ships the V1 runner's processor interface (up to 0.33)."""
    try:
        return importlib.util.find_spec(V1_INTERFACE) is not None
    except ModuleNotFoundError:
        return False


def choose(vllm_config: Any) -> Choice:
    if has_v1_runner() and not getattr(vllm_config, "use_v2_model_runner", True):
        return Choice("V1", V1_PROCESSOR)
    return Choice("V2", V2_PROCESSOR)


def check_supported(vllm_config: Any) -> None:
    """A clear error at startup for what the budget cannot run with (rather than one from the engine's workers)."""
    if getattr(vllm_config, "speculative_config", None) is not None:
        raise ValueError(SPECULATIVE_DECODING)


def register(vllm_config: Any) -> Choice:
    """Add the matching budget processor to the engine's configuration (before the engine is built)."""
    check_supported(vllm_config)
    choice = choose(vllm_config)
    model_config = vllm_config.model_config
    model_config.logits_processors = [*(model_config.logits_processors or []), choice.processor]
    logger.info("%s", choice.describe())
    return choice
