"""A scripted engine for fast API tests: the shipped tokenizer, canned completions, no model, no vLLM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from transformers import AutoTokenizer

from server.engine.types import (
    Adapter,
    ChoiceOutput,
    EngineOutput,
    EngineRequest,
    PromptLogprobs,
    Sampling,
    TokenLogprob,
)
from server.ops.settings import SHIPPED_MODEL

PROMPT_FAVOURITE = "~"  # the fake's most likely token at every prompt position (prompt logprobs)
SCRIPT = "Quick guess: 46.\nWait, let me add column by column.\n2+4+0=6\n1+3+0=4\nSo 46.\n</think>\n\n46"


@dataclass
class FakeEngine:
    """Answers every prompt with ``script`` (cut at ``max_tokens``), one token per step."""

    script: str = SCRIPT
    step_delay: float = 0.0
    max_model_len: int = 1024
    model_path: str = str(SHIPPED_MODEL)
    cached_tokens: int = 0  # reported on every output, as vLLM reports its prefix-cache hits
    model_names: list[str] = field(default_factory=lambda: ["tiny-reasoner"])
    is_healthy: bool = True
    scheduling_policy: str = "fcfs"  # vLLM's default; "priority" takes a request's priority
    eos_token_ids: set[int] = field(default_factory=lambda: {256, 257})
    tokenizer: Any = field(default_factory=lambda: AutoTokenizer.from_pretrained(SHIPPED_MODEL))
    requests: list[tuple[list[int], Sampling]] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    engine_requests: list[EngineRequest] = field(default_factory=list)  # whole, with priority and cache_salt
    adapters: list[Adapter | None] = field(default_factory=list)  # each request's LoRA adapter (None: base)

    async def generate(self, request: EngineRequest) -> AsyncIterator[EngineOutput]:
        params = request.sampling
        self.requests.append((request.prompt_ids, params))
        self.engine_requests.append(request)
        self.adapters.append(request.adapter)
        ids = self.tokenizer.encode(self.script, add_special_tokens=False)[: params.max_tokens]
        finish = "length" if len(ids) == params.max_tokens else "stop"
        prompt_logprobs = self._prompt_logprobs(request.prompt_ids, params.prompt_logprobs)
        try:
            if params.deltas:
                for step, token in enumerate(ids):
                    await asyncio.sleep(self.step_delay)
                    last = step == len(ids) - 1
                    outputs = [self._output(i, [token], params, finish if last else None) for i in range(params.n)]
                    scored = prompt_logprobs if step == 0 else None  # with the first output, as vLLM's
                    yield EngineOutput(outputs, finished=last, cached_tokens=self.cached_tokens, prompt_logprobs=scored)
            else:
                await asyncio.sleep(self.step_delay * len(ids))
                outputs = [self._output(i, ids, params, finish) for i in range(params.n)]
                yield EngineOutput(outputs, True, cached_tokens=self.cached_tokens, prompt_logprobs=prompt_logprobs)
            self.finished.append(request.request_id)
        except (asyncio.CancelledError, GeneratorExit):
            self.aborted.append(request.request_id)
            raise

    def _output(self, index: int, ids: list[int], params: Sampling, finish: str | None) -> ChoiceOutput:
        logprobs = None
        if params.logprobs is not None:
            logprobs = [{t: TokenLogprob(-0.5, 1, self.tokenizer.decode([t]))} for t in ids]
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        return ChoiceOutput(index, text, ids, logprobs, finish_reason=finish)

    def _prompt_logprobs(self, prompt: list[int], k: int | None) -> PromptLogprobs | None:
        """vLLM's shape: None first; each later token at -1.0 (rank 2) and, for k >= 1, ``~`` at -0.25 (rank 1)."""
        if k is None:
            return None
        other = self.tokenizer.convert_tokens_to_ids(PROMPT_FAVOURITE)
        scored: PromptLogprobs = [None]
        for token in prompt[1:]:
            position = {token: TokenLogprob(-1.0, 2, self.tokenizer.decode([token]))}
            if k != 0 and token != other:
                position[other] = TokenLogprob(-0.25, 1, PROMPT_FAVOURITE)
            scored.append(position)
        return scored

    async def log_stats(self) -> None:
        pass

    @asynccontextmanager
    async def lifetime(self) -> AsyncIterator[FakeEngine]:
        yield self
