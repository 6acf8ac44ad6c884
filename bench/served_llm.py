"""``vllm.LLM.generate`` over a running server's ``/v1/completions``: token ids in, token ids out.

s1's reference procedure (:mod:`bench.s1_reference`) re-prompts with the ids decoded so far; through
this adapter it runs on a server that is already up (vLLM's ``stop_token_ids`` and ``return_token_ids``,
no budget fields, so the budget processor leaves every row alone), which saves an engine start per model
where tests start many (``tests/e2e/test_families.py``). The shipped model's oracle still uses a plain
``vllm.LLM``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Completion:
    token_ids: list[int]


@dataclass(frozen=True)
class Output:
    """The part of vLLM's ``RequestOutput`` the reference reads: ``outputs[0].token_ids``."""

    outputs: list[Completion]


@dataclass(frozen=True)
class ServedLLM:
    base_url: str
    timeout: float = 300.0

    def generate(self, prompts: list[Any], params: Any, use_tqdm: bool = False) -> list[Output]:
        """``prompts``: vLLM ``TokensPrompt``s; ``params``: one ``SamplingParams`` or one per prompt (greedy)."""
        each = params if isinstance(params, list) else [params] * len(prompts)
        return asyncio.run(self._all([p["prompt_token_ids"] for p in prompts], each))

    async def _all(self, prompts: list[list[int]], params: list[Any]) -> list[Output]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
            return list(await asyncio.gather(*(self._one(client, p, s) for p, s in zip(prompts, params, strict=True))))

    @staticmethod
    async def _one(client: httpx.AsyncClient, prompt: list[int], params: Any) -> Output:
        body = {
            "prompt": prompt, "max_tokens": params.max_tokens, "temperature": params.temperature,
            "stop_token_ids": list(params.stop_token_ids or []), "return_token_ids": True,
        }  # fmt: skip
        response = await client.post("/v1/completions", json=body)
        response.raise_for_status()
        return Output([Completion(response.json()["choices"][0]["token_ids"])])
