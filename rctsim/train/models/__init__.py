"""Model registry: builders and the default recipe (data set, epochs, batch, learning rate)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rctsim.errors import InputError
from rctsim.train.datasets import DATASETS, Dataset
from rctsim.train.models.language import lstm, transformer
from rctsim.train.models.vision import cnn, mlp, resnet
from rctsim.train.module import Module


@dataclass(frozen=True)
class Recipe:
    """How a model trains by default."""

    builder: Callable[..., Module]
    """`builder(sample_shape | seq_len, classes | vocab, rng) -> Module`."""
    data_kind: str
    """Kind of data set it accepts (`image` or `sequence`)."""
    dataset: str
    """Default data set."""
    epochs: int
    """Default epochs."""
    batch_size: int
    """Default mini-batch size."""
    lr: float
    """Default peak learning rate."""
    warmup: int = 0
    """Default learning-rate warm-up iterations."""


MODELS: dict[str, Recipe] = {
    "mlp": Recipe(mlp, "image", "mnist1d", 30, 100, 0.05),
    "cnn": Recipe(cnn, "image", "mnist1d", 30, 100, 0.05),
    "resnet": Recipe(resnet, "image", "strokes", 4, 32, 0.05),
    "lstm": Recipe(lstm, "sequence", "text", 10, 32, 0.5),
    "transformer": Recipe(transformer, "sequence", "text", 8, 32, 0.3, warmup=50),
}
"""Model name -> recipe."""


def build_model(name: str, data: Dataset, rng: np.random.Generator) -> Module:
    """Instantiate model `name` for `data`; InputError if unknown or the data kind does not fit."""
    if name not in MODELS:
        raise InputError("--model", "model", f"unknown model {name!r}", ", ".join(MODELS))
    recipe = MODELS[name]
    if data.kind != recipe.data_kind:
        fits = [n for n, entry in DATASETS.items() if entry.kind == recipe.data_kind]
        raise InputError("--dataset", "dataset", f"{data.name!r} ({data.kind} data) does not fit "
                         f"model {name!r}", ", ".join(fits))
    if data.kind == "image":
        return recipe.builder(data.sample_shape, data.n_classes, rng)
    return recipe.builder(data.sample_shape[0], data.n_classes, rng)


__all__ = ["MODELS", "Recipe", "build_model"]
