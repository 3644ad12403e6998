"""Shape-only standard models: published parameter/MAC counts, closed forms, DAG, conventions."""

from __future__ import annotations

import networkx as nx
import pytest

from rctsim.errors import InputError
from workloads.shapes import SHAPE_MODELS, model_options, shape_model


def _params(layers) -> int:
    return sum(layer.params for layer in layers)


def _macs(layers) -> int:
    return sum(layer.macs for layer in layers)


def _by_name(layers) -> dict:
    return {layer.name: layer for layer in layers}


# ----------------------------------------------------------------------- published numbers
@pytest.mark.parametrize(("model", "params"), [
    ("resnet18", 11_689_512),      # torchvision ResNet18_Weights.IMAGENET1K_V1: num_params
    ("mobilenetv2", 3_504_872),    # torchvision MobileNet_V2_Weights.IMAGENET1K_V1: num_params
    ("resnet18_cifar", 11_173_962),  # CIFAR ResNet18 (kuangliu/pytorch-cifar): 11.17 M
])
def test_params_match_published_exactly(model: str, params: int) -> None:
    """Parameter counts (BatchNorm scale and shift included) equal the published exact counts."""
    assert _params(shape_model(model, 1)) == params


@pytest.mark.parametrize(("model", "gmacs"), [
    ("resnet18", 1.81),        # torchvision: 1.81 GFLOPS (multiply-accumulates) at 224x224
    ("mobilenetv2", 0.30),     # torchvision 0.30 GFLOPS; Sandler et al. 2018 Table 4: 300 M
    ("resnet18_cifar", 0.56),  # CIFAR ResNet-18: 0.56 G MACs at 32x32
])
def test_macs_per_image_round_to_published(model: str, gmacs: float) -> None:
    """Forward GEMM MACs of one image round to the published figure (2 decimals in G)."""
    assert round(_macs(shape_model(model, 1)) / 1e9, 2) == gmacs


def test_bert_tiny_encoder_params() -> None:
    """BERT-tiny (Turc et al. 2019: 4.4 M) = closed form of BertModel, plus the classifier."""
    v, t, h, f, n_layers, c = 30522, 512, 128, 512, 2, 2
    embeddings = v * h + t * h + 2 * h + 2 * h
    block = 4 * (h * h + h) + 2 * h + (h * f + f) + (f * h + h) + 2 * h
    pooler = h * h + h
    backbone = embeddings + n_layers * block + pooler
    layers = shape_model("bert_tiny", 1)
    assert round(backbone / 1e6, 1) == 4.4
    assert _params(layers) == backbone + h * c + c
    assert _params(layers[:-1]) == backbone


# ----------------------------------------------------------------------- closed forms
def test_mlp_closed_form() -> None:
    """784-512-256-10 MLP: params sum(in*out + out); MACs batch * sum(in*out)."""
    b, dims = 5, [784, 512, 256, 10]
    pairs = list(zip(dims[:-1], dims[1:], strict=True))
    layers = shape_model("mlp", b)
    assert _params(layers) == sum(i * o + o for i, o in pairs) == 535_818
    assert _macs(layers) == b * sum(i * o for i, o in pairs)
    assert [(x.m, x.k, x.n) for x in layers] == [(b, i, o) for i, o in pairs]
    # kept: fc1's input and each ReLU output (the next layer's input)
    assert [x.act_elems for x in layers] == [b * 784, b * 512, b * 256]


def test_mlp_options() -> None:
    """Input size, hidden widths and classes follow the options."""
    layers = shape_model("mlp", 2, input_size=100, hidden=(7,), num_classes=3)
    assert [(x.m, x.k, x.n) for x in layers] == [(2, 100, 7), (2, 7, 3)]


