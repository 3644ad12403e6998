"""ONNX import: standard networks written with onnx.helper against the bundled shape models layer
for layer, every supported operator against hand counts of forward MACs and parameters, the
batch and symbolic dimensions, unsupported operators, and the command line."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from onnx import TensorProto  # noqa: E402

from rctsim.cli import main  # noqa: E402
from rctsim.errors import InputError  # noqa: E402
from rctsim.onnx_import import import_onnx  # noqa: E402
from tests.onnx_models import Net, bert_tiny_onnx, mobilenetv2_onnx, resnet18_onnx  # noqa: E402
from workloads.shapes import shape_model  # noqa: E402

FIELDS = ("name", "kind", "m", "n", "k", "params", "has_weights", "act_elems", "preds")
"""What must agree with the shape model, layer for layer (MACs follow from m, n, k)."""


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return done.value.code or 0, out, err


def _one(layers, name):
    (layer,) = [la for la in layers if la.name == name]
    return layer


# ----------------------------------------------------------------------- standard networks
@pytest.mark.parametrize(("writer", "model"), [
    (resnet18_onnx, "resnet18"), (mobilenetv2_onnx, "mobilenetv2"), (bert_tiny_onnx, "bert_tiny"),
])
def test_standard_networks_match_shape_models(tmp_path, writer, model) -> None:
    """ResNet-18, MobileNetV2 and BERT-tiny written as ONNX import to the bundled shape models'
    tables: same layers, M, N, K, params, forward MACs, kept activations and DAG."""
    batch = 3
    got = import_onnx(writer(tmp_path / f"{model}.onnx"), batch_size=batch).layers
    ref = shape_model(model, batch)
    assert [la.name for la in got] == [la.name for la in ref]
    for a, b in zip(got, ref, strict=True):
        assert {f: getattr(a, f) for f in FIELDS} == {f: getattr(b, f) for f in FIELDS}, a.name
        assert a.macs == b.macs
    assert sum(la.params for la in got) == {"resnet18": 11_689_512, "mobilenetv2": 3_504_872,
                                            "bert_tiny": 4_386_178}[model]


# ----------------------------------------------------------------------- operators, hand counts
def _import(g: Net, out: str, tmp_path, batch: int = 2, **kw):
    return import_onnx(g.save(tmp_path / "m.onnx", out), batch_size=batch, **kw).layers


def test_grouped_dilated_strided_asymmetric_conv(tmp_path) -> None:
    """Conv 8->12, groups 2, kernel 3x2, strides (2,1), dilations (2,3), pads (1,0,2,1), bias."""
    g = Net()
    x = g.input("x", ["N", 8, 15, 17])
    y = g.op("Conv", [x, g.weight("w", (12, 4, 3, 2)), g.weight("b", (12,))], "c",
             strides=[2, 1], dilations=[2, 3], pads=[1, 0, 2, 1], group=2)
    (layer,) = _import(g, y, tmp_path)
    # out H = (15+1+2 - 2*2 - 1)//2 + 1 = 7; out W = (17+0+1 - 3*1 - 1)//1 + 1 = 15
    assert layer.macs == 2 * 7 * 15 * 12 * (8 // 2) * 3 * 2
    assert layer.params == 12 * 4 * 3 * 2 + 12
    assert (layer.m, layer.n, layer.k) == (2 * 7 * 15 * 2, 6, 4 * 6)
    assert layer.act_elems == 2 * 8 * 15 * 17


def test_depthwise_conv_auto_pad_same(tmp_path) -> None:
    """Depthwise 3x3/2 over 6 channels of 9x9 with SAME_UPPER padding: output 5x5."""
    g = Net()
    y = g.op("Conv", [g.input("x", ["N", 6, 9, 9]), g.weight("w", (6, 1, 3, 3))], "dw",
             strides=[2, 2], group=6, auto_pad="SAME_UPPER")
    (layer,) = _import(g, y, tmp_path)
    assert layer.macs == 2 * 5 * 5 * 6 * 9
    assert layer.params == 54
    assert (layer.n, layer.k) == (1, 9)


def test_conv1d(tmp_path) -> None:
    """A 1-D conv (kernel 5, stride 2, no pad) over 40 steps of 3 channels: 18 outputs."""
    g = Net()
    y = g.op("Conv", [g.input("x", ["N", 3, 40]), g.weight("w", (16, 3, 5))], "c1", strides=[2])
    (layer,) = _import(g, y, tmp_path)
    assert layer.macs == 2 * 18 * 16 * 3 * 5 and layer.params == 16 * 3 * 5


def test_transposed_conv(tmp_path) -> None:
    """ConvTranspose 4->3, 3x3, stride 2 on 5x5: every input pixel times every weight."""
    g = Net()
    y = g.op("ConvTranspose", [g.input("x", ["N", 4, 5, 5]), g.weight("w", (4, 3, 3, 3)),
                               g.weight("b", (3,))], "up", strides=[2, 2])
    (layer,) = _import(g, y, tmp_path)
    assert layer.macs == 2 * 5 * 5 * 4 * 3 * 9
    assert layer.params == 4 * 3 * 9 + 3
    assert layer.kind == "conv" and layer.act_elems == 2 * 4 * 25


def test_gemm_and_linear_matmul_with_fused_bias(tmp_path) -> None:
    """Gemm (transB, bias) on (B, 20); MatMul + bias Add on (B, 5, 10) is one linear layer."""
    g = Net()
    h = g.gemm("fc1", g.input("x", ["N", 20]), 20, 10)
    h = g.op("Reshape", [h, g.const("s", [0, 5, 2])])
    h = g.op("MatMul", [h, g.weight("w2", (2, 7))], "fc2")
    h = g.op("Add", [h, g.weight("b2", (7,))])
    fc1, fc2 = _import(g, h, tmp_path, batch=3)
    assert (fc1.macs, fc1.params) == (3 * 20 * 10, 20 * 10 + 10)
    assert (fc2.m, fc2.n, fc2.k, fc2.params) == (3 * 5, 7, 2, 2 * 7 + 7)
    assert fc2.preds == ("fc1",)


def test_batched_matmul_with_broadcasting(tmp_path) -> None:
    """(B,3,5,7) · (B,1,7,4): the product of two activations, heads broadcast, folded into M."""
    g = Net()
    a = g.op("Relu", [g.gemm("pa", g.input("x", ["N", 6]), 6, 105)])
    b = g.gemm("pb", "x", 6, 28)
    a = g.op("Reshape", [a, g.const("sa", [0, 3, 5, 7])])
    b = g.op("Reshape", [b, g.const("sb", [0, 1, 7, 4])])
    y = g.op("MatMul", [a, b], "prod")
    layers = _import(g, y, tmp_path)
    prod = _one(layers, "prod")
    assert prod.kind == "attention_matmul" and not prod.has_weights
    assert prod.macs == 2 * 3 * 5 * 7 * 4
    assert (prod.m, prod.n, prod.k) == (2 * 3 * 5, 4, 7)
    assert prod.preds == ("pa", "pb")
    assert prod.act_elems == 2 * 105 + 2 * 28  # both operands kept


def test_weight_on_the_left_matmul(tmp_path) -> None:
    """W (6, 4) · x (B, 4, 9): a linear map over axis -2, 9 columns per sample."""
    g = Net()
    y = g.op("MatMul", [g.weight("w", (6, 4)), g.input("x", ["N", 4, 9])], "left")
    (layer,) = _import(g, y, tmp_path)
    assert layer.macs == 2 * 9 * 6 * 4 and layer.params == 24


@pytest.mark.parametrize(("op", "gates", "directions"), [("LSTM", 4, 2), ("GRU", 3, 1)])
def test_recurrent_layers(tmp_path, op, gates, directions) -> None:
    """A batch-first sequence transposed to (T, B, in), then an LSTM (both directions) or a GRU:
    gate GEMMs over every step, params = W + R + both bias vectors."""
    t, i, h = 6, 5, 4
    g = Net()
    x = g.op("Transpose", [g.input("x", ["N", t, i])], perm=[1, 0, 2])
    direction = "bidirectional" if directions == 2 else "forward"
    y = g.op(op, [x, g.weight("W", (directions, gates * h, i)),
                  g.weight("R", (directions, gates * h, h)),
                  g.weight("B", (directions, 2 * gates * h))], "rnn", outputs=2,
             hidden_size=h, direction=direction)[0]
    (layer,) = _import(g, y, tmp_path)
    assert layer.kind == "recurrent_gate"
    assert layer.macs == directions * 2 * t * (i + h) * gates * h
    assert layer.params == directions * (gates * h * i + gates * h * h + 2 * gates * h)
    cells = directions * 2 * (t + 1) * h if op == "LSTM" else 0
    assert layer.act_elems == (2 * t * i + directions * 2 * (t + 1) * h
                               + directions * 2 * t * gates * h + cells)


def test_embedding_and_norms(tmp_path) -> None:
    """Gather on a (50, 8) table; LayerNorm without bias (8 params); BatchNorm (2 x C)."""
    g = Net()
    e = g.op("Gather", [g.weight("table", (50, 8)), g.input("ids", ["N", 7], TensorProto.INT64)],
             "emb")
    n = g.op("LayerNormalization", [e, g.weight("ln.w", (8,))], "ln", axis=-1)
    n = g.op("Reshape", [n, g.const("s", [0, 7, 8, 1])])
    b = g.bn("bn", n, 7)
    emb, ln, bn = _import(g, b, tmp_path)
    assert (emb.kind, emb.params, emb.macs, emb.act_elems) == ("embedding", 400, 0, 2 * 7)
    assert (ln.kind, ln.params, ln.macs, ln.act_elems) == ("norm", 8, 0, 2 * 7 * 8)
    assert (bn.kind, bn.params, bn.preds) == ("norm", 14, ("ln",))
    # non-GEMM work: LayerNorm rows of 8 features (the bias-less form too), BatchNorm over 7
    # channels, each statistic over batch x pixels = 2 x 8 elements
    assert [(w.kind, w.elems, w.group) for w in ln.nongemm] == [("layernorm", 2 * 7 * 8, 8)]
    batchnorm, loss = bn.nongemm  # the graph's output gets the training loss
    assert (batchnorm.kind, batchnorm.elems, batchnorm.group) == ("batchnorm", 2 * 7 * 8, 2 * 8)
    assert (loss.kind, loss.elems) == ("loss", 2 * 7 * 8)


def test_elementwise_ops_keep_what_backward_needs(tmp_path) -> None:
    """Conv -> ReLU -> MaxPool -> Conv -> Sigmoid * Tanh (product of two activations) -> Gemm:
    no layers for the elementwise ops; ReLU's output (= max-pool's input) kept once; the product
    keeps both operands; the pools and adds keep nothing."""
    g = Net()
    x = g.input("x", ["N", 3, 8, 8])
    y = g.op("Relu", [g.conv("c1", x, 3, 4, 3, 1, 1)])
    y = g.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = g.conv("c2", y, 4, 4, 3, 1, 1)
    y = g.op("Mul", [g.op("Sigmoid", [y]), g.op("Tanh", [y])])
    y = g.op("Flatten", [g.op("AveragePool", [y], kernel_shape=[2, 2], strides=[2, 2])], axis=1)
    c1, c2, fc = _import(g, g.gemm("fc", y, 16, 5), tmp_path)
    b = 2
    assert c1.act_elems == b * 3 * 64 + b * 4 * 64   # its input + the ReLU output
    # c2 keeps the pooled map; sigmoid and tanh outputs (kept by the product) charged to c2
    assert c2.act_elems == b * 4 * 16 + 2 * b * 4 * 16
    assert fc.act_elems == b * 16 and fc.preds == ("c2",)
    assert (fc.m, fc.k) == (b, 16)


def test_residual_add_and_concat_make_the_dag(tmp_path) -> None:
    """A layer fed by Add(a, b) has both producers as preds; Concat likewise."""
    g = Net()
    x = g.input("x", ["N", 4])
    a, b = g.gemm("a", x, 4, 4), g.gemm("b", x, 4, 4)
    s = g.gemm("s", g.op("Add", [a, b]), 4, 4)
    c = g.gemm("c", g.op("Concat", [s, a], axis=1), 8, 2)
    layers = _import(g, c, tmp_path)
    assert _one(layers, "s").preds == ("a", "b")
    assert _one(layers, "c").preds == ("s", "a")
    assert _one(layers, "c").k == 8


# ----------------------------------------------------------------------- batch and dims
def test_dynamic_batch_and_symbolic_dims(tmp_path) -> None:
    """The batch dim takes --batch-size; another symbolic dim must be given, else one line."""
    g = Net()
    y = g.op("MatMul", [g.input("x", ["batch", "seq", 6]), g.weight("w", (6, 3))], "fc")
    path = g.save(tmp_path / "dyn.onnx", y)
    with pytest.raises(InputError, match=r"dim 1: symbolic 'seq'.*--dim seq=SIZE"):
        import_onnx(path, batch_size=4)
    for batch in (1, 4):
        (layer,) = import_onnx(path, batch_size=batch, dims={"seq": 7}).layers
        assert layer.m == batch * 7 and layer.macs == batch * 7 * 6 * 3


def test_fixed_batch_must_match(tmp_path) -> None:
    g = Net()
    path = g.save(tmp_path / "fixed.onnx", g.gemm("fc", g.input("x", [1, 6]), 6, 2))
    assert import_onnx(path, batch_size=1).layers[0].m == 1
    with pytest.raises(InputError, match="fixed batch dimension 1 differs from --batch-size 8"):
        import_onnx(path, batch_size=8)


def test_unsupported_operators_named_with_counts(tmp_path) -> None:
    """Erf twice and Pow once: refused in one line; --skip-unsupported passes them through."""
    g = Net()
    x = g.input("x", ["N", 6])
    y = g.op("Erf", [g.op("Erf", [g.gemm("a", x, 6, 6)])])
    y = g.op("Pow", [y, g.const("two", 2.0, np.float32)])
    path = g.save(tmp_path / "u.onnx", g.gemm("b", y, 6, 2))
    with pytest.raises(InputError) as err:
        import_onnx(path, batch_size=2)
    assert "unsupported: Erf x2, Pow x1" in str(err.value) and "\n" not in str(err.value)
    done = import_onnx(path, batch_size=2, skip_unsupported=True)
    assert done.skipped == {"Erf": 2, "Pow": 1}
    assert [la.name for la in done.layers] == ["a", "b"] and done.layers[1].preds == ("a",)


def test_bad_files(tmp_path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a model")
    with pytest.raises(InputError, match="junk.onnx: file: not a readable ONNX model"):
        import_onnx(junk, batch_size=1)
    with pytest.raises(InputError, match="not found"):
        import_onnx(tmp_path / "none.onnx", batch_size=1)
    g = Net()
    g.op("Relu", [g.input("x", ["N", 3])])
    with pytest.raises(InputError, match="has no layer"):
        import_onnx(g.save(tmp_path / "empty.onnx", "relu_1:0"), batch_size=1)


def test_without_onnx_one_line_says_how_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(InputError, match=r"pip install 'rctsim\[onnx\]'"):
        import_onnx(tmp_path / "any.onnx", batch_size=1)


# ----------------------------------------------------------------------- command line
def test_cli_import_equals_synth_run(tmp_path, capsys) -> None:
    """Acceptance: `trace import resnet18.onnx --batch-size 32 --schedule-from resnet` then
    `run --hw edge_npu` gives the result of the bundled resnet18 shape model with the same
    options (every figure; only the trace's file name and digest differ)."""
    onnx_file = resnet18_onnx(tmp_path / "resnet18.onnx")
    r, s = tmp_path / "r.trace", tmp_path / "s.trace"
    code, out, err = run_cli(["trace", "import", str(onnx_file), "--batch-size", "32",
                              "--schedule-from", "resnet", "--out", str(r)], capsys)
    assert code == 0, err
    assert "41 layers, 11,689,512 params" in out
    assert run_cli(["trace", "synth", "--model", "resnet18", "--batch-size", "32",
                    "--schedule-from", "resnet", "--out", str(s)], capsys)[0] == 0
    results = []
    for trace in (r, s):
        out_json = tmp_path / f"{trace.stem}.json"
        code, _, err = run_cli(["run", "--hw", "edge_npu", "--trace", str(trace), "--json",
                                str(out_json)], capsys)
        assert code == 0, err
        result = json.loads(out_json.read_text())
        for key in ("name", "sha256", "path", "file"):
            result["trace"].pop(key, None)
        results.append(result)
    assert results[0] == results[1]


def test_cli_unsupported_is_one_line_exit_2(tmp_path, capsys) -> None:
    g = Net()
    y = g.op("Erf", [g.gemm("a", g.input("x", ["N", 6]), 6, 6)])
    path = g.save(tmp_path / "u.onnx", g.gemm("b", y, 6, 2))
    out = tmp_path / "u.trace"
    code, _, err = run_cli(["trace", "import", str(path), "--bits", "w=8,a=8,g=8", "--out",
                            str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "Erf x1" in err and not out.exists()
    code, stdout, _ = run_cli(["trace", "import", str(path), "--bits", "w=8,a=8,g=8",
                               "--skip-unsupported", "--iterations", "10", "--out", str(out)],
                              capsys)
    assert code == 0 and "skipped unsupported operators" in stdout and "Erf x1" in stdout
    code, _, err = run_cli(["trace", "import", str(path), "--out", str(out)], capsys)
    assert code == 2 and "schedule: missing" in err


# ----------------------------------------------------------------------- PyTorch exports
FIXTURES = __import__("pathlib").Path(__file__).resolve().parent / "fixtures" / "onnx"


def test_pytorch_exported_cnn(tmp_path) -> None:
    """tests/fixtures/onnx/small_cnn.onnx (torch.onnx.export, see export_small.py) at batch 4,
    16x16 input: counts from the architecture by hand."""
    b, p = 4, 16 * 16
    layers = import_onnx(FIXTURES / "small_cnn.onnx", batch_size=b).layers
    got = [(la.kind, la.macs, la.params, la.act_elems) for la in layers]
    assert got == [
        ("conv", b * p * 8 * 3 * 9, 8 * 3 * 9 + 8, b * 3 * p),            # conv 3->8, bias
        ("norm", 0, 2 * 8, b * 8 * p),                                      # BN keeps its input
        ("conv", b * p * 8 * 9, 8 * 9, b * 8 * p),                          # depthwise, ReLU out
        ("norm", 0, 2 * 8, b * 8 * p + b * 8 * p),                          # + ReLU6 out (pool in)
        ("conv", b * 64 * 16 * 8, 16 * 8 + 16, b * 8 * 64 + b * 16 * 64),   # + last ReLU out
        ("linear", b * 16 * 10, 16 * 10 + 10, b * 16),
    ]
    assert all(la.preds == (layers[i].name,) for i, la in enumerate(layers[1:]))


def test_pytorch_exported_lstm(tmp_path) -> None:
    """small_lstm.onnx: symbolic batch and sequence; embedding 100x16, LSTM 16->32 (PyTorch's two
    bias vectors), linear on the last step."""
    b, t, e, h = 4, 12, 16, 32
    path = FIXTURES / "small_lstm.onnx"
    with pytest.raises(InputError, match="'seq'"):
        import_onnx(path, batch_size=b)
    emb, lstm, fc = import_onnx(path, batch_size=b, dims={"seq": t}).layers
    assert (emb.kind, emb.params, emb.act_elems) == ("embedding", 100 * 16, b * t)
    assert lstm.kind == "recurrent_gate" and lstm.macs == b * t * (e + h) * 4 * h
    assert lstm.params == 4 * h * e + 4 * h * h + 8 * h
    assert lstm.act_elems == b * t * e + 2 * b * (t + 1) * h + b * t * 4 * h
    assert (fc.macs, fc.params, fc.act_elems, fc.preds) == (b * h * 5, h * 5 + 5, b * h,
                                                           (lstm.name,))


def test_layer_names_and_weights_that_are_not_initializers(tmp_path) -> None:
    """Unnamed nodes get `<op><index>`, repeated names a suffix; a conv whose weight is computed
    (here by an Identity of an initializer) is refused in one line."""
    g = Net()
    x = g.input("x", ["N", 4])
    g.nodes.append(onnx.helper.make_node("Gemm", [x, g.weight("w1", (3, 4))], ["y1"], transB=1))
    g.nodes.append(onnx.helper.make_node("Gemm", ["y1", g.weight("w2", (2, 3))], ["y2"],
                                         name="fc", transB=1))
    g.nodes.append(onnx.helper.make_node("Gemm", ["y2", g.weight("w3", (2, 2))], ["y3"],
                                         name="fc", transB=1))
    assert [la.name for la in _import(g, "y3", tmp_path)] == ["gemm0", "fc", "fc_1"]
    g = Net()
    w = g.op("Identity", [g.weight("w", (3, 2, 3, 3))], "wid")
    y = g.op("Conv", [g.input("x", ["N", 2, 5, 5]), w], "c")
    with pytest.raises(InputError, match="weight 'wid:0' is computed, not an initializer"):
        _import(g, y, tmp_path)


def test_cli_dim_option_checked(tmp_path, capsys) -> None:
    g = Net()
    path = g.save(tmp_path / "m.onnx", g.gemm("fc", g.input("x", ["N", 6]), 6, 2))
    code, _, err = run_cli(["trace", "import", str(path), "--fp32", "--dim", "seq", "--out",
                            str(tmp_path / "m.trace")], capsys)
    assert code == 2 and "--dim: 'seq'" in err and "NAME=SIZE" in err


def test_maxpool_ceil_mode_and_global(tmp_path) -> None:
    """MaxPool 3x3/2 with ceil_mode on 8x8 gives 4x4 (floor would give 3x3); the next conv's M
    follows; GlobalMaxPool keeps its input once."""
    g = Net()
    y = g.op("MaxPool", [g.conv("c1", g.input("x", ["N", 2, 8, 8]), 2, 3, 1)],
             kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    y = g.conv("c2", y, 3, 5, 1)
    y = g.op("Flatten", [g.op("GlobalMaxPool", [y])], axis=1)
    c1, c2, fc = _import(g, g.gemm("fc", y, 5, 2), tmp_path)
    assert c2.m == 2 * 4 * 4 and c2.act_elems == 2 * 3 * 16 + 2 * 5 * 16
    assert c1.act_elems == 2 * 2 * 64 + 2 * 3 * 64 and fc.act_elems == 2 * 5  # + pool input
    # max-pool work: 3x3 windows over c1's 8x8 output into 4x4; the global one over all 16
    assert [(w.kind, w.elems, w.out_elems, w.group) for w in c1.nongemm] == [
        ("maxpool", 2 * 3 * 64, 2 * 3 * 16, 9)]
    assert [(w.kind, w.elems, w.out_elems, w.group) for w in c2.nongemm] == [
        ("maxpool", 2 * 5 * 16, 2 * 5, 16)]
