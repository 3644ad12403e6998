"""Where tensors live: which persistent tensors stay on chip, and which transients fit.

The global buffer is split into a *resident* part (persistent tensors kept across iterations)
and a *workspace*: half for the running GEMM's tiles, half for tensors passed from one op to the
next. Persistent tensors are packed greedily into the resident part by class priority (weights,
master copy, optimiser state, activations kept for backward), then layer order; what does not fit
lives in DRAM and streams every iteration. A transient (a layer's output Y, dY, dX, dW) stays on
chip when it fits one of three equal slots of the transient half; otherwise it goes through DRAM.
A layer's output goes straight into its consumers' resident slots when they keep their input
(docs/model.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from rctsim.ops import stored_input_elems, stored_weight_elems
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
        """Whether a transient tensor of `nbytes` fits its slot (TRANSIENT_SLOTS share half
        the workspace; the other half holds the running GEMM's tiles)."""
        return nbytes <= self.workspace_bytes / 2 / TRANSIENT_SLOTS

    @cached_property
    def resident_bytes(self) -> float:
        """Bytes of persistent tensors on chip (summed once: the placement is frozen)."""
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


class Transient(NamedTuple):
    """A tensor passed from one op to the next, and where it goes (a named tuple: a phase makes
    four per layer)."""

    nbytes: float
    """Extra space it needs while live (GEMM results at the wider of output and accumulator;
    0 when it is written into a resident slot)."""
    in_dram: bool
    """Whether it goes out to DRAM and back (it does not fit its on-chip slot)."""


@dataclass(frozen=True)
class TransientHomes:
    """Where every layer's transients live in one phase: one decision, shared by the traffic
    count and the footprint."""

    x_in_dram: tuple[bool, ...]
    """Forward input X comes from DRAM (the first layer's: a new batch every iteration)."""
    y: tuple[Transient, ...]
    """Forward output Y."""
    dy: tuple[Transient, ...]
    """Gradient of the layer's output, as its dgrad and wgrad read it."""
    dx: tuple[Transient, ...]
    """dgrad output dX."""
    dw: tuple[Transient, ...]
    """wgrad output dW (the gradient of the second operand for a layer without weights)."""

    def key(self, layer: int) -> tuple:
        """Everything about one layer's transients that changes its counts (for caching), as
        plain numbers and flags (hashed and compared without a Python call per field)."""
        y, dy, dx, dw = self.y[layer], self.dy[layer], self.dx[layer], self.dw[layer]
        return (self.x_in_dram[layer], y.nbytes, y.in_dram, dy.nbytes, dy.in_dram, dx.nbytes,
                dx.in_dram, dw.nbytes, dw.in_dram)


TRANSIENT_SLOTS = 3
"""At most three transients are live at once (during a wgrad: dY, the dX waiting for the layer
below, and dW); each gets an equal slot of the transient half of the workspace."""


@dataclass(frozen=True)
class LayerGraph:
    """What the homes and the footprint read of a layer table's shape, derived once per table
    (`layer_graph`): it does not change between phases."""

    pred: tuple[int | None, ...]
    """Index of each layer's first predecessor (None for an input layer)."""
    first_consumers: tuple[tuple[int, ...], ...]
    """Per layer: the layers whose first predecessor it is."""
    first_gemm_consumer: tuple[int | None, ...]
    """Per layer: the first of those with a GEMM (its dgrad writes this layer's dY)."""
    has_gemm: tuple[bool, ...]
    y_elems: tuple[int, ...]
    """Elements of the forward output as a transient (M*N of a GEMM, else act_elems)."""
    out_elems: tuple[int, ...]
    """M*N."""
    input_elems: tuple[int, ...]
    """`stored_input_elems` (X and dX)."""
    weight_elems: tuple[int, ...]
    """`stored_weight_elems` (W and dW)."""


def layer_graph(layers: tuple[LayerSpec, ...]) -> LayerGraph:
    """The LayerGraph of a layer table."""
    index = {layer.name: i for i, layer in enumerate(layers)}
    first: list[list[int]] = [[] for _ in layers]
    for j, layer in enumerate(layers):
        if layer.preds:
            first[index[layer.preds[0]]].append(j)
    gemm = tuple(layer.has_gemm for layer in layers)
    return LayerGraph(
        pred=tuple(index[layer.preds[0]] if layer.preds else None for layer in layers),
        first_consumers=tuple(tuple(c) for c in first),
        first_gemm_consumer=tuple(next((j for j in c if gemm[j]), None) for c in first),
        has_gemm=gemm,
        y_elems=tuple(layer.m * layer.n if layer.has_gemm else layer.act_elems
                      for layer in layers),
        out_elems=tuple(layer.m * layer.n for layer in layers),
        input_elems=tuple(stored_input_elems(layer) for layer in layers),
        weight_elems=tuple(stored_weight_elems(layer) for layer in layers))


def transient_homes(layers: tuple[LayerSpec, ...], formats: list[LayerFormats],
                    placement: Placement, graph: LayerGraph | None = None) -> TransientHomes:
    """Decide once per phase where each layer's Y, dY, dX and dW live (`graph`: the table's
    layer_graph, derived here if not given)."""
    g = graph or layer_graph(layers)
    limit = placement.workspace_bytes / 2 / TRANSIENT_SLOTS  # placement.transient_on_chip
    on_chip = placement.on_chip

    def home(nbytes: float) -> Transient:
        return Transient(nbytes, not nbytes <= limit)

    y, dx, dw = [], [], []
    for i, fmt in enumerate(formats):
        act = fmt.activations.bytes
        if g.has_gemm[i]:  # partial sums of the output live at the accumulator's width
            act = max(act, fmt.acc.bytes)
        grad_acc = fmt.gradients if fmt.gradients.is_float else fmt.acc
        grad = max(fmt.gradients.bytes, grad_acc.bytes)
        consumers = g.first_consumers[i]
        kept = bool(consumers) and all((j, "activations") in on_chip for j in consumers)
        # Written straight into the consumers' resident slots: no transient space, no DRAM.
        y.append(Transient(0.0, False) if kept else home(g.y_elems[i] * act))
        dx.append(home(g.input_elems[i] * grad))
        dw.append(home(g.weight_elems[i] * grad))
    dy = [dx[j] if j is not None else home(g.out_elems[i] * fmt.gradients.bytes)
          for i, (j, fmt) in enumerate(zip(g.first_gemm_consumer, formats, strict=True))]
    x_in = tuple(p is None or (y[p].in_dram and (i, "activations") not in on_chip)
                 for i, p in enumerate(g.pred))
    return TransientHomes(x_in_dram=x_in, y=tuple(y), dy=tuple(dy), dx=tuple(dx), dw=tuple(dw))
