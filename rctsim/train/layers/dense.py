"""Fully connected and lookup layers: `Linear`, `Embedding`, `PositionalEmbedding`."""

from __future__ import annotations

import numpy as np

from rctsim.trace.model import NonGemmWork
from rctsim.train.module import TableLayer
from rctsim.train.storage import Param


class Linear(TableLayer):
    """`y = x · W + b` over the last axis; M = all leading axes, K = in, N = out."""

    kind = "linear"

    def __init__(self, name: str, n_in: int, n_out: int, rng: np.random.Generator, *,
                 bias: bool = True, gain: float = 2.0):
        super().__init__(name)
        std = np.sqrt(gain / n_in)
        self.weight = Param(f"{name}.weight", (rng.standard_normal((n_in, n_out)) * std)
                            .astype(np.float32))
        self.bias = Param(f"{name}.bias", np.zeros(n_out, np.float32)) if bias else None

    def own_params(self) -> list[Param]:
        """Weight (and bias)."""
        return [self.weight] + ([self.bias] if self.bias is not None else [])

    def forward(self, x: np.ndarray) -> np.ndarray:
        """`x[..., K] -> y[..., N]`."""
        self.lead = x.shape[:-1]
        self.x2 = self.quant.act(x.reshape(-1, x.shape[-1]))
        w = self.weight.value()
        y = self.x2 @ w
        if self.bias is not None:
            y = y + self.bias.value()
        self.gemm_mnk = (self.x2.shape[0], w.shape[1], w.shape[0])
        self.kept_elems = self.x2.size
        return y.reshape(*self.lead, w.shape[1])

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dgrad `dY · Wᵀ` and wgrad `Xᵀ · dY`."""
        w = self.weight.value()
        dy2 = self.quant.grad(dy.reshape(-1, w.shape[1]))
        self.weight.grad += self.x2.T @ dy2
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=0)
        return (dy2 @ w.T).reshape(*self.lead, w.shape[0])


class Embedding(TableLayer):
    """Token lookup `y = W[ids]`; no GEMM (M = N = K = 0)."""

    kind = "embedding"

    def __init__(self, name: str, vocab: int, dim: int, rng: np.random.Generator,
                 std: float = 0.5):
        super().__init__(name)
        self.weight = Param(f"{name}.weight", (rng.standard_normal((vocab, dim)) * std)
                            .astype(np.float32))

    def own_params(self) -> list[Param]:
        """The table."""
        return [self.weight]

    def forward(self, ids: np.ndarray) -> np.ndarray:
        """`ids[...] -> y[..., dim]`."""
        self.ids = ids
        self.kept_elems = ids.size
        return self.weight.value()[ids]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Scatter-add into the rows used; token ids have no gradient (returns None)."""
        dy = self.quant.grad(dy)
        np.add.at(self.weight.grad, self.ids.ravel(), dy.reshape(-1, dy.shape[-1]))
        return None  # type: ignore[return-value]


class PositionalEmbedding(TableLayer):
    """Learned position vectors added to `x[B, T, dim]`; no GEMM."""

    kind = "embedding"

    def __init__(self, name: str, max_len: int, dim: int, rng: np.random.Generator,
                 std: float = 0.1):
        super().__init__(name)
        self.weight = Param(f"{name}.weight", (rng.standard_normal((max_len, dim)) * std)
                            .astype(np.float32))

    def own_params(self) -> list[Param]:
        """The position table."""
        return [self.weight]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """`x + P[:T]`."""
        self.steps = x.shape[1]
        if self.training:
            self.elems = x.size
        return x + self.weight.value()[: self.steps]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Sum over the batch into the rows used; pass `dy` through."""
        self.weight.grad[: self.steps] += self.quant.grad(dy).sum(axis=0)
        return dy

    def nongemm(self) -> tuple[NonGemmWork, ...]:
        """The add of the position vectors."""
        return (NonGemmWork(kind="add", elems=getattr(self, "elems", 0), group=2),)
