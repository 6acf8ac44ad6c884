"""The engine adapter: vLLM's ``AsyncLLM`` behind :class:`server.engine.types.Engine`.

The one place where the server's types meet vLLM's: an :class:`EngineRequest` becomes
``SamplingParams``, each ``RequestOutput`` an :class:`EngineOutput`. ``AsyncLLM`` gives
continuous batching across requests, streamed outputs, and aborts a request when the
caller stops iterating (client disconnect).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from server.engine.types import (
    Adapter,
    ChoiceOutput,
    Constraint,
    EngineOutput,
    EngineRequest,
    Logprobs,
    PromptLogprobs,
    Sampling,
    TokenLogprob,
)
from server.protocol.errors import APIError, engine_unavailable
from server.thinking.tokens import FormatChoice

if TYPE_CHECKING:
    from vllm import CompletionOutput, RequestOutput, SamplingParams
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.lora.request import LoRARequest
    from vllm.sampling_params import StructuredOutputsParams
    from vllm.v1.engine.async_llm import AsyncLLM


class VllmEngine:
    """Adapter over ``vllm.v1.engine.async_llm.AsyncLLM``."""

    def __init__(self, llm: AsyncLLM, model_names: list[str]) -> None:
        self._llm = llm
        self._model_names = model_names
        self._tokenizer = llm.get_tokenizer()

    @classmethod
    def start(cls, args: AsyncEngineArgs, thinking: FormatChoice | None = None) -> VllmEngine:
        """Build the engine's configuration, register the budget processor its model runner takes, give
        structured outputs the end of thinking (``thinking``: the delimiters the command line chose), start it."""
        from vllm.usage.usage_lib import UsageContext
        from vllm.v1.engine.async_llm import AsyncLLM

        from server.engine import reasoning_gate
        from server.engine.forcing.runner import register

        usage = UsageContext.OPENAI_API_SERVER
        config = args.create_engine_config(usage)
        register(config)
        reasoning_gate.install(config, thinking or FormatChoice())
        llm = AsyncLLM.from_vllm_config(
            config,
            usage_context=usage,
            enable_log_requests=args.enable_log_requests,
            aggregate_engine_logging=args.aggregate_engine_logging,
            disable_log_stats=args.disable_log_stats,
        )
        names = llm.model_config.served_model_name
        return cls(llm, [names] if isinstance(names, str) else list(names))

    @property
    def model_names(self) -> list[str]:
        return self._model_names

    @property
    def max_model_len(self) -> int:
        return self._llm.model_config.max_model_len

    @property
    def model_path(self) -> str:
        return str(self._llm.model_config.model)

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def eos_token_ids(self) -> set[int]:
        return eos_token_ids(self._llm.model_config, self._tokenizer)

    @property
    def is_healthy(self) -> bool:
        return not self._llm.errored

    @property
    def scheduling_policy(self) -> str:
        return str(self._llm.vllm_config.scheduler_config.policy)

    async def generate(self, request: EngineRequest) -> AsyncIterator[EngineOutput]:
        from vllm.exceptions import VLLMValidationError
        from vllm.inputs import TokensPrompt
        from vllm.v1.engine.exceptions import EngineDeadError

        prompt = TokensPrompt(prompt_token_ids=request.prompt_ids)
        if request.cache_salt is not None:  # as `vllm serve` puts it on the prompt
            prompt["cache_salt"] = request.cache_salt
        params, lora = sampling_params(request.sampling), lora_request(request.adapter)
        stream = self._llm.generate(prompt, params, request.request_id, lora_request=lora, priority=request.priority)
        try:
            async with aclosing(stream):  # closing this generator closes vLLM's, which aborts the request
                async for output in stream:
                    yield engine_output(output)
        except VLLMValidationError as exc:
            raise APIError(str(exc), param=exc.parameter) from exc
        except EngineDeadError as exc:
            raise engine_unavailable() from exc

    async def add_adapters(self, adapters: Sequence[Adapter]) -> None:
        """Load each adapter now, as `vllm serve` loads its ``--lora-modules``: one that does not load fails
        startup, rather than the first request that names it."""
        for adapter in adapters:
            await self._llm.add_lora(lora_request(adapter))

    async def log_stats(self) -> None:
        await self._llm.do_log_stats()

    def shutdown(self) -> None:
        # As `vllm serve` stops it, with the engine's --shutdown-timeout: 0 here, for the server has drained its
        # requests by now (its grace period). SIGTERM, then SIGKILL at once: vLLM's default wait (5 s) is spent
        # whole on CPU, where the engine core waits that long for its worker, which does not exit.
        self._llm.shutdown(timeout=self._llm.vllm_config.shutdown_timeout)


def sampling_params(sampling: Sampling) -> SamplingParams:
    """Our fields carry vLLM's names and meanings; only stops and the output kind are spelled otherwise."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    spelled_otherwise = ("stop", "stop_token_ids", "deltas", "constraint", "bad_words", "allowed_token_ids")
    same = {f.name: getattr(sampling, f.name) for f in fields(sampling) if f.name not in spelled_otherwise}
    kind = RequestOutputKind.DELTA if sampling.deltas else RequestOutputKind.FINAL_ONLY
    return SamplingParams(
        **same,
        stop=list(sampling.stop) or None,
        stop_token_ids=list(sampling.stop_token_ids),
        bad_words=list(sampling.bad_words),
        allowed_token_ids=None if sampling.allowed_token_ids is None else list(sampling.allowed_token_ids),
        output_kind=kind,
        structured_outputs=structured_outputs(sampling.constraint),
    )


