"""The array operations the kernel needs that torch and NumPy spell differently: one row each, side by side.

The kernel runs on torch tensors on a GPU, and on NumPy views of the same CPU tensors on a CPU
(zero-copy: ``Tensor.numpy()``), where a NumPy call on a batch-sized array costs a third of a
torch call: the per-call overhead, not the data, is what a decode step pays there. Operators
(``==``, ``&``, ``+``, ``[:, i]``...) behave alike in both and are used directly. Every function
works on ``[B, k]`` arrays along their second axis.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch


@lru_cache(maxsize=64)
def _rows(n: int) -> np.ndarray:
    """[n, 1]: each row's own index, to pair with a column index per row (take_along_axis, without its overhead)."""
    return np.arange(n)[:, None]


def _np_put(a: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    a[_rows(len(index)), index] = values


def _np_logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1, keepdims=True)  # finite: a row's first value (the target's logit) is
    return top + np.log(np.exp(a - top).sum(axis=1, keepdims=True))


_OPS: dict[str, tuple[Any, Any]] = {  # name: (torch, NumPy)
    "where": (torch.where, np.where),
    "long": (lambda a: a.long(), lambda a: a.astype(np.int64, copy=False)),
    "take": (lambda a, index: a.gather(1, index), lambda a, index: a[_rows(len(index)), index]),
    "put": (lambda a, index, values: a.scatter_(1, index, values), _np_put),
    "cat": (lambda arrays: torch.cat(arrays, dim=1), lambda arrays: np.concatenate(arrays, axis=1)),
    "stack": (lambda arrays: torch.stack(arrays, dim=1), lambda arrays: np.stack(arrays, axis=1)),
    "columns": (lambda a: a.unbind(1), lambda a: tuple(a.T)),
    "all_columns": (lambda a: a.all(dim=1), lambda a: a.all(axis=1)),
    "any_columns": (lambda a: a.any(dim=1), lambda a: a.any(axis=1)),
    "clip": (lambda a, low, high: a.clamp(low, high), lambda a, low, high: np.minimum(np.maximum(a, low), high)),
    "at_least": (lambda a, low: a.clamp(min=low), lambda a, low: np.maximum(a, np.float32(low))),
    "row_max": (lambda a: a.amax(1, keepdim=True), lambda a: a.max(axis=1, keepdims=True)),
    "row_logsumexp": (lambda a: torch.logsumexp(a, 1, keepdim=True), _np_logsumexp),
}
Torch = SimpleNamespace(**{name: ops[0] for name, ops in _OPS.items()})
NumPy = SimpleNamespace(**{name: ops[1] for name, ops in _OPS.items()})
Backend = SimpleNamespace


def backend(device: torch.device) -> Backend:
    return NumPy if device.type == "cpu" else Torch


def view(tensor: torch.Tensor, xp: Backend) -> Any:
    """The tensor as ``xp`` works on it: itself, or a NumPy view of the same memory."""
    return tensor.numpy() if xp is NumPy else tensor
