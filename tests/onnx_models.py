"""ONNX models written with `onnx.helper` for the import tests (no downloads, no framework).

Each function writes the graph the way PyTorch's exporter lays the network out (Conv without bias
followed by BatchNormalization, Gemm for the classifier, MatMul + bias Add for linear layers on
token sequences, Reshape/Transpose around the attention products), with node names equal to the
framework's module names, and zero-filled weights of the right shapes. These are written from the
network definitions (torchvision's resnet18 / mobilenet_v2, BERT), not from the bundled shape
models, so the tests compare two independent descriptions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

onnx = __import__("pytest").importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


class Net:
    """A graph under construction: nodes, zero initializers, one data input."""

    def __init__(self, opset: int = 17):
        self.nodes: list = []
        self.inits: list = []
        self.inputs: list = []
        self.opset = opset
        self._n = 0

    def input(self, name: str, dims: list, dtype=TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, dims))
        return name

    def weight(self, name: str, shape: tuple, dtype=np.float32) -> str:
        self.inits.append(numpy_helper.from_array(np.zeros(shape, dtype), name))
        return name

    def const(self, name: str, values, dtype=np.int64) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(values, dtype), name))
        return name

    def op(self, op: str, inputs: list, name: str | None = None, outputs: int = 1,
           **attrs) -> str | list[str]:
        self._n += 1
        name = name or f"{op.lower()}_{self._n}"
        outs = [f"{name}:{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    def save(self, path: Path, output: str) -> Path:
        graph = helper.make_graph(self.nodes, "g", self.inputs,
                                  [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                                                 None)],
                                  initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        onnx.save(model, str(path))
        return path

    # ------------------------------------------------------------------ common blocks
    def conv(self, name: str, x: str, cin: int, cout: int, k: int, stride: int = 1,
             pad: int = 0, groups: int = 1, bias: bool = False) -> str:
        inputs = [x, self.weight(f"{name}.weight", (cout, cin // groups, k, k))]
        if bias:
            inputs.append(self.weight(f"{name}.bias", (cout,)))
        return self.op("Conv", inputs, name, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[pad] * 4, group=groups)

    def bn(self, name: str, x: str, c: int) -> str:
        return self.op("BatchNormalization",
                       [x] + [self.weight(f"{name}.{p}", (c,))
                              for p in ("weight", "bias", "running_mean", "running_var")], name)

    def gemm(self, name: str, x: str, k: int, n: int) -> str:
        return self.op("Gemm", [x, self.weight(f"{name}.weight", (n, k)),
                                self.weight(f"{name}.bias", (n,))], name, transB=1)

    def linear(self, name: str, x: str, k: int, n: int) -> str:
        y = self.op("MatMul", [x, self.weight(f"{name}.weight", (k, n))], name)
        return self.op("Add", [y, self.weight(f"{name}.bias", (n,))], f"{name}.add")


# ---------------------------------------------------------------------- ResNet-18
def resnet18_onnx(path: Path, *, input_size: int = 224, num_classes: int = 1000,
                  batch: int | str = "N") -> Path:
    """torchvision resnet18: 7x7/2 conv, BN, ReLU, 3x3/2 max-pool, 4 stages of 2 BasicBlocks,
    global average pool, flatten, fc."""
    g = Net()
    x = g.input("image", [batch, 3, input_size, input_size])
    x = g.op("Relu", [g.bn("bn1", g.conv("conv1", x, 3, 64, 7, 2, 3), 64)])
    x = g.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for stage, (c, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, 2)), start=1):
        for block in range(2):
            s = stride if block == 0 else 1
            p = f"layer{stage}.{block}"
            y = g.op("Relu", [g.bn(f"{p}.bn1", g.conv(f"{p}.conv1", x, cin, c, 3, s, 1), c)])
            y = g.bn(f"{p}.bn2", g.conv(f"{p}.conv2", y, c, c, 3, 1, 1), c)
            short = x
            if s != 1 or cin != c:
                short = g.bn(f"{p}.downsample.1", g.conv(f"{p}.downsample.0", x, cin, c, 1, s),
                             c)
            x = g.op("Relu", [g.op("Add", [y, short])])
            cin = c
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x], "avgpool")], axis=1)
    return g.save(path, g.gemm("fc", x, 512, num_classes))


# ---------------------------------------------------------------------- MobileNetV2
def mobilenetv2_onnx(path: Path, *, input_size: int = 224, num_classes: int = 1000) -> Path:
    """torchvision mobilenet_v2 (width 1.0): Conv-BN-ReLU6 blocks, inverted residuals."""
    g = Net()
    lo, hi = g.const("relu6.min", 0.0, np.float32), g.const("relu6.max", 6.0, np.float32)

    def cbr(name: str, x: str, cin: int, cout: int, k: int, s: int, groups: int = 1,
            relu: bool = True) -> str:
        y = g.bn(f"{name}.bn", g.conv(f"{name}.conv", x, cin, cout, k, s, (k - 1) // 2, groups),
                 cout)
        return g.op("Clip", [y, lo, hi]) if relu else y

    x = cbr("features.0", g.input("image", ["N", 3, input_size, input_size]), 3, 32, 3, 2)
    cin, index = 32, 1
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            stride, p, hidden = s if i == 0 else 1, f"features.{index}", cin * t
            y = x if t == 1 else cbr(f"{p}.expand", x, cin, hidden, 1, 1)
            y = cbr(f"{p}.dw", y, hidden, hidden, 3, stride, groups=hidden)
            y = cbr(f"{p}.project", y, hidden, c, 1, 1, relu=False)
            x = g.op("Add", [y, x]) if stride == 1 and cin == c else y
            cin, index = c, index + 1
    x = cbr(f"features.{index}", x, cin, 1280, 1, 1)
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], axis=1)
    return g.save(path, g.gemm("classifier.1", x, 1280, num_classes))


# ---------------------------------------------------------------------- BERT-tiny
def bert_tiny_onnx(path: Path, *, seq_len: int = 128, vocab: int = 30522, hidden: int = 128,
                   layers: int = 2, heads: int = 2, ffn: int = 512,
                   num_classes: int = 2) -> Path:
    """BERT encoder (L=2, H=128, A=2) with pooler and classifier, as an exporter writes it:
    Gathers on the embedding tables (position ids a constant), LayerNormalization, MatMul + Add
    linears, Reshape/Transpose per head, Q·Kᵀ / sqrt(d), Softmax, ·V, GELU (opset 20)."""
    g = Net(opset=20)
    d = hidden // heads
    ids = g.input("input_ids", ["N", seq_len], TensorProto.INT64)
    types = g.input("token_type_ids", ["N", seq_len], TensorProto.INT64)
    pos = g.const("position_ids", np.arange(seq_len))
    emb = [g.op("Gather", [g.weight(f"embeddings.{n}.weight", (rows, hidden)), i],
                f"embeddings.{n}")
           for n, rows, i in (("word", vocab, ids), ("position", 512, pos),
                              ("token_type", 2, types))]

    def layer_norm(name: str, x: str) -> str:
        return g.op("LayerNormalization", [x, g.weight(f"{name}.weight", (hidden,)),
                                           g.weight(f"{name}.bias", (hidden,))], name, axis=-1)

    x = layer_norm("embeddings.norm", g.op("Sum", emb))
    split = g.const("heads_shape", [0, 0, heads, d])
    merge = g.const("hidden_shape", [0, 0, hidden])
    scale = g.const("sqrt_d", np.sqrt(d), np.float32)
    for i in range(layers):
        p = f"encoder.{i}.attention"
        q, k, v = (g.op("Reshape", [g.linear(f"{p}.{n}", x, hidden, hidden), split])
                   for n in ("query", "key", "value"))
        q = g.op("Transpose", [q], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [k], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [v], perm=[0, 2, 1, 3])
        scores = g.op("Div", [g.op("MatMul", [q, k], f"{p}.scores"), scale])
        probs = g.op("Softmax", [scores], axis=-1)
        ctx = g.op("MatMul", [probs, v], f"{p}.context")
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        y = g.linear(f"{p}.output", ctx, hidden, hidden)
        x = layer_norm(f"{p}.norm", g.op("Add", [y, x]))
        y = g.op("Gelu", [g.linear(f"encoder.{i}.intermediate", x, hidden, ffn)])
        y = g.linear(f"encoder.{i}.output", y, ffn, hidden)
        x = layer_norm(f"encoder.{i}.output.norm", g.op("Add", [y, x]))
    first = g.op("Gather", [x, g.const("token0", 0)], axis=1)
    pooled = g.op("Tanh", [g.gemm("pooler", first, hidden, hidden)])
    return g.save(path, g.gemm("classifier", pooled, hidden, num_classes))
