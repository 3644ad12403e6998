"""Where tensors live: which persistent tensors stay on chip, and which transients fit.

The global buffer is split into a *resident* part (persistent tensors kept across iterations)
and a *workspace* (GEMM tiles and tensors passed from one op to the next). Persistent tensors are
packed greedily into the resident part by class priority (weights, master copy, optimiser state,
activations kept for backward), then layer order; what does not fit lives in DRAM and streams
every iteration. A transient tensor (a layer's output, dX, dW) stays on chip when it fits half the
workspace; otherwise it goes through DRAM (docs/model.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass

from rctsim.storage import LayerFormats
from rctsim.trace.model import LayerSpec

PERSISTENT: tuple[str, ...] = ("weights", "master_copy", "optimizer", "activations")
"""Persistent tensor classes in packing priority order."""


@dataclass(frozen=True)
class Placement:
    """The on-chip/off-chip decision for one phase."""

    on_chip: frozenset[tuple[int, str]]
    """(layer, tensor class) pairs resident on chip."""
    persistent_bytes: dict[tuple[int, str], float]
    """Size of every persistent tensor, on chip or not."""
    resident_budget_bytes: float
    """Bytes of the global buffer for resident tensors."""
    workspace_bytes: float
    """Bytes of the global buffer for tiles and transients."""

    def resident(self, layer: int, tensor: str) -> bool:
        """Whether a persistent tensor of a layer is on chip."""
        return (layer, tensor) in self.on_chip

    def transient_on_chip(self, nbytes: float) -> bool:
        """Whether a transient tensor of `nbytes` can stay on chip between two ops."""
        return nbytes <= self.workspace_bytes / 2

    @property
    def resident_bytes(self) -> float:
        """Bytes of persistent tensors on chip."""
        return sum(self.persistent_bytes[key] for key in self.on_chip)


def persistent_sizes(layers: tuple[LayerSpec, ...], formats: list[LayerFormats],
                     opt_state_per_param: int) -> dict[tuple[int, str], float]:
    """Bytes of every persistent tensor of every layer."""
    sizes: dict[tuple[int, str], float] = {}
    for i, (layer, fmt) in enumerate(zip(layers, formats, strict=True)):
        if layer.has_weights:
            sizes[(i, "weights")] = layer.params * fmt.weights.bytes
            if fmt.master is not None:
                sizes[(i, "master_copy")] = layer.params * fmt.master.bytes
            if opt_state_per_param:
                sizes[(i, "optimizer")] = layer.params * opt_state_per_param * fmt.optimizer.bytes
        if layer.act_elems:
            sizes[(i, "activations")] = layer.act_elems * fmt.activations.bytes
    return sizes


def place(sizes: dict[tuple[int, str], float], *, buffer_bytes: float,
          workspace_fraction: float) -> Placement:
    """Greedy packing of persistent tensors into the resident part of the buffer."""
    workspace = buffer_bytes * workspace_fraction
    budget = buffer_bytes - workspace
    free = budget
    on_chip: set[tuple[int, str]] = set()
    for cls in PERSISTENT:
        for key in sorted(k for k in sizes if k[1] == cls):
            if sizes[key] <= free:
                on_chip.add(key)
                free -= sizes[key]
    return Placement(on_chip=frozenset(on_chip), persistent_bytes=sizes,
                     resident_budget_bytes=budget, workspace_bytes=workspace)
