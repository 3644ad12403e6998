"""The `Dataset` container every data set builder returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays plus what a model builder needs to know about them."""

    name: str
    """Registry name (`mnist1d`, `strokes`, `text`)."""
    kind: Literal["image", "sequence"]
    """`image`: x float32 [N, H, W, C], y int [N]; `sequence`: x, y int [N, T] (next token)."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    """Number of classes (vocabulary size for `sequence`)."""
    notes: dict[str, str] = field(default_factory=dict)
    """Provenance written into the trace header (generator settings, corpus hash, ...)."""

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one input sample."""
        return tuple(self.x_train.shape[1:])
