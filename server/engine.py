"""The engine boundary: what the HTTP layer needs from an engine, and vLLM's ``AsyncLLM`` behind it.

``AsyncLLM`` gives continuous batching across requests, streamed outputs, and
aborts a request when the caller stops iterating (client disconnect).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from vllm import RequestOutput, SamplingParams
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM


class Engine(Protocol):
    """The engine as the routes see it; tests substitute a fake."""

    @property
    def model_names(self) -> list[str]: ...

    @property
    def max_model_len(self) -> int: ...

    @property
    def tokenizer(self) -> Any: ...

    @property
    def eos_token_ids(self) -> set[int]:
        """Every token id that ends a request (the tokenizer's and the generation config's)."""
        ...

    @property
    def is_healthy(self) -> bool: ...

    def generate(self, prompt_ids: list[int], params: SamplingParams, request_id: str) -> AsyncIterator[RequestOutput]:
        """Outputs as the engine makes them; closing the iterator aborts the request."""
        ...

    async def log_stats(self) -> None:
        """Log the engine's throughput, queue and KV-cache line (called periodically)."""
        ...


class VllmEngine:
    """Adapter over ``vllm.v1.engine.async_llm.AsyncLLM``."""

    def __init__(self, llm: AsyncLLM, model_names: list[str]) -> None:
        self._llm = llm
        self._model_names = model_names
        self._tokenizer = llm.get_tokenizer()

    @classmethod
    def start(cls, args: AsyncEngineArgs) -> VllmEngine:
        from vllm.usage.usage_lib import UsageContext
        from vllm.v1.engine.async_llm import AsyncLLM

        llm = AsyncLLM.from_engine_args(args, usage_context=UsageContext.OPENAI_API_SERVER)
        names = llm.model_config.served_model_name
        return cls(llm, [names] if isinstance(names, str) else list(names))

    @property
    def model_names(self) -> list[str]:
        return self._model_names

    @property
    def max_model_len(self) -> int:
        return self._llm.model_config.max_model_len

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def eos_token_ids(self) -> set[int]:
        return eos_token_ids(self._llm.model_config, self._tokenizer)

    @property
    def is_healthy(self) -> bool:
        return not self._llm.errored

    async def generate(
        self, prompt_ids: list[int], params: SamplingParams, request_id: str
    ) -> AsyncIterator[RequestOutput]:
        from vllm.inputs import TokensPrompt

        stream = self._llm.generate(TokensPrompt(prompt_token_ids=prompt_ids), params, request_id)
        async with aclosing(stream):  # closing this generator closes vLLM's, which aborts the request
            async for output in stream:
                yield output

    async def log_stats(self) -> None:
        await self._llm.do_log_stats()

    def shutdown(self) -> None:
        self._llm.shutdown()


def eos_token_ids(model_config: Any, tokenizer: Any) -> set[int]:
    """Every token id that ends a request: the generation config's EOS ids and the tokenizer's."""
    configured = model_config.try_get_generation_config().get("eos_token_id")
    ids = configured if isinstance(configured, list) else [configured]
    return {i for i in [*ids, tokenizer.eos_token_id] if i is not None}


@asynccontextmanager
async def run_vllm_engine(args: AsyncEngineArgs) -> AsyncIterator[VllmEngine]:
    """Start the engine (weights load, KV cache allocation), yield it, shut it down."""
    engine = VllmEngine.start(args)
    stats = asyncio.create_task(_log_stats_forever(engine)) if not args.disable_log_stats else None
    try:
        yield engine
    finally:
        if stats is not None:
            stats.cancel()
        engine.shutdown()


async def _log_stats_forever(engine: VllmEngine) -> None:
    """vLLM's periodic stats line (throughput, running/waiting, KV cache, preemptions), as `vllm serve` logs it."""
    from vllm import envs

    while True:
        await asyncio.sleep(envs.VLLM_LOG_STATS_INTERVAL)
        await engine.log_stats()


def merge_output(merged: RequestOutput | None, output: RequestOutput) -> RequestOutput:
    """Fold ``output`` into what came before: deltas are concatenated (a final-only output stands alone)."""
    if merged is None:
        return output
    merged.add(output, aggregate=True)
    return merged


async def final_output(outputs: AsyncIterator[RequestOutput]) -> RequestOutput:
    """A request's whole output: its one final output, or all its deltas merged."""
    final = None
    async for output in outputs:
        final = merge_output(final, output)
    if final is None:
        raise RuntimeError("the engine finished a request without output")
    return final
