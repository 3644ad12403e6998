"""Where a trainable tensor's values live, one class per policy family.

- `FloatStore`: the tensor itself (fp32 training).
- `MasterCopyStore`: QAT's fp32 master copy plus the quantised copy the forward pass reads.
- `IntegerStore`: RCT/APT's integers alone, `value = q * 2**exponent`; no floating-point copy.

Layers only ever call `Param.value()`, which for the quantised stores builds a transient float
operand for the GEMM; updates go through `Param.store.add(delta)`.
"""

from __future__ import annotations

import math

import numpy as np

from rctsim.train.quantize import qmax, quantize, stochastic_round


def int_dtype(bits: int) -> type[np.signedinteger]:
    """Smallest numpy signed integer type that holds a `bits`-bit symmetric integer."""
    return np.int8 if bits <= 8 else np.int16 if bits <= 16 else np.int32


class FloatStore:
    """Plain floating-point storage (fp32; float64 in gradient checks)."""

    def __init__(self, data: np.ndarray):
        self.data = data

    def value(self) -> np.ndarray:
        """The tensor."""
        return self.data

    def add(self, delta: np.ndarray) -> float:
        """Apply an update in place; returns 0 (no quantisation step to compare with)."""
        self.data += delta.astype(self.data.dtype, copy=False)
        return 0.0


class MasterCopyStore:
    """QAT storage: fp32 master copy and its `bits`-bit round-to-nearest quantised copy."""

    def __init__(self, master: np.ndarray, bits: int):
        self.master = master
        self.bits = bits
        self.q, self.step = quantize(master, bits)

    def value(self) -> np.ndarray:
        """The quantised copy, as a transient float operand."""
        return self.q.astype(self.master.dtype) * self.master.dtype.type(self.step)

    def add(self, delta: np.ndarray) -> float:
        """Update the master copy, then re-quantise it; returns 0."""
        self.master += delta.astype(self.master.dtype, copy=False)
        self.q, self.step = quantize(self.master, self.bits)
        return 0.0


class IntegerStore:
    """RCT/APT storage: integers `q` at `bits` bits with a power-of-two step `2**exponent`."""

    def __init__(self, q: np.ndarray, exponent: int, bits: int, rng: np.random.Generator,
                 dtype: type[np.floating] = np.float32):
        self.q = q.astype(int_dtype(bits))
        self.exponent = exponent
        self.bits = bits
        self.rng = rng
        self.dtype = dtype

    @classmethod
    def from_float(cls, x: np.ndarray, bits: int, rng: np.random.Generator,
                   exponent: int | None = None) -> IntegerStore:
        """Quantise `x` (nearest) onto the smallest power-of-two step covering `max|x|`."""
        if exponent is None:
            exponent = power_of_two_exponent(x, bits)
        q, _ = quantize(x, bits, step=2.0**exponent)
        return cls(q, exponent, bits, rng, x.dtype.type)

    @property
    def step(self) -> float:
        """Quantisation step (value of one integer unit)."""
        return 2.0**self.exponent

    def value(self) -> np.ndarray:
        """The integers scaled by the step, as a transient float operand."""
        return self.q.astype(self.dtype) * self.dtype(self.step)

    def add(self, delta: np.ndarray) -> float:
        """Add `delta` to the integers with stochastic rounding; returns `sum |delta| / step`."""
        u = delta.astype(np.float64) / self.step
        self._store(self.q + stochastic_round(u, self.rng))
        return float(np.abs(u).sum())

    def set_bits(self, bits: int) -> None:
        """Change the bitwidth keeping the range: one bit more halves the step, one less doubles."""
        while self.bits < bits:
            self.bits += 1
            self.exponent -= 1
            self._store(self.q.astype(np.int64) * 2)
        while self.bits > bits:
            self.bits -= 1
            self.exponent += 1
            self._store(stochastic_round(self.q / 2.0, self.rng))

    def saturated_fraction(self) -> float:
        """Fraction of entries pinned at the largest magnitude."""
        return float(np.mean(np.abs(self.q.astype(np.int64)) >= qmax(self.bits)))

    def widen_range(self) -> None:
        """Double the step at the same bitwidth (the range doubles, precision halves)."""
        self.exponent += 1
        self._store(stochastic_round(self.q / 2.0, self.rng))

    def _store(self, q: np.ndarray) -> None:
        limit = qmax(self.bits)
        self.q = np.clip(q, -limit, limit).astype(int_dtype(self.bits))


def power_of_two_exponent(x: np.ndarray, bits: int) -> int:
    """Smallest `e` with `max|x| <= qmax(bits) * 2**e` (0 for an all-zero tensor)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        return 0
    return math.ceil(math.log2(peak / qmax(bits)))


class Param:
    """A trainable tensor: its storage (set by the policy) and its gradient buffer."""

    def __init__(self, name: str, data: np.ndarray):
        self.name = name
        self.shape = data.shape
        self.store: FloatStore | MasterCopyStore | IntegerStore = FloatStore(data)
        self.grad = np.zeros_like(data)

    def value(self) -> np.ndarray:
        """The tensor the layer computes with (a transient copy for quantised stores)."""
        return self.store.value()

    def cast(self, dtype: type[np.floating]) -> None:
        """Convert float storage and gradient to `dtype` (gradient checks run in float64)."""
        if not isinstance(self.store, FloatStore):
            raise TypeError(f"{self.name}: only float storage can be cast")
        self.store.data = self.store.data.astype(dtype)
        self.grad = self.grad.astype(dtype)
