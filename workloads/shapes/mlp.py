"""A multilayer perceptron (default 784-512-256-10, an MNIST-sized classifier)."""

from __future__ import annotations

from rctsim.trace.model import LayerSpec
from workloads.shapes.builder import ShapeBuilder, check_positive


def mlp(batch_size: int, *, input_size: int = 784, hidden: tuple[int, ...] = (512, 256),
        num_classes: int = 10) -> list[LayerSpec]:
    """Fully connected layers with bias and ReLU between them (ReLU keeps its output)."""
    check_positive("mlp", input_size=input_size, num_classes=num_classes)
    check_positive("mlp", **{f"hidden[{i}]": width for i, width in enumerate(hidden)})
    nb = ShapeBuilder(model="mlp", batch_size=batch_size)
    x = nb.input("features", (input_size,))
    for i, width in enumerate(hidden):
        x = nb.linear(f"fc{i + 1}", x, out_features=width)
        x = nb.elementwise(x, "relu", keep="output")
    logits = nb.linear(f"fc{len(hidden) + 1}", x, out_features=num_classes)
    nb.elementwise(logits, "loss", keep=None)
    return nb.build()
