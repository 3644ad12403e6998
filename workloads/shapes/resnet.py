"""ResNet-18 (He et al., CVPR 2016) as in torchvision, and its CIFAR variant (3x3 stem, no pool)."""

from __future__ import annotations

from rctsim.trace.model import LayerSpec
from workloads.shapes.builder import ShapeBuilder, Tensor, check_positive

STAGES: tuple[tuple[int, int], ...] = ((64, 1), (128, 2), (256, 2), (512, 2))
"""ResNet-18 stages: (output channels, stride of the first block); two BasicBlocks each."""


def resnet18(batch_size: int, *, input_size: int = 224, num_classes: int = 1000) -> list[LayerSpec]:
    """ResNet-18, ImageNet stem (7x7/2 conv, 3x3/2 max-pool); torchvision `resnet18`."""
    check_positive("resnet18", input_size=input_size, num_classes=num_classes)
    nb = ShapeBuilder(model="resnet18", batch_size=batch_size)
    x = nb.input("image", (3, input_size, input_size))
    x = nb.conv("conv1", x, out_ch=64, kernel=7, stride=2, padding=3)
    x = nb.elementwise(nb.norm("bn1", x, features=64), "relu", keep="output")
    x = nb.pool(x, kernel=3, stride=2, padding=1)
    return _body(nb, x, num_classes)


def resnet18_cifar(batch_size: int, *, input_size: int = 32,
                   num_classes: int = 10) -> list[LayerSpec]:
    """ResNet-18 for CIFAR: 3x3/1 stem conv, no max-pool, 10 classes (as in common CIFAR code)."""
    check_positive("resnet18_cifar", input_size=input_size, num_classes=num_classes)
    nb = ShapeBuilder(model="resnet18_cifar", batch_size=batch_size)
    x = nb.input("image", (3, input_size, input_size))
    x = nb.conv("conv1", x, out_ch=64, kernel=3, stride=1, padding=1)
    x = nb.elementwise(nb.norm("bn1", x, features=64), "relu", keep="output")
    return _body(nb, x, num_classes)


def _body(nb: ShapeBuilder, x: Tensor, num_classes: int) -> list[LayerSpec]:
    for stage, (channels, stride) in enumerate(STAGES, start=1):
        x = _basic_block(nb, f"layer{stage}.0", x, channels, stride)
        x = _basic_block(nb, f"layer{stage}.1", x, channels, 1)
    x = nb.reshape(x, "avgpool", (x.shape[0],))
    nb.elementwise(nb.linear("fc", x, out_features=num_classes), "loss", keep=None)
    return nb.build()


def _basic_block(nb: ShapeBuilder, name: str, x: Tensor, channels: int, stride: int) -> Tensor:
    """conv3x3-BN-ReLU-conv3x3-BN, + identity or 1x1 conv-BN shortcut, then ReLU."""
    y = nb.conv(f"{name}.conv1", x, out_ch=channels, kernel=3, stride=stride, padding=1)
    y = nb.elementwise(nb.norm(f"{name}.bn1", y, features=channels), "relu", keep="output")
    y = nb.conv(f"{name}.conv2", y, out_ch=channels, kernel=3, padding=1)
    y = nb.norm(f"{name}.bn2", y, features=channels)
    shortcut = x
    if stride != 1 or x.shape[0] != channels:
        shortcut = nb.conv(f"{name}.downsample.0", x, out_ch=channels, kernel=1, stride=stride)
        shortcut = nb.norm(f"{name}.downsample.1", shortcut, features=channels)
    return nb.elementwise(nb.add(y, shortcut), "relu", keep="output")
