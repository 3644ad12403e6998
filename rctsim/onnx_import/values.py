"""Activations flowing through an imported graph, and where their batch dimension is.

The layer builder counts per-sample shapes (the batch is multiplied in); an ONNX value has its
full shape with the batch somewhere in it. `Act` holds both: the builder's `Tensor` (per-sample
shape, elements of the whole batch) and the full shape with the index of the axis that carries the
batch (`None` when the value has no batch dimension, e.g. a position embedding shared by the batch).
An axis may carry the batch merged with other rows (`(B·T, H)` after a reshape); the batch is then
its outermost factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from workloads.shapes.builder import Tensor


@dataclass(frozen=True)
class Act:
    """An activation value of the graph."""

    tensor: Tensor
    """The builder's tensor (per-sample shape, whole-batch elements, producing layers)."""
    full: tuple[int, ...]
    """Full ONNX shape, batch included."""
    axis: int | None
    """Axis carrying the batch (outermost factor), None when the value has none."""


def per_sample(full: tuple[int, ...], axis: int | None, batch: int) -> tuple[int, ...]:
    """`full` without its batch: the axis dropped when it is the batch alone (or a broadcast 1)."""
    if axis is None:
        return full
    size = full[axis]
    if size in (batch, 1):
        return full[:axis] + full[axis + 1:]
    return full[:axis] + (size // batch,) + full[axis + 1:]


def make_act(tensor: Tensor, full: tuple[int, ...], axis: int | None, batch: int) -> Act:
    """An `Act` whose tensor carries `full`'s per-sample shape and element count."""
    shaped = replace(tensor, shape=per_sample(full, axis, batch), elems=math.prod(full))
    return Act(shaped, full, axis)


def reshaped_axis(full: tuple[int, ...], axis: int | None, out: tuple[int, ...],
                  batch: int) -> int | None:
    """Where the batch lands after a reshape of `full` to `out` (None: lost or merged inward)."""
    if axis is None:
        return None
    if batch == 1:
        return 0 if out else None
    before = math.prod(full[:axis])
    for b in range(len(out)):
        if math.prod(out[:b]) == before and out[b] % batch == 0:
            return b
        if math.prod(out[:b]) > before:
            break
    return None


def broadcast_axis(operands: list[Act], out_rank: int, batch: int) -> int | None:
    """The output axis carrying the batch in a broadcasting elementwise op."""
    fallback = None
    for op in operands:
        if op.axis is None:
            continue
        candidate = op.axis + out_rank - len(op.full)
        if op.full[op.axis] != 1 or batch == 1:
            return candidate
        fallback = candidate if fallback is None else fallback
    return fallback
