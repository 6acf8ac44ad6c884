"""One decode step of the budget kernel, ready to time: a full batch with every row budgeted, and its baseline.

Torch only (no vLLM, no engine), so the same setup runs on this machine's CPU
(``python -m bench.forcing_cost --kernel``) and on a bare CUDA machine
(``python -m bench.kernel_cuda``). The kernel runs as Model Runner V2 runs it
(:func:`server.engine.forcing.kernel.step_from_history`: tokens read from the slots'
history on the device). Every row's minimum never lets go, so every row takes the
guard path (the costliest: stops gathered, pooled and masked) at every step; the
kernel's work is the same whether or not a row committed a token (no branches).

The baseline is the sampling of the same batch, as vLLM's sampler does it: greedy is
an argmax over the vocabulary; random sampling divides by the temperature, takes the
softmax and an exponential race (``probs / q``, ``q ~ Exp(1)``) and its argmax.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from server.engine.forcing import kernel
from server.engine.forcing.table import SlotTable
from server.thinking.budget import Budget, initial_state

VOCAB = 151_936  # Qwen3's
END, EOS, WAIT = 151_668, (151_643, 151_645), (14190,)  # </think>, <|endoftext|> <|im_end|>, "Wait"
HISTORY = 64


@dataclass
class Batch:
    table: SlotTable
    logits: torch.Tensor  # [batch, vocab] float32
    slots: torch.Tensor  # [batch]
    token_ids: torch.Tensor  # [batch, HISTORY]
    prompt_len: torch.Tensor  # [batch]
    total_len: torch.Tensor  # [batch]
    temperature: float

    def step(self) -> None:
        """As the V2 adapter calls it: NumPy slots on a CPU, and the host's flags (free to read)."""
        table, cpu = self.table, self.logits.device.type == "cpu"
        kernel.step_from_history(
            table, self.logits, self.slots.numpy() if cpu else self.slots, self.token_ids, self.prompt_len,
            self.total_len, **table.needs(slice(None)),
        )  # fmt: skip

    def sample(self) -> torch.Tensor:
        if self.temperature == 0.0:
            return self.logits.argmax(dim=1)
        probs = torch.softmax(self.logits / self.temperature, dim=1)
        return probs.div_(torch.empty_like(probs).exponential_()).argmax(dim=1)


def budgeted_batch(
    batch: int, device: str | torch.device, temperature: float, vocab: int = VOCAB, guard: bool = False
) -> Batch:
    """``batch`` requests in ``batch`` slots (shuffled), each with a minimum of waits that never lets go;
    ``guard``: the loop guard on every row too (its watch runs every step: random tokens never loop)."""
    budget = Budget(END, frozenset(EOS), WAIT, (END, 198, 19357, 21806, 25), min_waits=1 << 30, loop_guard=guard)
    table = SlotTable(batch, device)
    for slot in range(batch):
        table.stage(slot, budget, initial_state(budget, True), temperature)
    table.flush()
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, vocab, generator=generator).to(device)
    prompt = torch.full((batch,), 16, dtype=torch.int32, device=device)
    return Batch(
        table,
        logits,
        torch.randperm(batch, generator=generator).to(device),
        torch.randint(vocab, (batch, HISTORY), generator=generator, dtype=torch.int32).to(device),
        prompt,
        prompt.clone(),
        temperature,
    )


def cpu_seconds(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall seconds of ``fn`` over ``repeats`` calls (CPU: no queue to drain)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]
