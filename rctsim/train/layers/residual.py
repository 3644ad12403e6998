"""Residual connection: `y = body(x) + shortcut(x)` (identity shortcut when none is given)."""

from __future__ import annotations

import numpy as np

from rctsim.trace.model import LayerSpec, NonGemmWork
from rctsim.train.module import Module, attach


class Residual(Module):
    """Sum of a body branch and a shortcut branch (identity by default)."""

    def __init__(self, body: Module, shortcut: Module | None = None):
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Both branches on the same input, added."""
        skip = x if self.shortcut is None else self.shortcut.forward(x)
        y = self.body.forward(x) + skip
        if self.training:
            self.elems = y.size
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """The gradient of a sum flows unchanged into both branches; their input grads add."""
        skip = dy if self.shortcut is None else self.shortcut.backward(dy)
        return self.body.backward(dy) + skip

    def children(self) -> list[Module]:
        """Body, then shortcut."""
        return [self.body] + ([self.shortcut] if self.shortcut is not None else [])

    def describe(self, preds: tuple[str, ...], out: list[LayerSpec]) -> tuple[str, ...]:
        """The output is produced by the ends of both branches."""
        body_out = self.body.describe(preds, out)
        skip_out = preds if self.shortcut is None else self.shortcut.describe(preds, out)
        producers = tuple(dict.fromkeys(body_out + skip_out))
        attach(out, producers, (NonGemmWork(kind="add", elems=getattr(self, "elems", 0),
                                            group=2),))
        return producers
