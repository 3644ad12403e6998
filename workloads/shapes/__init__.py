"""Shape-only standard models: layer tables (`LayerSpec`s) of well-known networks, no weights.

`SHAPE_MODELS` maps a model name to a function `f(batch_size, **options) -> list[LayerSpec]`;
`shape_model` looks one up and checks the options. Conventions: docs/workloads.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from rctsim.errors import InputError
from rctsim.trace.model import LayerSpec
from workloads.shapes.mlp import mlp
from workloads.shapes.mobilenet import mobilenetv2
from workloads.shapes.recurrent import lstm_lm
from workloads.shapes.resnet import resnet18, resnet18_cifar
from workloads.shapes.transformer import bert_tiny

ShapeFn = Callable[..., list[LayerSpec]]

SHAPE_MODELS: dict[str, ShapeFn] = {
    "resnet18": resnet18,
    "resnet18_cifar": resnet18_cifar,
    "mobilenetv2": mobilenetv2,
    "bert_tiny": bert_tiny,
    "lstm_lm": lstm_lm,
    "mlp": mlp,
}
"""Registered shape models by name (a constant: do not modify at run time)."""


def model_options(name: str) -> dict[str, object]:
    """The options `name` takes beyond `batch_size`, with their defaults."""
    fn = _lookup(name)
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def shape_model(name: str, batch_size: int, **opts: object) -> list[LayerSpec]:
    """The layer table of model `name` for `batch_size`; InputError for unknown names or options."""
    allowed = model_options(name)
    unknown = sorted(set(opts) - set(allowed))
    if unknown:
        raise InputError(name, unknown[0], "not an option of this model",
                         ", ".join(allowed) or "none")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(name, "batch_size", f"{batch_size!r}", "an integer >= 1")
    return SHAPE_MODELS[name](batch_size, **opts)


def _lookup(name: str) -> ShapeFn:
    if name not in SHAPE_MODELS:
        raise InputError("shape models", "model", f"unknown model {name!r}",
                         ", ".join(SHAPE_MODELS))
    return SHAPE_MODELS[name]


__all__ = ["SHAPE_MODELS", "model_options", "shape_model"]