def lora_request(adapter: Adapter | None) -> LoRARequest | None:
    from vllm.lora.request import LoRARequest

    if adapter is None:
        return None
    return LoRARequest(
        lora_name=adapter.name,
        lora_int_id=adapter.id,
        lora_path=adapter.path,
        base_model_name=adapter.base_model_name,
        is_3d_lora_weight=adapter.is_3d_lora_weight,
    )


def structured_outputs(constraint: Constraint | None) -> StructuredOutputsParams | None:
    from vllm.sampling_params import StructuredOutputsParams

    if constraint is None:
        return None
    return StructuredOutputsParams(**{constraint.kind: constraint.value}, **dict(constraint.options))


def engine_output(output: RequestOutput) -> EngineOutput:
    cached = output.num_cached_tokens or 0  # set from the first output on (None before the prefill's stats)
    prompt = _prompt_logprobs(output.prompt_logprobs)
    return EngineOutput([_choice(choice) for choice in output.outputs], output.finished, cached, prompt)


def _prompt_logprobs(positions: Any) -> PromptLogprobs | None:
    """vLLM's prompt logprobs, whole in the first output (a delta stream's later outputs carry an empty list)."""
    if not positions:
        return None
    return [
        None
        if position is None
        else {t: TokenLogprob(lp.logprob, lp.rank, lp.decoded_token) for t, lp in position.items()}
        for position in positions
    ]


def _choice(output: CompletionOutput) -> ChoiceOutput:
    logprobs: Logprobs | None = None
    if output.logprobs is not None:
        logprobs = [
            {token: TokenLogprob(lp.logprob, lp.rank, lp.decoded_token) for token, lp in position.items()}
            for position in output.logprobs
        ]
    return ChoiceOutput(
        output.index, output.text, list(output.token_ids), logprobs, output.finish_reason, output.stop_reason
    )


def eos_token_ids(model_config: Any, tokenizer: Any) -> set[int]:
    """Every token id that ends a request: the generation config's EOS ids and the tokenizer's."""
    configured = model_config.try_get_generation_config().get("eos_token_id")
    ids = configured if isinstance(configured, list) else [configured]
    return {i for i in [*ids, tokenizer.eos_token_id] if i is not None}


@asynccontextmanager
async def run_vllm_engine(
    args: AsyncEngineArgs, thinking: FormatChoice | None = None, adapters: Sequence[Adapter] = ()
) -> AsyncIterator[VllmEngine]:
    """Start the engine (weights load, KV cache allocation), load the LoRA adapters, yield it, shut it down."""
    engine = VllmEngine.start(args, thinking)
    stats = asyncio.create_task(_log_stats_forever(engine)) if not args.disable_log_stats else None
    try:
        await engine.add_adapters(adapters)
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
