"""The policies' bitwidth controllers, apart from any training code.

A controller knows which layers hold weights and decides the bits `w, a, g, acc` of every layer
from the gradient statistics it is given; it never touches a tensor. The bundled trainer's
policies (`rct.py`, `qat.py`, `fp32.py`) drive one each; `rctsim.policies` hands the same classes to
any training loop (docs/capture.md).

RCT/APT's statistic is Gavg: the mean magnitude of a layer's weight updates measured in its
quantisation steps, `mean(|ΔW|) / step`, over the decision interval and all the layer's
parameters (docs/policies.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rctsim.train.policies.rct_params import AptParams, RctParams

ACC_BITS = 32
"""Accumulator width recorded for every policy (docs/concepts.md §2 default)."""

GradStat = float | tuple[float, float]
"""A layer's statistic for one iteration: its Gavg, or `(sum of |ΔW|/step, element count)`."""


class Controller:
    """fp32 everything; subclasses decide other bits. `weighted[i]`: layer i holds weights."""

    name = "fp32"

    def __init__(self, weighted: Sequence[bool], names: Sequence[str] | None = None):
        self.weighted = [bool(w) for w in weighted]
        self.names = [str(i) for i in range(len(self.weighted))] if names is None else list(names)
        if len(self.names) != len(self.weighted):
            raise ValueError("names and weighted differ in length")
        self._index = {name: i for i, name in enumerate(self.names)}
        self.decisions: list[tuple[int, float]] = []
        """`(layer index, Gavg)` of the decisions taken by the last `step`/`end_iteration`."""

    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return len(self.weighted)

    def bits(self) -> np.ndarray:
        """uint8 [layers, 4]: bits in force now, columns `w, a, g, acc`."""
        return np.full((self.n_layers, 4), 32, dtype=np.uint8)

    def step(self, iteration: int, grad_stats: Mapping[str | int, GradStat] | None = None
             ) -> np.ndarray:
        """Account one finished iteration's statistics; return the bits for the next one.

        `grad_stats` maps a layer (name or index) to its Gavg for this iteration, or to
        `(sum of |ΔW|/step, element count)`; layers left out contribute nothing.
        """
        for key, stat in (grad_stats or {}).items():
            steps, count = (float(stat), 1.0) if np.isscalar(stat) else map(float, stat)
            self.accumulate(self.layer_index(key), steps, count)
        self.decisions = self.end_iteration(iteration)
        return self.bits()

    def accumulate(self, layer: int, steps: float, elems: float) -> None:
        """Add `steps` (sum of |ΔW|/step) over `elems` parameters of `layer` (ignored here)."""

    def end_iteration(self, iteration: int) -> list[tuple[int, float]]:
        """Decide after `iteration`: `(layer index, Gavg)` per decided layer."""
        return []

    def layer_index(self, key: str | int) -> int:
        """The index of a layer given by name or index."""
        if isinstance(key, int | np.integer) and not isinstance(key, bool):
            if not 0 <= key < self.n_layers:
                raise KeyError(f"layer index {key} outside 0..{self.n_layers - 1}")
            return int(key)
        if key not in self._index:
            raise KeyError(f"unknown layer {key!r}")
        return self._index[key]

    def record(self) -> dict[str, int | float | str | bool]:
        """Policy parameters as used (for the trace header)."""
        return {}


class Fp32Controller(Controller):
    """`fp32`: 32 bits everywhere, always."""


class QatController(Controller):
    """`qat`: forward at `w_q`/`a_q` bits, gradients and accumulators fp32, always."""

    name = "qat"

    def __init__(self, weighted: Sequence[bool], names: Sequence[str] | None = None, *,
                 w_q: int = 8, a_q: int = 8):
        super().__init__(weighted, names)
        self.w_q, self.a_q = w_q, a_q

    def bits(self) -> np.ndarray:
        """`w_q, a_q, 32, 32` for every layer."""
        row = np.array([self.w_q, self.a_q, 32, ACC_BITS], dtype=np.uint8)
        return np.tile(row, (self.n_layers, 1))

    def record(self) -> dict[str, int | float | str | bool]:
        """`w_q`, `a_q`."""
        return {"w_q": self.w_q, "a_q": self.a_q}


class RctController(Controller):
    """`rct`: every `interval` iterations each weighted layer's Gavg moves its weight bits one
    step: below `t_low` up, above `t_high` down, within `[b_min, b_max]`."""

    name = "rct"

    def __init__(self, weighted: Sequence[bool], names: Sequence[str] | None = None, *,
                 params: RctParams):
        super().__init__(weighted, names)
        self.p = params
        self.w_bits = [params.b_init if w else 0 for w in self.weighted]
        self._steps_sum = np.zeros(self.n_layers)
        self._elems = np.zeros(self.n_layers)
        self._since = 0

    def accumulate(self, layer: int, steps: float, elems: float) -> None:
        """Add `steps` (sum of |ΔW|/step) over `elems` parameters of `layer`."""
        self._steps_sum[layer] += steps
        self._elems[layer] += elems

    def end_iteration(self, iteration: int) -> list[tuple[int, float]]:
        """Every `interval` iterations: compare each weighted layer's Gavg with the thresholds
        (a layer without statistics keeps its bits)."""
        self._since += 1
        if self._since < self.p.interval:
            return []
        decisions = []
        for i in range(self.n_layers):
            if not self.w_bits[i] or not self._elems[i]:
                continue
            gavg = float(self._steps_sum[i] / self._elems[i])
            self.w_bits[i] = self.decide(self.w_bits[i], gavg)
            decisions.append((i, gavg))
        self._steps_sum[:] = 0
        self._elems[:] = 0
        self._since = 0
        return decisions

    def decide(self, bits: int, gavg: float) -> int:
        """The next weight bits of a layer at `bits` whose Gavg is `gavg`."""
        if gavg < self.p.t_low:
            bits += 1
        elif gavg > self.p.t_high:
            bits -= 1
        return min(self.p.b_max, max(self.p.b_min, bits))

    def operand_bits(self, layer: int) -> tuple[int, int]:
        """`(a, g)` bits of a layer: its weight bits under `operand_bits=adaptive`, else fixed."""
        if self.p.operand_bits == "adaptive" and self.w_bits[layer]:
            return self.w_bits[layer], self.w_bits[layer]
        return self.p.a_bits, self.p.g_bits

    def bits(self) -> np.ndarray:
        """Weight bits per layer (activation bits for weight-less layers), a, g, 32."""
        rows = []
        for i, w in enumerate(self.w_bits):
            a, g = self.operand_bits(i)
            rows.append([w or a, a, g, ACC_BITS])
        return np.array(rows, dtype=np.uint8).reshape(self.n_layers, 4)

    def record(self) -> dict[str, int | float | str | bool]:
        """All parameters as used."""
        return self.p.model_dump()


class AptController(RctController):
    """`apt`: RCT's mechanism with APT's one trade-off knob, `t_low = tradeoff`,
    `t_high = APT_HYSTERESIS x tradeoff`."""

    name = "apt"

    def __init__(self, weighted: Sequence[bool], names: Sequence[str] | None = None, *,
                 params: AptParams):
        self.apt = params
        super().__init__(weighted, names, params=params.as_rct())

    def record(self) -> dict[str, int | float | str | bool]:
        """APT's parameters plus the thresholds they imply."""
        return {**self.apt.model_dump(), "t_low": self.p.t_low, "t_high": self.p.t_high}
