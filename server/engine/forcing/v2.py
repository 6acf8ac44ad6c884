"""The budget kernel behind Model Runner V2's logits-processor interface (vLLM 0.32-0.34 on GPUs).

V2 keeps every request in a persistent slot (``req_states``, on the device) and recycles
slots without telling processors that one was freed, so ``add_request`` resets the slot
it is given. Each step:

- ``add_request`` stages the slot's budget on the host (vLLM's ``prompt_len`` / ``prefill_len``
  are host arrays here: a request resumed after preemption is known without a sync);
- ``apply_staged_writes`` copies the staged slots to the device in one go; a resumed request's
  state is first rebuilt from its output by the pure rules (its tokens are read back once, the
  one device-to-host copy, and only on resumption);
- ``apply`` maps rows to slots with ``ctx.expanded_idx_mapping``, reads the token each slot
  committed since the last step from ``req_states.all_token_ids`` (valid up to ``total_len``)
  on the device, and edits the logits. Nothing is read back: the step runs ahead of the GPU.

Speculative decoding gives a request several rows per step, each after its own draft tokens;
the kernel keeps one state per request, so the processor refuses it when the engine starts.
This module imports vLLM's interface module only: it is import-light, as the interface asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsProcessor

from server.engine.forcing import kernel
from server.engine.forcing.arrays import NumPy, backend
from server.engine.forcing.engine_tokenizer import engine_tokenizer
from server.engine.forcing.plans import SPECULATIVE_DECODING, Boundaries, plan_of, validate
from server.engine.forcing.table import SlotTable
from server.thinking.budget import Budget, initial_state, summarize

if TYPE_CHECKING:
    from vllm import SamplingParams
    from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsContext, LogitsProcRequestState


class V2BudgetProcessor(LogitsProcessor):
    def __init__(self, vllm_config: Any, req_states: LogitsProcRequestState) -> None:
        if getattr(vllm_config, "speculative_config", None) is not None:
            raise ValueError(SPECULATIVE_DECODING)
        self._req = req_states
        self._table = SlotTable(req_states.max_num_reqs, req_states.device)
        self._resumed: dict[int, tuple[Budget, bool, float]] = {}
        self._boundaries = Boundaries(lambda: engine_tokenizer(vllm_config))

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        validate(sampling_params)

    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        plan, temperature = self._boundaries.attach(plan_of(sampling_params)), sampling_params.temperature
        if plan is None or plan.budget is None:
            self._table.stage(req_idx, None, None, temperature)
            return False
        self._table.stage(req_idx, plan.budget, initial_state(plan.budget, plan.opens_thinking), temperature)
        if self._req.prefill_len.np[req_idx] > self._req.prompt_len.np[req_idx]:
            self._resumed[req_idx] = (plan.budget, plan.opens_thinking, temperature)
        return True

    def apply_staged_writes(self) -> None:
        for slot, (budget, opens, temperature) in self._resumed.items():
            start, end = int(self._req.prompt_len.np[slot]), int(self._req.prefill_len.np[slot])
            output = self._req.all_token_ids.gpu[slot, start:end].tolist()  # once per resumed request
            self._table.stage(slot, budget, summarize(budget, opens, output), temperature)
        self._resumed.clear()
        self._table.flush()

    def apply(self, logits: torch.Tensor, ctx: LogitsContext) -> torch.Tensor:
        table, req, batch = self._table, self._req, ctx.idx_mapping_np
        if not table.active[batch].any():
            return logits  # no budgeted request in the batch: O(1), nothing launched
        xp = backend(logits.device)  # NumPy views on a CPU: the rows' slots are then the host's own array
        slots = batch if xp is NumPy else ctx.expanded_idx_mapping.long()
        kernel.step_from_history(
            table, logits, slots, req.all_token_ids.gpu, req.prompt_len.gpu, req.total_len.gpu, xp=xp,
            **table.needs(batch),
        )  # fmt: skip
        return logits
