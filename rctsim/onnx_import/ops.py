"""ONNX operators -> layers and non-GEMM work, through the shape builder.

Each handler reads one node's inputs (activations as `Act`, weights as initializer dims), calls the
builder method that does the same thing in a shape model (`conv`, `linear`, `norm`, `embedding`,
`elementwise`, `add`, `pool`, `reshape`, or `GraphBuilder`'s general forms) and binds the node's
outputs. The mapping is tabled in docs/workloads.md ("Importing ONNX").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rctsim.errors import InputError
from rctsim.onnx_import.graph import Graph, numel
from rctsim.onnx_import.values import Act, broadcast_axis, make_act, reshaped_axis
from workloads.shapes.builder import Tensor
from workloads.shapes.general import GraphBuilder

ELEMENTWISE: dict[str, tuple[str, str]] = {
    "Relu": ("relu", "output"),
    "Clip": ("relu", "output"),  # ReLU6 (and any clamp): the backward pass masks by the output
    "Sigmoid": ("sigmoid", "output"),
    "Tanh": ("tanh", "output"),
    "Softmax": ("softmax", "output"),
    "Gelu": ("gelu", "input"),
}
"""Activation op -> (non-GEMM kind, which tensor its backward pass keeps)."""

BINARY: dict[str, str] = {"Add": "add", "Sub": "add", "Sum": "add", "Mul": "mul", "Div": "mul"}
"""Elementwise arithmetic -> non-GEMM kind (a subtraction costs an add, a division a multiply;
`Sum` is a many-operand add)."""

LAYOUT = ("Reshape", "Flatten", "Transpose", "Identity", "Squeeze", "Unsqueeze", "Cast",
          "Dropout", "Expand")
"""Shape-only operators: the tensor passes through, relabelled."""

GLUE = ("Shape", "Size", "Constant", "ConstantOfShape", "Range")
"""Operators whose outputs are constants or shapes (no work, never activations)."""


@dataclass
class Walk:
    """State of one import: the graph, the builder, the activations bound so far."""

    graph: Graph
    nb: GraphBuilder
    acts: dict[str, Act] = field(default_factory=dict)
    """Activation values by ONNX name (anything else is a constant)."""
    fused: set[int] = field(default_factory=set)
    """Nodes already accounted for by an earlier one (a bias Add after a MatMul)."""

    @property
    def batch(self) -> int:
        """The batch size."""
        return self.nb.batch_size

    def shape(self, name: str, node: str) -> tuple[int, ...]:
        """Static shape of value `name`, or InputError."""
        shape = self.graph.shapes.get(name)
        if shape is None:
            raise InputError(self.graph.source, f"node {node!r}",
                             f"shape of {name!r} unknown after shape inference",
                             "static shapes (fix symbolic dims with --dim NAME=SIZE)")
        return shape

    def weight(self, name: str, node: str, what: str) -> tuple[int, ...]:
        """Dims of initializer `name` (a layer's weight), or InputError."""
        if name not in self.graph.initializers:
            raise InputError(self.graph.source, f"node {node!r}",
                             f"{what} {name!r} is computed, not an initializer",
                             "weights stored as initializers")
        return self.graph.initializers[name]

    def bind(self, name: str, tensor: Tensor, axis: int | None, node: str) -> None:
        """Bind ONNX output `name` to the builder's `tensor`, batch on `axis`."""
        self.acts[name] = make_act(tensor, self.shape(name, node), axis, self.batch)

    def batched(self, act: Act, node: str, what: str) -> None:
        """Refuse a GEMM operand whose batch dimension is unknown (when it matters)."""
        if act.axis is None and self.batch > 1:
            raise InputError(self.graph.source, f"node {node!r}",
                             f"{what} has no batch dimension the importer can follow",
                             "graphs that keep the batch as a dimension, or --batch-size 1")


Handler = Callable[[Walk, Any, str], None]


def attr(node: Any, name: str, default: Any = None) -> Any:
    """Attribute `name` of `node` as a Python value."""
    for a in node.attribute:
        if a.name == name:
            from onnx import helper

            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _inputs(node: Any) -> list[str]:
    return list(node.input)


def _opt(node: Any, index: int) -> str | None:
    return node.input[index] if len(node.input) > index and node.input[index] else None


# ----------------------------------------------------------------------------- convolutions
def conv(w: Walk, node: Any, name: str) -> None:
    """Conv: groups (depthwise), strides, dilations, pads or auto_pad; weight (Cout, Cin/g, *k)."""
    x = w.acts[node.input[0]]
    w.batched(x, name, "input")
    wd = w.weight(node.input[1], name, "weight")
    rank = len(wd) - 2
    groups = attr(node, "group", 1)
    kernel = tuple(attr(node, "kernel_shape", wd[2:]))
    stride = tuple(attr(node, "strides", (1,) * rank))
    dilation = tuple(attr(node, "dilations", (1,) * rank))
    pads = _pads(node, x.tensor.shape[1:], kernel, stride, dilation)
    bias = _opt(node, 2) is not None
    out_ch = wd[0]
    simple = (rank == 2 and len(set(kernel)) == 1 and len(set(stride)) == 1
              and set(dilation) == {1} and len(set(pads)) == 1)
    if simple:
        y = w.nb.conv(name, x.tensor, out_ch=out_ch, kernel=kernel[0], stride=stride[0],
                      padding=pads[0], groups=groups, bias=bias)
    else:
        y = w.nb.conv_nd(name, x.tensor, out_ch=out_ch, kernel=kernel, stride=stride,
                         dilation=dilation, pads=pads, groups=groups, bias=bias)
    w.bind(node.output[0], y, 0, name)


def _pads(node: Any, spatial: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
          dilation: tuple[int, ...]) -> tuple[int, ...]:
    """Explicit pads (begins, then ends) from `pads` or `auto_pad`."""
    rank = len(kernel)
    auto = attr(node, "auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        return tuple(attr(node, "pads", (0,) * (2 * rank)))
    if auto == "VALID":
        return (0,) * (2 * rank)
    begins, ends = [], []
    for d, k, s, dil in zip(spatial, kernel, stride, dilation, strict=True):
        total = max((-(-d // s) - 1) * s + dil * (k - 1) + 1 - d, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else large)
        ends.append(large if auto == "SAME_UPPER" else small)
    return (*begins, *ends)


def conv_transpose(w: Walk, node: Any, name: str) -> None:
    """ConvTranspose: weight (Cin, Cout/g, *k); the output shape from shape inference."""
    x = w.acts[node.input[0]]
    w.batched(x, name, "input")
    wd = w.weight(node.input[1], name, "weight")
    groups = attr(node, "group", 1)
    out_full = w.shape(node.output[0], name)
    y = w.nb.conv_transpose(name, x.tensor, out_ch=wd[1] * groups, kernel=wd[2:],
                            out_spatial=out_full[2:], groups=groups,
                            bias=_opt(node, 2) is not None)
    w.bind(node.output[0], y, 0, name)


# ----------------------------------------------------------------------------- products
def gemm(w: Walk, node: Any, name: str) -> None:
    """Gemm `alpha·A'·B' + beta·C` with B an initializer: a linear layer over A's rows."""
    if node.input[0] not in w.acts or node.input[1] in w.acts or attr(node, "transA", 0):
        raise InputError(w.graph.source, f"node {name!r}", "Gemm with a computed B or transA=1",
                         "Gemm(activation, weight initializer), or MatMul for two activations")
    x = w.acts[node.input[0]]
    w.batched(x, name, "input A")
    wd = w.weight(node.input[1], name, "weight")
    k_dim, n_dim = (wd[1], wd[0]) if attr(node, "transB", 0) else wd
    c = _opt(node, 2)
    bias = numel(w.graph.initializers[c]) if c in w.graph.initializers else 0
    _linear(w, node, name, x, k=k_dim, n=n_dim, bias=bias)


def _linear(w: Walk, node: Any, name: str, x: Act, *, k: int, n: int, bias: int,
            output: str | None = None) -> None:
    """A linear layer over the last dim of `x` (bias elements as given)."""
    if x.tensor.shape[-1:] != (k,) or (x.axis is not None and x.axis == len(x.full) - 1
                                       and w.batch > 1):
        raise InputError(w.graph.source, f"node {name!r}", f"input {x.full} against weight K={k}",
                         "an input whose last dimension is the reduction")
    if bias in (0, n):
        y = w.nb.linear(name, x.tensor, out_features=n, bias=bias == n)
    else:
        rows = math.prod(x.tensor.shape[:-1])
        y = w.nb.gemm(name, x.tensor, m=w.batch * rows, n=n, k=k, params=k * n + bias,
                      out_shape=(*x.tensor.shape[:-1], n))
    w.bind(output or node.output[0], y, x.axis, name)


def matmul(w: Walk, node: Any, name: str) -> None:
    """MatMul: activation x weight (linear, fusing a following bias Add), weight x activation,
    or two activations (an attention product, batch dims broadcast)."""
    a_name, b_name = node.input[0], node.input[1]
    a, b = w.acts.get(a_name), w.acts.get(b_name)
    if a is not None and b is not None:
        w.batched(a if a.axis is not None else b, name, "input")
        out_full = w.shape(node.output[0], name)
        out_axis = broadcast_axis([a, b], len(out_full), w.batch)
        sample = make_act(a.tensor, out_full, out_axis, w.batch).tensor.shape
        y = w.nb.matmul(name, a.tensor, b.tensor, out_shape=sample)
        w.bind(node.output[0], y, out_axis, name)
        return
    if a is not None:
        wd = w.weight(b_name, name, "weight")
        if len(wd) != 2:
            raise InputError(w.graph.source, f"node {name!r}", f"weight of rank {len(wd)}",
                             "a 2-D weight (K, N)")
        w.batched(a, name, "input")
        bias, output = _bias_after(w, node)
        _linear(w, node, name, a, k=wd[0], n=wd[1], bias=bias, output=output)
        return
    assert b is not None  # a node with no activation input is a constant: never dispatched
    wd = w.weight(a_name, name, "weight")
    w.batched(b, name, "input")
    if len(wd) != 2 or len(b.full) < 2 or b.axis == len(b.full) - 1 and w.batch > 1:
        raise InputError(w.graph.source, f"node {name!r}", "weight-on-the-left product of "
                         f"{wd} and {b.full}", "a 2-D weight and a batched input (..., K, T)")
    out_full = w.shape(node.output[0], name)
    sample = make_act(b.tensor, out_full, b.axis, w.batch).tensor.shape
    rows = math.prod(b.tensor.shape) // wd[1]
    y = w.nb.gemm(name, b.tensor, m=w.batch * rows, n=wd[0], k=wd[1], params=numel(wd),
                  out_shape=sample)
    w.bind(node.output[0], y, b.axis, name)


def _bias_after(w: Walk, node: Any) -> tuple[int, str | None]:
    """A bias Add right after a MatMul (how exporters write a linear layer on N-D inputs):
    its element count and output name, the Add marked as fused; (0, None) when there is none."""
    out = node.output[0]
    users = w.graph.consumers.get(out, [])
    if len(users) != 1 or out in w.graph.outputs:
        return 0, None
    add = w.graph.nodes[users[0]]
    if add.op_type != "Add":
        return 0, None
    other = [i for i in add.input if i != out]
    if len(other) != 1 or other[0] not in w.graph.float_initializers:
        return 0, None
    dims = w.graph.initializers[other[0]]
    if len(dims) < 1 or numel(dims) != dims[-1]:
        return 0, None
    w.fused.add(users[0])
    return numel(dims), add.output[0]


# ----------------------------------------------------------------------------- recurrent
def recurrent(w: Walk, node: Any, name: str) -> None:
    """LSTM / GRU: the gate GEMM over the sequence, every direction; params as stored."""
    x = w.acts[node.input[0]]
    lstm = node.op_type == "LSTM"
    layout = attr(node, "layout", 0)
    batch_axis = 0 if layout else 1
    if len(x.full) != 3 or (x.axis != batch_axis and w.batch > 1):
        raise InputError(w.graph.source, f"node {name!r}", f"input {x.full} with the batch on "
                         f"axis {x.axis}", "(T, B, in) for layout=0, (B, T, in) for layout=1")
    hidden = attr(node, "hidden_size")
    directions = 2 if attr(node, "direction", "forward") == "bidirectional" else 1
    weights = [node.input[1], node.input[2]]
    weights += [n for n in (_opt(node, 3), _opt(node, 7) if lstm else None) if n]
    params = sum(numel(w.weight(n, name, "weight")) for n in weights)
    seq = x.tensor if layout else replace(x.tensor, shape=(x.full[0], x.full[2]))
    h = w.nb.recurrent(name, seq, hidden=hidden, gates=4 if lstm else 3, params=params,
                       directions=directions, cell=lstm)
    axes = {0: 2, 1: 1, 2: 1} if not layout else {0: 0, 1: 0, 2: 0}
    for index, out in enumerate(node.output):
        if out:
            w.bind(out, h, axes[index], name)


# ----------------------------------------------------------------------------- no GEMM
def gather(w: Walk, node: Any, name: str) -> None:
    """Gather on a weight initializer: an embedding; on an activation: a selection."""
    data, indices = node.input[0], node.input[1]
    axis = attr(node, "axis", 0)
    if data in w.graph.float_initializers:
        dims = w.graph.initializers[data]
        if len(dims) != 2 or axis != 0:
            raise InputError(w.graph.source, f"node {name!r}", f"Gather of a {dims} table on "
                             f"axis {axis}", "an embedding table (vocab, dim) on axis 0")
        ids = w.acts.get(indices)
        if ids is None:
            ids_tensor = w.nb.input(f"{name}:ids", w.shape(indices, name), batched=False)
            ids = Act(ids_tensor, w.shape(indices, name), None)
        y = w.nb.embedding(name, ids.tensor, vocab=dims[0], dim=dims[1])
        w.bind(node.output[0], y, ids.axis, name)
        return
    x = w.acts[data]
    out_full = w.shape(node.output[0], name)
    rank = len(x.full)
    axis %= rank
    if x.axis is not None and axis == x.axis and w.batch > 1:
        raise InputError(w.graph.source, f"node {name!r}", "Gather along the batch dimension",
                         "a selection along another dimension")
    shift = len(out_full) - rank
    out_axis = None if x.axis is None else (x.axis if x.axis < axis else x.axis + shift)
    sample = make_act(x.tensor, out_full, out_axis, w.batch).tensor.shape
    w.bind(node.output[0], w.nb.reshape(x.tensor, "select", sample), out_axis, name)


def norm(w: Walk, node: Any, name: str) -> None:
    """BatchNormalization (scale, bias over channels) and LayerNormalization (over the trailing
    axes from `axis`): a norm layer with the stored scale and shift as parameters."""
    x = w.acts[node.input[0]]
    params = sum(numel(w.weight(n, name, "scale/bias"))
                 for n in (_opt(node, 1), _opt(node, 2)) if n)
    if node.op_type == "BatchNormalization":
        features = x.full[1]
    else:
        features = math.prod(x.full[attr(node, "axis", -1):])
    op = "batchnorm" if node.op_type == "BatchNormalization" else "layernorm"
    if params == 2 * features:
        y = w.nb.norm(name, x.tensor, features=features, op=op)
    else:
        y = w.nb.norm_params(name, x.tensor, params=params, features=features, op=op)
    w.bind(node.output[0], y, x.axis, name)


def activation(w: Walk, node: Any, name: str) -> None:
    """ReLU, ReLU6 (Clip), sigmoid, tanh, softmax, GELU: elementwise, keeping what backward
    needs."""
    kind, keep = ELEMENTWISE[node.op_type]
    x = w.acts[node.input[0]]
    w.bind(node.output[0], w.nb.elementwise(x.tensor, kind, keep=keep), x.axis, name)


def pool(w: Walk, node: Any, name: str) -> None:
    """MaxPool (keeps its input), AveragePool and the global pools (keep nothing)."""
    x = w.acts[node.input[0]]
    out_full = w.shape(node.output[0], name)
    sample = make_act(x.tensor, out_full, x.axis, w.batch).tensor.shape
    if node.op_type in ("MaxPool", "GlobalMaxPool"):
        kernel = tuple(attr(node, "kernel_shape", ()))
        stride = tuple(attr(node, "strides", (1,) * len(kernel)))
        pads = tuple(attr(node, "pads", (0,) * 2 * len(kernel)))
        square = (len(kernel) == 2 and len(set(kernel)) == len(set(stride)) == len(set(pads)) == 1
                  and attr(node, "auto_pad", "NOTSET") in ("NOTSET", "")
                  and set(attr(node, "dilations", (1,))) == {1})
        side = [(d + 2 * pads[0] - kernel[0]) // stride[0] + 1
                for d in x.tensor.shape[1:]] if square else []
        if square and (x.tensor.shape[0], *side) == sample:
            y = w.nb.pool(x.tensor, kernel=kernel[0], stride=stride[0], padding=pads[0])
        else:  # ceil_mode, dilations, other ranks, asymmetric windows
            window = math.prod(kernel) if kernel else math.prod(x.tensor.shape[1:])  # global
            y = w.nb.maxpool(x.tensor, out_shape=sample, window=window)
    else:
        y = w.nb.reshape(x.tensor, "avgpool", sample)
    w.bind(node.output[0], y, x.axis, name)


def binary(w: Walk, node: Any, name: str) -> None:
    """Add/Sub/Mul/Div: residual adds join branches; products of two activations keep both;
    with a constant operand, elementwise work that keeps nothing."""
    kind = BINARY[node.op_type]
    out_full = w.shape(node.output[0], name)
    operands = [w.acts[i] for i in node.input if i in w.acts]
    axis = broadcast_axis(operands, len(out_full), w.batch)
    sample = make_act(operands[0].tensor, out_full, axis, w.batch).tensor
    if len(operands) == 1:
        y = w.nb.elementwise(operands[0].tensor, kind, keep=None)
    elif kind == "add":
        joined = [replace(o.tensor, shape=sample.shape, elems=sample.elems) for o in operands
                  if o.tensor.producers]
        y = w.nb.add(*joined) if joined else sample
    else:
        y = w.nb.elementwise(operands[0].tensor, kind, keep="input")
        for other in operands[1:]:
            w.nb.keep(other.tensor)
    w.bind(node.output[0], y, axis, name)


def concat(w: Walk, node: Any, name: str) -> None:
    """Concat of activations: no work, one predecessor per operand."""
    operands = [w.acts[i] for i in node.input if i in w.acts]
    out_full = w.shape(node.output[0], name)
    axis = broadcast_axis(operands, len(out_full), w.batch)
    sample = make_act(operands[0].tensor, out_full, axis, w.batch).tensor.shape
    w.bind(node.output[0], w.nb.concat(*(o.tensor for o in operands), shape=sample), axis, name)


def layout(w: Walk, node: Any, name: str) -> None:
    """Reshape, Flatten, Transpose, Squeeze, ...: the same tensor under a new shape."""
    x = w.acts[node.input[0]]
    passthrough(w, node, name, x)


def passthrough(w: Walk, node: Any, name: str, x: Act) -> None:
    """Bind every output of `node` to `x`'s tensor, relabelled to the output's shape."""
    for out in node.output:
        if not out or w.graph.shapes.get(out) is None:
            continue
        out_full = w.graph.shapes[out]
        if node.op_type == "Transpose":
            perm = attr(node, "perm", tuple(reversed(range(len(x.full)))))
            axis = None if x.axis is None else list(perm).index(x.axis)
        elif out_full == x.full:
            axis = x.axis
        else:
            axis = reshaped_axis(x.full, x.axis, out_full, w.batch)
        w.acts[out] = make_act(x.tensor, out_full, axis, w.batch)
        break  # Dropout's mask and other extra outputs are not activations


HANDLERS: dict[str, Handler] = {
    "Conv": conv,
    "ConvTranspose": conv_transpose,
    "Gemm": gemm,
    "MatMul": matmul,
    "LSTM": recurrent,
    "GRU": recurrent,
    "Gather": gather,
    "BatchNormalization": norm,
    "LayerNormalization": norm,
    **{op: activation for op in ELEMENTWISE},
    "MaxPool": pool,
    "AveragePool": pool,
    "GlobalAveragePool": pool,
    "GlobalMaxPool": pool,
    **{op: binary for op in BINARY},
    "Concat": concat,
    **{op: layout for op in LAYOUT},
}
"""Supported operators (with at least one activation input) -> handler."""
