"""Memory footprint of one training step: static tensors plus the peak of what lives per op.

Static: weights, master copy and optimiser state of every layer (all copies the policy keeps).
Walking the schedule, at each op: on chip, the resident tensors (they hold their space for the
whole step), the op's tile workspace and its transient if that stays on chip; off chip, the
non-resident static tensors, the non-resident kept activations of layers whose backward has not
run yet, and the transient if it does not fit. A transient is a forward output, or during a
backward op its dY + dX + dW. Peaks are maxima of these per-op sums, so on chip <= total.
"""

from __future__ import annotations

from dataclasses import dataclass

from rctsim.counting import OpCounts
from rctsim.placement import Placement
from rctsim.storage import LayerFormats
from rctsim.trace.model import LayerSpec


@dataclass(frozen=True)
class Footprint:
    """Bytes of memory a step needs (DESIGN.md §2 "memory footprint")."""

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


def step_footprint(layers: tuple[LayerSpec, ...], formats: list[LayerFormats],
                   placement: Placement, counts: list[OpCounts]) -> Footprint:
    """Footprint of a step whose ops (in schedule order) were counted into `counts`."""
    sizes = placement.persistent_bytes
    # Resident tensors hold their on-chip space for the whole step; the rest live off chip.
    off_static = sum(v for (i, c), v in sizes.items()
                     if c != "activations" and (i, c) not in placement.on_chip)
    acts_off = [0.0 if placement.resident(i, "activations")
                else sizes.get((i, "activations"), 0.0) for i in range(len(layers))]
    peak_total, peak_chip, peak_grads, peak_ws = 0.0, 0.0, 0.0, 0.0
    for c in counts:
        i, op, layer, fmt = c.op.layer, c.op, layers[c.op.layer], formats[c.op.layer]
        if op.kind == "fwd":
            transient = layer.m * layer.n * fmt.activations.bytes
        else:
            dx = min(layer.m * layer.k, layer.act_elems or layer.m * layer.k)
            transient = (layer.m * layer.n + dx + layer.params) * fmt.gradients.bytes
            peak_grads = max(peak_grads, transient)
        ws = c.mapping.buffer_bytes if c.mapping else 0.0
        peak_ws = max(peak_ws, ws)
        on_chip = placement.transient_on_chip(transient)
        chip = placement.resident_bytes + ws + (transient if on_chip else 0.0)
        off = off_static + sum(acts_off[: i + 1]) + (0.0 if on_chip else transient)
        peak_chip = max(peak_chip, chip)
        peak_total = max(peak_total, chip + off)
    return Footprint(
        params=_sum(sizes, "weights"), master_copy=_sum(sizes, "master_copy"),
        optimizer=_sum(sizes, "optimizer"),
        activations_peak=float(sum(v for (_, c), v in sizes.items() if c == "activations")),
        gradients_peak=peak_grads, workspace_peak=peak_ws,
        peak_on_chip=peak_chip, peak_total=peak_total)
