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
                   counts: list[OpCounts], memo: dict | None = None,
                   traffic: list[tuple[bool, bool]] | None = None) -> list[tuple[int, ...]]:
    """For each op of the schedule, the indices of earlier ops whose DRAM writes it reads.

    `memo`: a dict kept between calls on the same layer table (rctsim.reuse.PolicyWork.deps);
    the candidates of each op follow from the schedule's shape alone, so they are derived once
    per shape and only filtered by this step's DRAM traffic. `traffic`: per op, whether it
    reads and whether it writes DRAM, when the caller knows (else read from `counts`)."""
    shape = tuple((op.layer, op.kind) for op in schedule)
    candidates = memo.get(shape) if memo is not None else None
    if candidates is None:
        candidates = _candidates(layers, shape)
        if memo is not None:
            memo[shape] = candidates
    if traffic is None:
        traffic = [(c.dram_read_bytes > 0, c.dram_write_bytes > 0) for c in counts]
    writes = [w for _, w in traffic]
    return [tuple([d for d in cands if writes[d]]) if r and cands else ()
            for (r, _), cands in zip(traffic, candidates, strict=True)]


def _candidates(layers: tuple[LayerSpec, ...],
                shape: tuple[tuple[int, str], ...]) -> list[tuple[int, ...]]:
    """Per op of a schedule given as (layer, kind) pairs: the earlier ops (sorted) that write
    what it would read from DRAM, before looking at which of them do go through DRAM."""
    pos = {key: idx for idx, key in enumerate(shape)}
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
    for idx, (i, kind) in enumerate(shape):
        x_in = [f for p in preds[i] for f in forward_of(p)]
        dy = [(j, "dgrad") for j in gemm_consumers[i][:1]]
        if kind == "fwd":
            sources = x_in
        elif kind == "dgrad":
            sources = dy + ([] if layers[i].has_weights else [(i, "fwd"), *x_in])
        elif kind == "wgrad":
            sources = [(i, "fwd"), *x_in, *dy]
        else:
            sources = [(i, "wgrad")]
        deps = {pos[s] for s in sources if s in pos}
        out.append(tuple(sorted(d for d in deps if d < idx)))
    return out
