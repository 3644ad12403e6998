"""Normalisation layers: `BatchNorm` (over all axes but channels) and `LayerNorm` (last axis)."""

from __future__ import annotations

import numpy as np

from rctsim.trace.model import NonGemmWork
from rctsim.train.module import TableLayer
from rctsim.train.storage import Param


def _normalised_grad(dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray,
                     axes: tuple[int, ...]) -> np.ndarray:
    """dL/dx of `xhat = (x - mean) * inv_std` with mean and variance over `axes`."""
    count = np.prod([dxhat.shape[a] for a in axes])
    sum_d = dxhat.sum(axis=axes, keepdims=True)
    sum_dx = (dxhat * xhat).sum(axis=axes, keepdims=True)
    return inv_std * (dxhat - sum_d / count - xhat * sum_dx / count)


class _AffineNorm(TableLayer):
    """Shared part: `y = gamma * xhat + beta` over the last (channel) axis; no GEMM."""

    kind = "norm"
    op = ""

    def __init__(self, name: str, channels: int, eps: float = 1e-5):
        super().__init__(name)
        self.gamma = Param(f"{name}.gamma", np.ones(channels, np.float32))
        self.beta = Param(f"{name}.beta", np.zeros(channels, np.float32))
        self.eps = eps

    def own_params(self) -> list[Param]:
        """Scale and shift."""
        return [self.gamma, self.beta]

    def _affine(self, xhat: np.ndarray) -> np.ndarray:
        self.xhat = xhat
        self.kept_elems = xhat.size
        if self.training:
            rows = xhat.size // xhat.shape[-1]
            group = rows if isinstance(self, BatchNorm) else xhat.shape[-1]
            self.work = NonGemmWork(kind=self.op, elems=xhat.size, group=group)
        return xhat * self.gamma.value() + self.beta.value()

    def nongemm(self) -> tuple[NonGemmWork, ...]:
        """The normalisation over the last training input."""
        work = getattr(self, "work", None)
        return (work,) if work is not None else ()

    def _affine_backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self.quant.grad(dy)
        lead = tuple(range(dy.ndim - 1))
        self.gamma.grad += (dy * self.xhat).sum(axis=lead)
        self.beta.grad += dy.sum(axis=lead)
        return dy * self.gamma.value()


class BatchNorm(_AffineNorm):
    """Batch normalisation: statistics over batch and space in training, running ones in eval."""

    op = "batchnorm"

    def __init__(self, name: str, channels: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__(name, channels, eps)
        self.momentum = momentum
        self.running_mean = np.zeros(channels, np.float32)
        self.running_var = np.ones(channels, np.float32)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalise per channel (last axis)."""
        x = self.quant.act(x)
        self.axes = tuple(range(x.ndim - 1))
        if self.training:
            mean, var = x.mean(axis=self.axes), x.var(axis=self.axes)
            self.running_mean += self.momentum * (mean - self.running_mean)
            self.running_var += self.momentum * (var - self.running_var)
        else:
            mean, var = self.running_mean, self.running_var
        self.inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        return self._affine((x - mean) * self.inv_std)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Through the affine part, then the batch statistics."""
        dxhat = self._affine_backward(dy)
        return _normalised_grad(dxhat, self.xhat, self.inv_std, self.axes)


class LayerNorm(_AffineNorm):
    """Layer normalisation over the last axis of each position."""

    op = "layernorm"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalise each position's feature vector."""
        x = self.quant.act(x)
        mean = x.mean(axis=-1, keepdims=True)
        self.inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + self.eps)
        return self._affine((x - mean) * self.inv_std)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Through the affine part, then the per-position statistics."""
        dxhat = self._affine_backward(dy)
        return _normalised_grad(dxhat, self.xhat, self.inv_std, (dxhat.ndim - 1,))
