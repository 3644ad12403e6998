"""Image classifiers on NHWC inputs: `mlp`, `cnn` and a small `resnet`.

For one-row inputs (MNIST-1D is `[N, 1, 40, 1]`) kernels and pools are `(1, k)`, so the same
builders give 1-D and 2-D networks.
"""

from __future__ import annotations

import numpy as np

from rctsim.train.layers import (
    BatchNorm,
    Conv2d,
    Flatten,
    GlobalAvgPool,
    Linear,
    MaxPool2d,
    ReLU,
    Residual,
)
from rctsim.train.module import Module, Sequential


def _kernel(height: int, k: int) -> tuple[int, int]:
    return (1, k) if height == 1 else (k, k)


def _pad(height: int, k: int) -> tuple[int, int]:
    return (0, k // 2) if height == 1 else (k // 2, k // 2)


def mlp(sample_shape: tuple[int, ...], classes: int, rng: np.random.Generator,
        hidden: int = 128) -> Module:
    """Flatten, two hidden ReLU layers, linear classifier."""
    n_in = int(np.prod(sample_shape))
    return Sequential(Flatten(), Linear("fc1", n_in, hidden, rng), ReLU(),
                      Linear("fc2", hidden, hidden, rng), ReLU(),
                      Linear("fc3", hidden, classes, rng, gain=1.0))


def cnn(sample_shape: tuple[int, ...], classes: int, rng: np.random.Generator,
        width: int = 32) -> Module:
    """Three conv-ReLU-maxpool stages and a linear classifier."""
    h, w, c = sample_shape
    layers: list[Module] = []
    for i, k in enumerate((5, 3, 3)):
        layers += [Conv2d(f"conv{i + 1}", c if i == 0 else width, width, _kernel(h, k), rng,
                          padding=_pad(h, k)), ReLU(), MaxPool2d(_kernel(h, 2))]
        w //= 2
        h = h if h == 1 else h // 2
    return Sequential(*layers, Flatten(), Linear("fc", h * w * width, classes, rng, gain=1.0))


def _block(name: str, c_in: int, c_out: int, stride: int, height: int,
           rng: np.random.Generator) -> Module:
    """Basic residual block: conv-BN-ReLU-conv-BN plus a (1x1 conv-BN when reshaping) shortcut."""
    s = (1, stride) if height == 1 else (stride, stride)
    k, p = _kernel(height, 3), _pad(height, 3)
    body = Sequential(
        Conv2d(f"{name}.conv1", c_in, c_out, k, rng, stride=s, padding=p, bias=False),
        BatchNorm(f"{name}.bn1", c_out), ReLU(),
        Conv2d(f"{name}.conv2", c_out, c_out, k, rng, padding=p, bias=False),
        BatchNorm(f"{name}.bn2", c_out))
    shortcut = None
    if stride != 1 or c_in != c_out:
        shortcut = Sequential(Conv2d(f"{name}.down", c_in, c_out, (1, 1), rng, stride=s,
                                     bias=False), BatchNorm(f"{name}.down_bn", c_out))
    return Sequential(Residual(body, shortcut), ReLU())


def resnet(sample_shape: tuple[int, ...], classes: int, rng: np.random.Generator,
           widths: tuple[int, ...] = (8, 16, 32)) -> Module:
    """Stem conv, one basic block per stage (stride 2 between stages), global pool, classifier."""
    h, _, c = sample_shape
    k, p = _kernel(h, 3), _pad(h, 3)
    layers: list[Module] = [Conv2d("stem", c, widths[0], k, rng, padding=p, bias=False),
                            BatchNorm("stem_bn", widths[0]), ReLU()]
    c_in = widths[0]
    for i, c_out in enumerate(widths):
        layers.append(_block(f"block{i + 1}", c_in, c_out, 1 if i == 0 else 2, h, rng))
        c_in = c_out
    return Sequential(*layers, GlobalAvgPool(), Linear("fc", c_in, classes, rng, gain=1.0))
