"""Reading an ONNX file: the batch dimension, symbolic dims, shape inference, topological order.

`load_graph` fixes every graph input's first dimension to the batch size, resolves the other
symbolic dimensions from `dims` (refusing, in one line, any it cannot), runs ONNX shape inference
(strict, with data propagation so that shape-computing glue folds) and orders the nodes
topologically with networkx. Initializer *values* are never read: only their dims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from rctsim.errors import InputError

INSTALL_HINT = "pip install 'rctsim[onnx]' (or pip install onnx)"
"""What to do when the `onnx` package is missing."""


def require_onnx(source: str = "trace import") -> Any:
    """The `onnx` module, or InputError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise InputError(source, "onnx", "reading ONNX files needs the onnx package, which is not "
                         "installed", INSTALL_HINT) from None
    return onnx


@dataclass
class Graph:
    """An ONNX graph with static shapes, ready to walk in topological order."""

    source: str
    """File name (for messages)."""
    nodes: list[Any]
    """NodeProtos in topological order."""
    names: list[str]
    """A unique name per node (its own name, else `<op><index>`), parallel to `nodes`."""
    shapes: dict[str, tuple[int, ...] | None]
    """Shape of every value shape inference could fix (None: some dimension stays unknown)."""
    initializers: dict[str, tuple[int, ...]]
    """Dims of every initializer (and Constant node output) by value name."""
    float_initializers: set[str]
    """Initializers holding floating-point values (trainable weights)."""
    inputs: list[str]
    """Graph inputs that are not initializers (the data)."""
    consumers: dict[str, list[int]] = field(default_factory=dict)
    """Value name -> indices (into `nodes`) of the nodes that read it."""
    outputs: set[str] = field(default_factory=set)
    """Graph output names."""
    opset: int = 0
    """The default-domain opset the model imports."""


def load_graph(path: str | Path, *, batch_size: int, dims: dict[str, int] | None = None) -> Graph:
    """Load `path`, set the batch dimension and symbolic dims, infer shapes, sort the nodes."""
    onnx = require_onnx()
    source = str(path)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(source, "--batch-size", f"{batch_size!r}", "an integer >= 1")
    try:
        model = onnx.load(source, load_external_data=False)
    except FileNotFoundError:
        raise InputError(source, "file", "not found", "an existing .onnx file") from None
    except Exception as err:  # protobuf's DecodeError and friends
        raise InputError(source, "file", f"not a readable ONNX model ({_first_line(err)})",
                         "an ONNX ModelProto file") from None
    graph = model.graph
    init_names = {t.name for t in graph.initializer}
    data_inputs = [v for v in graph.input if v.name not in init_names]
    _fix_input_dims(source, data_inputs, batch_size, dims or {})
    del graph.value_info[:]
    for out in graph.output:  # exporters write symbolic or stale output shapes: infer afresh
        if out.type.HasField("tensor_type"):
            out.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as err:
        raise InputError(source, "shape inference", _first_line(err),
                         "a model ONNX shape inference accepts") from None
    g = inferred.graph
    shapes: dict[str, tuple[int, ...] | None] = {}
    for info in (*g.input, *g.value_info, *g.output):
        shapes[info.name] = _static_shape(info)
    initializers = {t.name: tuple(int(d) for d in t.dims) for t in g.initializer}
    float_types = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                   onnx.TensorProto.BFLOAT16}
    float_inits = {t.name for t in g.initializer if t.data_type in float_types}
    for name, dim in initializers.items():
        shapes.setdefault(name, dim)
    nodes = list(g.node)
    order = _topological(source, nodes, set(initializers) | {v.name for v in g.input})
    nodes = [nodes[i] for i in order]
    names = _unique_names(nodes)
    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(i)
    opset = next((o.version for o in inferred.opset_import if o.domain in ("", "ai.onnx")), 0)
    return Graph(source=source, nodes=nodes, names=names, shapes=shapes,
                 initializers=initializers, float_initializers=float_inits,
                 inputs=[v.name for v in data_inputs], consumers=consumers,
                 outputs={o.name for o in g.output}, opset=opset)


def numel(shape: tuple[int, ...]) -> int:
    """Elements of a tensor of `shape`."""
    return math.prod(shape)


def _fix_input_dims(source: str, inputs: list[Any], batch: int, dims: dict[str, int]) -> None:
    """First dim of every data input := batch; other symbolic dims from `dims`, else refuse."""
    batch_symbols: set[str] = set()
    for value in inputs:
        shape = value.type.tensor_type.shape.dim if value.type.HasField("tensor_type") else []
        if len(shape) and shape[0].dim_param:
            batch_symbols.add(shape[0].dim_param)
    for value in inputs:
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            raise InputError(source, f"input {value.name!r}", "has no tensor shape",
                             "inputs with a declared shape")
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            where = f"input {value.name!r} dim {axis}"
            if dim.HasField("dim_value"):
                if axis == 0 and dim.dim_value != batch:
                    raise InputError(source, where, f"fixed batch dimension {dim.dim_value} "
                                     f"differs from --batch-size {batch}",
                                     f"--batch-size {dim.dim_value}, or export the model with a "
                                     "dynamic batch axis")
                continue
            symbol = dim.dim_param
            if axis == 0 or symbol in batch_symbols:
                dim.dim_value = batch
            elif symbol in dims:
                dim.dim_value = dims[symbol]
            else:
                shown = f"symbolic {symbol!r}" if symbol else "unknown"
                raise InputError(source, where, f"{shown} size", f"--dim {symbol or 'NAME'}=SIZE "
                                 "(the first dimension of every input is the batch)")


def _static_shape(info: Any) -> tuple[int, ...] | None:
    if not info.type.HasField("tensor_type") or not info.type.tensor_type.HasField("shape"):
        return None
    dims = info.type.tensor_type.shape.dim
    if any(not d.HasField("dim_value") for d in dims):
        return None
    return tuple(int(d.dim_value) for d in dims)


def _topological(source: str, nodes: list[Any], available: set[str]) -> list[int]:
    """Node indices in a topological order (the file's order where it is one already)."""
    producer: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out:
                producer[out] = i
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(nodes)))
    for i, node in enumerate(nodes):
        for name in node.input:
            if not name:
                continue
            if name in producer:
                dag.add_edge(producer[name], i)
            elif name not in available:
                raise InputError(source, f"node {node.name or node.op_type!r}",
                                 f"input {name!r} is never produced",
                                 "a graph input, an initializer or a node output")
    try:
        return list(nx.lexicographical_topological_sort(dag))
    except nx.NetworkXUnfeasible:
        raise InputError(source, "graph", "has a cycle", "an acyclic graph") from None


def _unique_names(nodes: list[Any]) -> list[str]:
    """Each node's own name, else `<op><index>`; repeats get `_1`, `_2`, ... (never a taken one)."""
    bases = [node.name or f"{node.op_type.lower()}{i}" for i, node in enumerate(nodes)]
    taken = set(bases)
    seen: set[str] = set()
    names = []
    for base in bases:
        name, count = base, 0
        while name in seen:
            count += 1
            name = f"{base}_{count}"
            if name in taken:
                continue
        seen.add(name)
        names.append(name)
    return names


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:300]