def test_lstm_lm_closed_form() -> None:
    """Zaremba medium: embedding V*H, per layer 4H*(2H) + 4H, decoder H*V + V; MACs per token."""
    b, t, v, h, n_layers = 3, 35, 10_000, 650, 2
    layers = shape_model("lstm_lm", b)
    assert _params(layers) == v * h + n_layers * (4 * h * 2 * h + 4 * h) + h * v + v
    assert _params(layers) == 19_775_200
    assert _macs(layers) == b * t * (n_layers * 2 * h * 4 * h + h * v)
    gate = _by_name(layers)["lstm.0"]
    assert (gate.kind, gate.m, gate.k, gate.n) == ("recurrent_gate", b * t, 2 * h, 4 * h)
    # input x, hidden history h_0..h_T, 4 gate activations, cell history c_0..c_T
    assert gate.act_elems == b * t * h + 2 * b * (t + 1) * h + b * t * 4 * h
    assert _by_name(layers)["lstm.1"].act_elems == gate.act_elems - b * t * h


def test_attention_matmuls_exact_macs() -> None:
    """Q·Kᵀ and softmax·V: batch*heads*T*T*d_head MACs each, no weights."""
    b, t, h, heads = 2, 64, 128, 2
    layers = _by_name(shape_model("bert_tiny", b, seq_len=t))
    for part in ("scores", "context"):
        layer = layers[f"encoder.0.attention.{part}"]
        assert layer.kind == "attention_matmul" and not layer.has_weights
        assert layer.macs == b * heads * t * t * (h // heads)
    assert layers["encoder.0.attention.scores"].preds == ("encoder.0.attention.query",
                                                          "encoder.0.attention.key")
    # softmax output (kept, = context's input) + V
    assert layers["encoder.0.attention.context"].act_elems == b * heads * t * t + b * t * h


def test_bert_total_macs() -> None:
    """Encoder MACs: per layer 4TH² (projections) + 2T²H (attention) + 2THF (FFN), + pooler."""
    b, t, h, f = 2, 128, 128, 512
    per_layer = 4 * t * h * h + 2 * t * t * h + 2 * t * h * f
    expected = b * (2 * per_layer + h * h + h * 2)
    assert _macs(shape_model("bert_tiny", b)) == expected


def test_depthwise_conv_groups_folded_into_m() -> None:
    """A depthwise 3x3 conv over C channels: M = B*P*C, K = 9, N = 1; MACs = B*P*C*9 exactly."""
    b = 2
    layer = _by_name(shape_model("mobilenetv2", b))["features.2.dw.conv"]  # 96 ch, 112 -> 56
    assert (layer.m, layer.k, layer.n) == (b * 56 * 56 * 96, 9, 1)
    assert layer.macs == b * 56 * 56 * 96 * 9
    assert layer.params == 96 * 9
    assert layer.act_elems == b * 96 * 112 * 112  # its input feature map, not im2col


def test_resnet_gemm_view_and_kept_activations() -> None:
    """Conv im2col view; stem keeps the image, BN input + ReLU output; shared input once."""
    b = 3
    layers = _by_name(shape_model("resnet18", b))
    conv = layers["layer2.0.conv1"]
    assert (conv.m, conv.k, conv.n) == (b * 28 * 28, 64 * 9, 128)
    assert layers["conv1"].act_elems == b * 3 * 224 * 224
    assert layers["bn1"].act_elems == 2 * b * 64 * 112 * 112
    assert layers["layer2.0.downsample.0"].act_elems == 0  # input already kept by conv1
    assert layers["layer2.0.conv1"].act_elems == b * 64 * 56 * 56
    assert layers["fc"].act_elems == b * 512


@pytest.mark.parametrize("model", sorted(SHAPE_MODELS))
def test_batch_scaling(model: str) -> None:
    """M (so MACs) scales with the batch; parameters do not."""
    one, four = shape_model(model, 1), shape_model(model, 4)
    assert [x.params for x in one] == [x.params for x in four]
    assert [4 * x.macs for x in one] == [x.macs for x in four]
    assert all(x.act_elems > 0 for x in one if x.kind in ("norm", "embedding"))


# ----------------------------------------------------------------------- the DAG
def _graph(layers) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(x.name for x in layers)
    g.add_edges_from((p, x.name) for x in layers for p in x.preds)
    return g


@pytest.mark.parametrize("model", sorted(SHAPE_MODELS))
def test_dag_acyclic_topological_unique(model: str) -> None:
    """Names unique, preds earlier in the table, acyclic, one source component reaching the end."""
    layers = shape_model(model, 2)
    names = [x.name for x in layers]
    assert len(set(names)) == len(names)
    position = {name: i for i, name in enumerate(names)}
    assert all(position[p] < position[x.name] for x in layers for p in x.preds)
    g = _graph(layers)
    assert nx.is_directed_acyclic_graph(g)
    assert nx.is_weakly_connected(g)
    assert [n for n in g if g.out_degree(n) == 0] == [names[-1]]


def test_resnet_residual_consumers_have_two_preds() -> None:
    """Exactly the layers fed by a residual add have 2 predecessors; all others at most 1."""
    layers = shape_model("resnet18", 1)
    expected = {"layer1.1.conv1", "fc"}
    for stage in (2, 3, 4):
        expected |= {f"layer{stage}.0.conv1", f"layer{stage}.0.downsample.0",
                     f"layer{stage}.1.conv1"}
    two = {x.name for x in layers if len(x.preds) == 2}
    assert two == expected
    assert all(len(x.preds) <= 2 for x in layers)
    assert _by_name(layers)["layer2.1.conv1"].preds == ("layer2.0.bn2", "layer2.0.downsample.1")


def test_mobilenet_residual_count() -> None:
    """One 2-pred layer per residual block: sum over stages of (n - 1) = 10 (paper Table 2)."""
    layers = shape_model("mobilenetv2", 1)
    assert sum(len(x.preds) == 2 for x in layers) == 10
    assert _by_name(layers)["features.4.expand.conv"].preds == ("features.3.project.bn",
                                                                "features.2.project.bn")


def test_bert_residual_norms() -> None:
    """Each post-attention and post-FFN LayerNorm has 2 preds (the residual add)."""
    layers = shape_model("bert_tiny", 1)
    norms = [x for x in layers if x.kind == "norm" and x.name.startswith("encoder")]
    assert len(norms) == 4 and all(len(x.preds) == 2 for x in norms)


# ----------------------------------------------------------------------- registry
def test_unknown_model_lists_allowed() -> None:
    """An unknown name raises InputError naming the registered models."""
    with pytest.raises(InputError) as err:
        shape_model("vgg16", 1)
    assert all(name in str(err.value) for name in SHAPE_MODELS)


@pytest.mark.parametrize(("model", "opts", "field"), [
    ("mlp", {"seq_len": 3}, "seq_len"),
    ("resnet18", {"num_classes": 0}, "num_classes"),
    ("bert_tiny", {"seq_len": 513}, "seq_len"),
    ("bert_tiny", {"heads": 3}, "heads"),
    ("lstm_lm", {"hidden": -1}, "hidden"),
])
def test_bad_options(model: str, opts: dict, field: str) -> None:
    """Unknown or out-of-range options raise InputError naming the field."""
    with pytest.raises(InputError) as err:
        shape_model(model, 1, **opts)
    assert err.value.field == field


@pytest.mark.parametrize("batch", [0, -2, 1.5, True])
def test_bad_batch_size(batch: object) -> None:
    """A batch size that is not an integer >= 1 is an InputError."""
    with pytest.raises(InputError):
        shape_model("mlp", batch)  # type: ignore[arg-type]


def test_options_listed_with_defaults() -> None:
    """`model_options` gives each model's keyword options and defaults."""
    assert model_options("resnet18") == {"input_size": 224, "num_classes": 1000}
    assert model_options("lstm_lm")["seq_len"] == 35


def test_input_size_changes_spatial_dims() -> None:
    """ResNet-18 at 32x32 with the ImageNet stem ends at 1x1; CIFAR stem keeps 4x4 at layer4."""
    imagenet = _by_name(shape_model("resnet18", 1, input_size=32))
    cifar = _by_name(shape_model("resnet18_cifar", 1))
    assert imagenet["layer4.1.conv2"].m == 1
    assert cifar["layer4.1.conv2"].m == 16
    assert cifar["fc"].n == 10
