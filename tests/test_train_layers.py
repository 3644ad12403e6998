"""Every trainer layer's backward pass against central finite differences (float64), and the
forward passes of conv and attention against direct, independent computations."""

from __future__ import annotations

import numpy as np
import pytest

from rctsim.train.layers import (
    LSTM,
    BatchNorm,
    Conv2d,
    Embedding,
    Flatten,
    GlobalAvgPool,
    LayerNorm,
    Linear,
    MaxPool2d,
    PositionalEmbedding,
    ReLU,
    Residual,
    SelfAttention,
    softmax_cross_entropy,
)
from rctsim.train.module import Module, Sequential

EPS = 1e-6
TOL = 1e-6


def numeric_grad(f, x: np.ndarray, count: int | None = None, seed: int = 0) -> tuple:
    """Central differences of scalar `f()` w.r.t. entries of `x` (all, or `count` random ones)."""
    flat = x.reshape(-1)
    idx = np.arange(flat.size)
    if count is not None and count < flat.size:
        idx = np.random.default_rng(seed).choice(flat.size, count, replace=False)
    grads = np.empty(len(idx))
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + EPS
        up = f()
        flat[i] = old - EPS
        down = f()
        flat[i] = old
        grads[j] = (up - down) / (2 * EPS)
    return idx, grads


def check_module(module: Module, x: np.ndarray, *, input_grad: bool = True, count: int = 60,
                 seed: int = 0) -> None:
    """Analytic input and parameter gradients of `sum(forward(x) * r)` equal finite differences."""
    for p in module.params():
        p.cast(np.float64)
    rng = np.random.default_rng(seed)
    r = rng.standard_normal(module.forward(x).shape)

    def f() -> float:
        return float((module.forward(x) * r).sum())

    f()
    for p in module.params():
        p.grad[...] = 0
    dx = module.backward(r)
    if input_grad:
        idx, num = numeric_grad(f, x, count)
        np.testing.assert_allclose(dx.reshape(-1)[idx], num, rtol=TOL, atol=TOL)
    for p in module.params():
        idx, num = numeric_grad(f, p.store.data, count)
        np.testing.assert_allclose(p.grad.reshape(-1)[idx], num, rtol=TOL, atol=TOL,
                                   err_msg=p.name)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1)


def test_linear_gradients(rng):
    """Linear over leading axes: dX, dW, db."""
    check_module(Linear("fc", 5, 4, rng), rng.standard_normal((3, 2, 5)))


@pytest.mark.parametrize("stride,padding,kernel", [((1, 1), (1, 1), (3, 3)),
                                                   ((2, 1), (0, 2), (3, 2)),
                                                   ((1, 2), (0, 2), (1, 5))])
def test_conv_gradients(rng, stride, padding, kernel):
    """im2col conv with strides, paddings and 1-D kernels."""
    conv = Conv2d("c", 3, 4, kernel, rng, stride=stride, padding=padding)
    check_module(conv, rng.standard_normal((2, 5, 7, 3)))


def test_conv_forward_equals_direct_convolution(rng):
    """The im2col GEMM equals a direct nested-loop cross-correlation."""
    conv = Conv2d("c", 2, 3, (3, 2), rng, stride=(2, 1), padding=(1, 0))
    x = rng.standard_normal((2, 5, 4, 2)).astype(np.float32)
    w, b = conv.weight.value(), conv.bias.value()
    xp = np.pad(x, ((0, 0), (1, 1), (0, 0), (0, 0)))
    ho, wo = (xp.shape[1] - 3) // 2 + 1, xp.shape[2] - 2 + 1
    ref = np.zeros((2, ho, wo, 3))
    for n in range(2):
        for i in range(ho):
            for j in range(wo):
                patch = xp[n, 2 * i:2 * i + 3, j:j + 2, :]
                ref[n, i, j] = np.einsum("hwc,hwco->o", patch, w) + b
    np.testing.assert_allclose(conv.forward(x), ref, rtol=1e-5, atol=1e-5)


def test_batchnorm_gradients_and_statistics(rng):
    """Training-mode BatchNorm: gradients, and outputs with zero mean / unit variance."""
    bn = BatchNorm("bn", 3)
    x = rng.standard_normal((4, 3, 2, 3)) * 3 + 1
    check_module(bn, x)
    bn.gamma.store.data[...] = 1
    bn.beta.store.data[...] = 0
    y = bn.forward(x)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-9)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1, atol=1e-4)


def test_layernorm_gradients(rng):
    """LayerNorm over the last axis."""
    check_module(LayerNorm("ln", 6), rng.standard_normal((2, 3, 6)))


