"""Symmetric per-tensor integer quantisation, with nearest or stochastic rounding.

A `b`-bit symmetric integer holds values in `[-qmax(b), qmax(b)]`, `qmax(b) = 2**(b-1) - 1`; a real
tensor `x` is represented as `q * step`. Stochastic rounding rounds `u` up with probability
`u - floor(u)`, so `E[round(u)] = u` (unbiased), which keeps updates smaller than one step alive in
expectation.
"""

from __future__ import annotations

import numpy as np


def qmax(bits: int) -> int:
    """Largest magnitude of a `bits`-bit symmetric integer (`2**(bits-1) - 1`)."""
    return (1 << (bits - 1)) - 1


def stochastic_round(u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round each entry of `u` up with probability equal to its fractional part (unbiased)."""
    noise = rng.random(u.shape, dtype=np.float64 if u.dtype == np.float64 else np.float32)
    return np.floor(u + noise)


def max_abs_step(x: np.ndarray, bits: int) -> float:
    """Step that maps `max|x|` onto `qmax(bits)` (1.0 for an all-zero tensor)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return peak / qmax(bits) if peak > 0 else 1.0


def quantize(x: np.ndarray, bits: int, *, rng: np.random.Generator | None = None,
             step: float | None = None) -> tuple[np.ndarray, float]:
    """Integers `q` (int32) and `step` with `x ~ q * step`; stochastic rounding when `rng` given."""
    step = max_abs_step(x, bits) if step is None else step
    u = x / step
    rounded = stochastic_round(u, rng) if rng is not None else np.rint(u)
    limit = qmax(bits)
    return np.clip(rounded, -limit, limit).astype(np.int32), step


def fake_quantize(x: np.ndarray, bits: int, *, rng: np.random.Generator | None = None
                  ) -> np.ndarray:
    """`x` rounded onto its own `bits`-bit symmetric grid, returned in `x`'s float dtype."""
    q, step = quantize(x, bits, rng=rng)
    return (q * step).astype(x.dtype, copy=False)


class OperandQuant:
    """How one layer's GEMM operands are rounded: activations (nearest) and gradients (stochastic).

    `None` bits mean the operand stays in floating point. Policies set the bits; layers call
    `act` on the activations entering their GEMMs and `grad` on the gradients entering their
    backward GEMMs.
    """

    def __init__(self, a_bits: int | None = None, g_bits: int | None = None,
                 rng: np.random.Generator | None = None):
        self.a_bits = a_bits
        self.g_bits = g_bits
        self.rng = rng

    def act(self, x: np.ndarray) -> np.ndarray:
        """Activation operand at `a_bits` (round to nearest, per-tensor step)."""
        return x if self.a_bits is None else fake_quantize(x, self.a_bits)

    def grad(self, g: np.ndarray) -> np.ndarray:
        """Gradient operand at `g_bits` (stochastic rounding, per-tensor step)."""
        if self.g_bits is None:
            return g
        if self.rng is None:
            raise ValueError("gradient quantisation needs a random generator")
        return fake_quantize(g, self.g_bits, rng=self.rng)
