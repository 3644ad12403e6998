"""Memory footprint of one training step: static tensors plus the peak of what lives per op.

Static: weights, master copy and optimiser state of every layer (all copies the policy keeps).
Walking the schedule, at each op: on chip, the resident tensors (they hold their space for the
whole step), the op's tile workspace and its transient if that stays on chip; off chip, the
non-resident static tensors, the non-resident kept activations of layers whose backward has not
run yet, and the transients that go through DRAM. The transients alive during an op (its input
X and output Y in a forward; dY, dX, dW in a backward) and where they live are the ones the
traffic count uses (`placement.transient_homes`). Peaks are maxima of these per-op sums, so on
chip <= total.
"""

from __future__ import annotations

from dataclasses import dataclass

from rctsim.counting import OpCounts
from rctsim.ops import Op
from rctsim.placement import LayerGraph, Placement, Transient, TransientHomes, layer_graph
from rctsim.storage import LayerFormats
from rctsim.trace.model import LayerSpec


@dataclass(frozen=True)
class Footprint:
    """Bytes of memory a step needs (docs/concepts.md §2 "memory footprint")."""

    params: float
    """Weights at their stored precision."""
    master_copy: float
    """fp32 master copy (qat)."""
    optimizer: float
    """Optimiser state."""
    activations_peak: float
    """Kept activations at their peak (the turn from forward to backward)."""
    gradients_peak: float
    """Largest set of gradients alive at once (dY + dX + dW of one layer)."""
    workspace_peak: float
    """Largest tile workspace an op uses."""
    peak_on_chip: float
    """Resident tensors plus the largest on-chip working set of any op."""
    peak_total: float
    """Peak over the schedule of everything alive, on chip and off."""


def _sum(sizes: dict, cls: str) -> float:
    return float(sum(v for (_, c), v in sizes.items() if c == cls))


def _live_transients(op: Op, homes: TransientHomes, has_gemm: bool,
                     pred: int | None) -> tuple[Transient, ...]:
    """The transients alive while an op runs (at most TRANSIENT_SLOTS); `has_gemm`: whether
    the op's layer has a GEMM."""
    i = op.layer
    kind = op.kind
    if kind == "fwd":
        if pred is not None and not homes.x_in_dram[i]:
            return homes.y[pred], homes.y[i]
        return (homes.y[i],)
    if kind == "dgrad":
        return homes.dy[i], homes.dx[i]
    if kind == "wgrad":
        return homes.dy[i], homes.dx[i], homes.dw[i]
    return (homes.dx[i], homes.dw[i]) if has_gemm else ()


def step_footprint(layers: tuple[LayerSpec, ...], formats: list[LayerFormats],
                   placement: Placement, homes: TransientHomes,
                   counts: list[OpCounts], graph: LayerGraph | None = None) -> Footprint:
    """Footprint of a step whose ops (in schedule order) were counted into `counts` (`graph`:
    the table's placement.layer_graph, derived here if not given)."""
    sizes = placement.persistent_bytes
    graph = graph or layer_graph(layers)
    preds, has_gemm = graph.pred, graph.has_gemm
    resident = placement.resident_bytes
    # Resident tensors hold their on-chip space for the whole step; the rest live off chip.
    off_static = sum(v for (i, c), v in sizes.items()
                     if c != "activations" and (i, c) not in placement.on_chip)
    acts_off = [0.0 if placement.resident(i, "activations")
                else sizes.get((i, "activations"), 0.0) for i in range(len(layers))]
    kept_off, run = [], 0.0  # kept_off[i] = sum(acts_off[: i + 1]), added in the same order
    for v in acts_off:
        run += v
        kept_off.append(run)
    peak_total, peak_chip, peak_grads, peak_ws = 0.0, 0.0, 0.0, 0.0
    for c in counts:  # (x > peak: what max(peak, x) keeps, as max keeps the first of ties)
        op = c.op
        i = op.layer
        both, on, out = 0, 0, 0  # sums over the live transients in order, as sum() adds them
        for nbytes, in_dram in _live_transients(op, homes, has_gemm[i], preds[i]):
            both += nbytes
            if in_dram:
                out += nbytes
            else:
                on += nbytes
        if op.kind != "fwd" and both > peak_grads:
            peak_grads = both
        ws = c.mapping.buffer_bytes if c.mapping else 0.0
        if ws > peak_ws:
            peak_ws = ws
        chip = resident + ws + on
        off = off_static + kept_off[i] + out
        if chip > peak_chip:
            peak_chip = chip
        if chip + off > peak_total:
            peak_total = chip + off
    return Footprint(
        params=_sum(sizes, "weights"), master_copy=_sum(sizes, "master_copy"),
        optimizer=_sum(sizes, "optimizer"),
        activations_peak=float(sum(v for (_, c), v in sizes.items() if c == "activations")),
        gradients_peak=peak_grads, workspace_peak=peak_ws,
        peak_on_chip=peak_chip, peak_total=peak_total)
