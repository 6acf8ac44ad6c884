"""vLLM V1's InputBatch, as far as a logits processor sees it: the slot bookkeeping that makes its batch updates.

Mirrors ``vllm/v1/worker/gpu_input_batch.py`` (``add_request``, ``remove_request``, ``condense``,
``swap_states``) and ``vllm/v1/sample/logits_processor/state.py`` (``BatchUpdateBuilder``): no tensors.
"""

from __future__ import annotations

from typing import Any

from vllm.v1.sample.logits_processor import BatchUpdateBuilder, MoveDirectionality

SWAP, ONE_WAY = MoveDirectionality.SWAP, MoveDirectionality.UNIDIRECTIONAL


class FakeInputBatch:
    """The slot bookkeeping of vLLM's InputBatch (add_request, remove_request, condense, swap_states), no tensors."""

    def __init__(self) -> None:
        self.slots: list[Any] = []  # the requests, None where a slot is empty
        self.builder = BatchUpdateBuilder()

    def live(self) -> list[Any]:
        return [r for r in self.slots if r is not None]

    def add(self, request: Any) -> None:
        index = self.builder.pop_removed()  # the lowest hole first, else the end: vLLM's _register_add_request
        index = len(self.live()) if index is None else index
        self.builder.added.append((index, request.params(), [0], request.output))
        self.slots[index : index + 1] = [request]

    def remove(self, request: Any) -> None:
        index = self.slots.index(request)
        self.builder.removed_append(index)
        self.slots[index] = None

    def condense(self) -> None:
        """vLLM's condense(): the last live request slides into the lowest hole, one UNIDIRECTIONAL move each."""
        holes, last = self.builder.removed, len(self.slots) - 1
        while holes:
            while last >= 0 and self.slots[last] is None:
                last -= 1
            if self.builder.peek_removed() >= last:
                break
            hole = self.builder.pop_removed()
            self.slots[hole], self.slots[last] = self.slots[last], None
            self.builder.moved.append((last, hole, ONE_WAY))
        del self.slots[len(self.live()) :]

    def swap(self, i: int, j: int) -> None:
        self.slots[i], self.slots[j] = self.slots[j], self.slots[i]
        self.builder.moved.append((i, j, SWAP))
