"""Memory footprint of one training step: static tensors plus the peak of what lives per op.

Static: weights, master copy and optimiser state of every layer (all copies the policy keeps).
Live per op, walking the schedule: kept activations of every layer whose backward has not run
yet; during a layer's backward its dY, dX and dW; during a forward its output; plus the tile
workspace the op's mapping uses. On chip: resident tensors plus the op's on-chip working set.
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
    static = _sum(sizes, "weights") + _sum(sizes, "master_copy") + _sum(sizes, "optimizer")
    acts = [sizes.get((i, "activations"), 0.0) for i in range(len(layers))]
    peak_total, peak_chip, peak_grads, peak_ws = 0.0, 0.0, 0.0, 0.0
    for c in counts:
        i, op, layer, fmt = c.op.layer, c.op, layers[c.op.layer], formats[c.op.layer]
        if op.kind == "fwd":
            live_acts = sum(acts[: i + 1])
            transient = layer.m * layer.n * fmt.activations.bytes
        else:
            live_acts = sum(acts[: i + 1])
            dx = min(layer.m * layer.k, layer.act_elems or layer.m * layer.k)
            transient = (layer.m * layer.n + dx + layer.params) * fmt.gradients.bytes
            peak_grads = max(peak_grads, transient)
        ws = c.mapping.buffer_bytes if c.mapping else 0.0
        peak_ws = max(peak_ws, ws)
        peak_total = max(peak_total, static + live_acts + transient + ws)
        chip_transient = transient if placement.transient_on_chip(transient) else 0.0
        peak_chip = max(peak_chip, ws + chip_transient)
    return Footprint(
        params=_sum(sizes, "weights"), master_copy=_sum(sizes, "master_copy"),
        optimizer=_sum(sizes, "optimizer"), activations_peak=float(sum(acts)),
        gradients_peak=peak_grads, workspace_peak=peak_ws,
        peak_on_chip=placement.resident_bytes + peak_chip, peak_total=peak_total)