def test_relu_flatten_pool_gradients(rng):
    """Parameter-free layers (inputs kept away from the kinks)."""
    x = rng.standard_normal((2, 4, 6, 3))
    x += np.sign(x) * 0.1
    check_module(ReLU(), x.copy())
    check_module(Flatten(), x.copy())
    check_module(MaxPool2d((2, 2)), x.copy())
    check_module(MaxPool2d((1, 2)), x.copy())
    check_module(GlobalAvgPool(), x.copy())


def test_residual_gradients(rng):
    """Residual with identity and with projection shortcut."""
    body = Sequential(Linear("a", 4, 4, rng), ReLU(), Linear("b", 4, 4, rng))
    check_module(Residual(body), rng.standard_normal((3, 4)))
    body = Sequential(Linear("c", 4, 5, rng), ReLU(), Linear("d", 5, 5, rng))
    check_module(Residual(body, Linear("s", 4, 5, rng)), rng.standard_normal((3, 4)))


def test_embedding_gradients(rng):
    """Token and position embeddings (repeated tokens accumulate)."""
    ids = np.array([[1, 3, 1, 0], [3, 3, 2, 6]])
    check_module(Embedding("e", 7, 3, rng), ids, input_grad=False)
    check_module(PositionalEmbedding("p", 6, 3, rng), rng.standard_normal((2, 4, 3)))


def test_lstm_gradients(rng):
    """Back-propagation through time of the LSTM cell."""
    check_module(LSTM("lstm", 3, 4, rng), rng.standard_normal((2, 5, 3)), count=80)


def test_attention_gradients(rng):
    """Causal multi-head self-attention including the softmax Jacobian."""
    check_module(SelfAttention("att", 6, 2, rng), rng.standard_normal((2, 4, 6)), count=80)


def test_attention_is_causal(rng):
    """Changing a later position leaves earlier outputs unchanged."""
    att = SelfAttention("att", 8, 2, rng)
    x = rng.standard_normal((1, 5, 8)).astype(np.float32)
    y = att.forward(x)
    x2 = x.copy()
    x2[0, 3] += 1.0
    y2 = att.forward(x2)
    np.testing.assert_array_equal(y[0, :3], y2[0, :3])
    assert not np.allclose(y[0, 3:], y2[0, 3:])


def test_attention_single_head_equals_formula(rng):
    """One head: proj(softmax(mask(Q Kᵀ / √d)) V) with Q, K, V from the qkv projection."""
    att = SelfAttention("att", 4, 1, rng)
    x = rng.standard_normal((1, 3, 4)).astype(np.float64)
    for p in att.params():
        p.cast(np.float64)
    wq = att.qkv.weight.value()
    q, k, v = np.split(x[0] @ wq + att.qkv.bias.value(), 3, axis=1)
    s = q @ k.T / 2.0 + np.triu(np.full((3, 3), -np.inf), 1)
    a = np.exp(s - s.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    ref = (a @ v) @ att.proj.weight.value() + att.proj.bias.value()
    np.testing.assert_allclose(att.forward(x)[0], ref, rtol=1e-12)


def test_softmax_cross_entropy_gradient_and_value(rng):
    """Loss equals -mean log softmax at the labels; gradient matches finite differences."""
    logits = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    loss, grad, correct = softmax_cross_entropy(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert loss == pytest.approx(-np.log(p[np.arange(5), labels]).mean(), rel=1e-12)
    assert correct == int((logits.argmax(1) == labels).sum())
    _, num = numeric_grad(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    np.testing.assert_allclose(grad.reshape(-1), num, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", ["mlp", "cnn", "resnet", "lstm", "transformer"])
def test_whole_model_loss_gradients(name, rng):
    """Each model end to end: d(cross-entropy)/d(every parameter tensor) at random entries."""
    from rctsim.train.models import language, vision

    if name in ("lstm", "transformer"):
        kw = {"dim": 8, "heads": 2, "blocks": 1} if name == "transformer" else {"hidden": 6}
        model = getattr(language, name)(5, 7, rng, **kw)
        x, y = rng.integers(0, 7, (2, 5)), rng.integers(0, 7, (2, 5))
    else:
        shape = {"mlp": (1, 8, 1), "cnn": (1, 16, 1), "resnet": (8, 8, 1)}[name]
        model = getattr(vision, name)(shape, 3, rng)
        x, y = rng.standard_normal((4, *shape)), rng.integers(0, 3, 4)
    for p in model.params():
        p.cast(np.float64)

    def f() -> float:
        return softmax_cross_entropy(model.forward(x), y)[0]

    _, dlogits, _ = softmax_cross_entropy(model.forward(x), y)
    for p in model.params():
        p.grad[...] = 0
    model.backward(dlogits)
    for p in model.params():
        idx, num = numeric_grad(f, p.store.data, 8)
        np.testing.assert_allclose(p.grad.reshape(-1)[idx], num, rtol=1e-5, atol=1e-7,
                                   err_msg=p.name)
