"""MobileNetV2 (Sandler et al., CVPR 2018) at width 1.0, as in torchvision `mobilenet_v2`."""

from __future__ import annotations

from rctsim.trace.model import LayerSpec
from workloads.shapes.builder import ShapeBuilder, Tensor, check_positive

INVERTED_RESIDUALS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
"""Bottleneck stages (expansion t, output channels c, repeats n, first stride s); paper Table 2."""


def mobilenetv2(batch_size: int, *, input_size: int = 224,
                num_classes: int = 1000) -> list[LayerSpec]:
    """MobileNetV2 1.0: 3x3/2 stem, 17 inverted residual blocks, 1x1 conv to 1280, classifier."""
    check_positive("mobilenetv2", input_size=input_size, num_classes=num_classes)
    nb = ShapeBuilder(model="mobilenetv2", batch_size=batch_size)
    x = nb.input("image", (3, input_size, input_size))
    x = _conv_bn(nb, "features.0", x, out_ch=32, kernel=3, stride=2, relu=True)
    index = 1
    for expand, channels, repeats, stride in INVERTED_RESIDUALS:
        for i in range(repeats):
            x = _inverted_residual(nb, f"features.{index}", x, channels, stride if i == 0 else 1,
                                   expand)
            index += 1
    x = _conv_bn(nb, f"features.{index}", x, out_ch=1280, kernel=1, stride=1, relu=True)
    x = nb.reshape(x, "avgpool", (x.shape[0],))
    nb.elementwise(nb.linear("classifier.1", x, out_features=num_classes), "loss", keep=None)
    return nb.build()


def _conv_bn(nb: ShapeBuilder, name: str, x: Tensor, *, out_ch: int, kernel: int, stride: int,
             relu: bool, groups: int = 1) -> Tensor:
    """Conv (no bias) + BatchNorm, then ReLU6 when `relu` (keeps its output; recorded as a
    `relu`: the clip at 6, a second compare per element, is not counted)."""
    y = nb.conv(f"{name}.conv", x, out_ch=out_ch, kernel=kernel, stride=stride,
                padding=(kernel - 1) // 2, groups=groups)
    y = nb.norm(f"{name}.bn", y, features=out_ch)
    return nb.elementwise(y, "relu", keep="output") if relu else y


def _inverted_residual(nb: ShapeBuilder, name: str, x: Tensor, channels: int, stride: int,
                       expand: int) -> Tensor:
    """1x1 expand (when t > 1), 3x3 depthwise, 1x1 linear projection; residual at stride 1."""
    hidden = x.shape[0] * expand
    y = x
    if expand != 1:
        y = _conv_bn(nb, f"{name}.expand", y, out_ch=hidden, kernel=1, stride=1, relu=True)
    y = _conv_bn(nb, f"{name}.dw", y, out_ch=hidden, kernel=3, stride=stride, relu=True,
                 groups=hidden)
    y = _conv_bn(nb, f"{name}.project", y, out_ch=channels, kernel=1, stride=1, relu=False)
    if stride == 1 and x.shape[0] == channels:
        return nb.add(y, x)
    return y
