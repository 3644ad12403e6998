"""SGD with momentum, its velocity stored at a chosen precision, and the learning-rate schedule."""

from __future__ import annotations

import math

import numpy as np

from rctsim.train.storage import Param

STATE_DTYPES: dict[int, type[np.floating]] = {16: np.float16, 32: np.float32}
"""Momentum storage precision (bits) -> numpy type."""


class SGDMomentum:
    """Heavy-ball SGD: `v <- mu * v + grad`, update `delta = -lr * v` (one state per parameter)."""

    name = "sgd_momentum"
    state_per_param = 1

    def __init__(self, params: list[Param], *, momentum: float, state_bits: int):
        self.momentum = momentum
        self.state_bits = state_bits
        dtype = STATE_DTYPES[state_bits]
        self.velocity = {p.name: np.zeros(p.shape, dtype) for p in params}

    def delta(self, param: Param, lr: float) -> np.ndarray:
        """Update the velocity of `param` from its gradient and return the weight update."""
        v = self.velocity[param.name]
        v[...] = self.momentum * v.astype(np.float32) + param.grad
        return -lr * v.astype(np.float32)


def cosine_lr(peak: float, iteration: int, total: int, warmup: int = 0) -> float:
    """Linear warm-up to `peak` over `warmup` iterations, then cosine decay to zero at `total`."""
    if iteration < warmup:
        return peak * (iteration + 1) / warmup
    progress = (iteration - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))
