"""Import an ONNX model as a layer table (`LayerSpec`s) for a trace.

`import_onnx(path, batch_size=...)` reads the file with the `onnx` package (the optional extra
`rctsim[onnx]`), fixes the batch dimension, infers shapes, walks the nodes in topological order and
builds the layers through the same builder the bundled shape models use, so an imported ResNet-18
and the bundled `resnet18` agree layer for layer. docs/workloads.md ("Importing ONNX") lists the
operators and what each becomes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rctsim.errors import InputError
from rctsim.onnx_import.graph import INSTALL_HINT, Graph, load_graph, require_onnx
from rctsim.onnx_import.ops import GLUE, HANDLERS, Walk, passthrough
from rctsim.onnx_import.values import make_act, per_sample
from rctsim.trace.model import LayerSpec
from workloads.shapes.general import GraphBuilder

SUPPORTED: tuple[str, ...] = tuple(sorted(HANDLERS))
"""Operators the importer maps (besides shape/constant glue, which it folds)."""

_FIRST_INPUT_ACTIVATION = set(HANDLERS) - {"Add", "Sub", "Mul", "Div", "Sum", "MatMul", "Gather",
                                           "Concat"}


@dataclass(frozen=True)
class OnnxImport:
    """The result of importing one ONNX file."""

    layers: list[LayerSpec]
    """The layer table, in topological order."""
    model: str
    """Model name (the file's stem)."""
    skipped: dict[str, int]
    """Unsupported operators passed through with `skip_unsupported`, with their counts."""
    notes: dict[str, str]
    """Provenance for the trace header."""


def import_onnx(path: str | Path, *, batch_size: int, dims: dict[str, int] | None = None,
                skip_unsupported: bool = False) -> OnnxImport:
    """Import `path` at `batch_size`; InputError for unsupported operators unless skipped."""
    graph = load_graph(path, batch_size=batch_size, dims=dims)
    active = _activation_nodes(graph)
    unsupported = Counter(graph.nodes[i].op_type for i in sorted(active)
                          if graph.nodes[i].op_type not in HANDLERS)
    if unsupported and not skip_unsupported:
        raise InputError(graph.source, "operators", f"unsupported: {format_counts(unsupported)}",
                         f"{', '.join(SUPPORTED)}, shape glue; or --skip-unsupported to pass "
                         "them through")
    model = Path(path).stem or "onnx"
    nb = GraphBuilder(model=model, batch_size=batch_size)
    walk = Walk(graph, nb)
    for name in graph.inputs:
        full = graph.shapes.get(name) or ()
        axis = 0 if full else None
        walk.acts[name] = make_act(nb.input(name, per_sample(full, axis, batch_size)), full,
                                   axis, batch_size)
    for i, node in enumerate(graph.nodes):
        if i not in active or i in walk.fused:
            continue
        name = graph.names[i]
        missing = [v for v in node.input if v and v in active.get(i, ()) and v not in walk.acts]
        if missing:
            raise InputError(graph.source, f"node {name!r}", f"input {missing[0]!r} has no known "
                             "shape (it comes from a skipped operator)", "static shapes")
        if node.op_type not in HANDLERS:
            first = next(walk.acts[v] for v in node.input if v in walk.acts)
            passthrough(walk, node, name, first)
            continue
        HANDLERS[node.op_type](walk, node, name)
    for out in sorted(graph.outputs):  # training adds a loss on each output, as shape models do
        if out in walk.acts and walk.acts[out].tensor.producers:
            nb.elementwise(walk.acts[out].tensor, "loss", keep=None)
    layers = nb.build()
    if not layers:
        raise InputError(graph.source, "graph", "has no layer (no GEMM, norm or embedding)",
                         "a model with Conv, Gemm, MatMul, LSTM, GRU, norm or embedding nodes")
    notes = {"onnx_file": Path(path).name, "onnx_opset": str(graph.opset),
             "onnx_nodes": str(len(graph.nodes))}
    if dims:
        notes["onnx_dims"] = ",".join(f"{k}={v}" for k, v in sorted(dims.items()))
    if unsupported:
        notes["onnx_skipped"] = format_counts(unsupported)
    return OnnxImport(layers=layers, model=model, skipped=dict(unsupported), notes=notes)


def format_counts(counts: Counter | dict[str, int]) -> str:
    """`Erf x2, Pow x1`: operators with their counts, most frequent first."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{op} x{n}" for op, n in ordered)


def _activation_nodes(graph: Graph) -> dict[int, set[str]]:
    """Nodes that touch activations -> which of their inputs are activations.

    A node is glue (skipped) when it only reads constants, initializers and shapes; a Gather from
    a weight table is a layer (an embedding) even with constant indices.
    """
    live = set(graph.inputs)
    active: dict[int, set[str]] = {}
    for i, node in enumerate(graph.nodes):
        if node.op_type in GLUE:
            continue
        acts = {v for v in node.input if v in live}
        embedding = node.op_type == "Gather" and node.input[0] in graph.float_initializers
        if node.op_type in _FIRST_INPUT_ACTIVATION and node.input[0] not in live:
            acts = set()
        if not acts and not embedding:
            continue
        active[i] = acts
        live.update(o for o in node.output if o)
    return active


__all__ = ["INSTALL_HINT", "OnnxImport", "SUPPORTED", "format_counts", "import_onnx",
           "require_onnx"]
