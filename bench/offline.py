"""The offline engine the speed benchmarks share: ``vllm.LLM`` on the shipped model, with or without our processor.

Measuring on the offline engine keeps HTTP out of the numbers, so a ratio shows
the cost of the decode-time hook itself. Budgets reach the processor exactly as
the server sends them (``SamplingParams.extra_args``).
"""

from __future__ import annotations

import time
from typing import Any

from server.engine.forcing.runner import choose
from server.engine.vllm_engine import eos_token_ids
from server.ops.settings import SHIPPED_MODEL
from server.thinking.plan import GenerationPlan
from server.thinking.spec import BudgetSpec, to_budget
from server.thinking.tokens import ThinkingTokens, resolve_thinking_tokens
from tinymodel.task import held_out_problems


def load_llm(
    *, processor: bool, prefix_caching: bool = True, memory: float = 0.1, dtype: str = "auto", model: str = ""
) -> Any:
    """A model (default: the shipped one) on vLLM (CPU defaults); ``processor``: register the budget processor
    of vLLM's runner."""
    from vllm import LLM, EngineArgs

    options: dict[str, Any] = {
        "model": model or str(SHIPPED_MODEL), "gpu_memory_utilization": memory, "enforce_eager": True, "seed": 0,
        "enable_prefix_caching": prefix_caching, "dtype": dtype,
    }  # fmt: skip
    if processor:  # the runner is known once the configuration is: build it once to ask
        options["logits_processors"] = [choose(EngineArgs(**options).create_engine_config()).processor]
    return LLM(**options)


def encode_chats(tokenizer: Any, contents: list[str]) -> list[list[int]]:
    """One user message each, through the chat template (which opens the thinking), as token ids."""
    chats = [[{"role": "user", "content": content}] for content in contents]
    texts = [tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) for chat in chats]
    return [tokenizer.encode(text, add_special_tokens=False) for text in texts]


def chat_prompts(tokenizer: Any, n: int, seed: int = 7, preamble: str = "") -> list[list[int]]:
    """Held-out addition questions, each after ``preamble``."""
    return encode_chats(tokenizer, [preamble + p.question for p in held_out_problems(n, seed=seed)])


def thinking_tokens(llm: Any) -> ThinkingTokens:
    """The delimiters and EOS ids as the server resolves them (generation config and tokenizer)."""
    tokenizer = llm.get_tokenizer()
    return resolve_thinking_tokens(tokenizer, "auto", eos_token_ids(llm.llm_engine.model_config, tokenizer))


def budget_extra_args(llm: Any, fields: dict[str, int]) -> dict[str, Any] | None:
    """``extra_args`` for a budget given as request fields (``min_thinking_waits`` …), None for none."""
    spec = BudgetSpec(
        min_tokens=fields.get("min_thinking_tokens", 0),
        max_tokens=fields.get("max_thinking_tokens"),
        min_waits=fields.get("min_thinking_waits", 0),
        wait_string="Wait",
        answer_prefix="Final Answer:",
    )
    if not spec.is_active:
        return None
    return GenerationPlan(to_budget(spec, thinking_tokens(llm), llm.get_tokenizer()), True).to_extra_args()


def timed_generate(llm: Any, prompts: list[list[int]], params: Any) -> tuple[float, list[Any]]:
    """Wall seconds and outputs of one batched ``generate`` (``params``: one or one per prompt)."""
    from vllm import TokensPrompt

    started = time.perf_counter()
    outputs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
    return time.perf_counter() - started, outputs
