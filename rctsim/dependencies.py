"""Read-after-write through DRAM: which earlier ops of a step wrote what an op reads from DRAM.

A tensor that one op writes to DRAM and a later op reads back is a dependency the engine must
honour: the read may start only once the write is out (docs/model.md §4). The producers follow
the tensors' homes (`rctsim.placement.transient_homes`):

- fwd of layer i reads X: the forward output Y of its predecessors (through layers without a
  GEMM, back to the nearest forward op);
- dgrad and wgrad of layer i read dY: the dX its first GEMM consumer's dgrad wrote;
- wgrad (and the dgrad of a weightless layer) read X kept for backward: written by the forward
  of the layer itself or of its predecessors;
- update of layer i reads dW: its own wgrad.

Only ops that read DRAM get dependencies, and only on ops that wrote DRAM. Persistent tensors
(weights, master copy, optimiser state) are written by the previous step's update: no
dependency inside a step.
"""

from __future__ import annotations

from rctsim.counting import OpCounts
from rctsim.ops import Op
from rctsim.trace.model import LayerSpec


def dram_producers(layers: tuple[LayerSpec, ...], schedule: list[Op],
                   counts: list[OpCounts]) -> list[tuple[int, ...]]:
    """For each op of the schedule, the indices of earlier ops whose DRAM writes it reads."""
    pos = {(op.layer, op.kind): idx for idx, op in enumerate(schedule)}
    index = {layer.name: i for i, layer in enumerate(layers)}
    preds = [[index[p] for p in layer.preds] for layer in layers]
    gemm_consumers: dict[int, list[int]] = {i: [] for i in range(len(layers))}
    for j, layer in enumerate(layers):
        if layer.preds and layer.has_gemm:
            gemm_consumers[index[layer.preds[0]]].append(j)

    def forward_of(i: int, seen: frozenset = frozenset()) -> list[tuple[int, str]]:
        """The forward ops that produced layer i's output (itself, or through GEMM-less ones)."""
        if (i, "fwd") in pos:
            return [(i, "fwd")]
        if i in seen:
            return []
        return [f for p in preds[i] for f in forward_of(p, seen | {i})]

    out: list[tuple[int, ...]] = []
    for idx, (op, c) in enumerate(zip(schedule, counts, strict=True)):
        if c.dram_read_bytes <= 0:
            out.append(())
            continue
        i = op.layer
        x_in = [f for p in preds[i] for f in forward_of(p)]
        dy = [(j, "dgrad") for j in gemm_consumers[i][:1]]
        if op.kind == "fwd":
            sources = x_in
        elif op.kind == "dgrad":
            sources = dy + ([] if layers[i].has_weights else [(i, "fwd"), *x_in])
        elif op.kind == "wgrad":
            sources = [(i, "fwd"), *x_in, *dy]
        else:
            sources = [(i, "wgrad")]
        deps = {pos[s] for s in sources if s in pos}
        out.append(tuple(sorted(d for d in deps
                                if d < idx and counts[d].dram_write_bytes > 0)))
    return out
