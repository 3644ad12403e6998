"""`rct` and `apt`: integer-only weights whose per-layer bitwidth follows the Gavg signal.

Every `interval` iterations each weighted layer's Gavg — the mean magnitude of its proposed
updates measured in quantisation steps, over the interval and all its parameters — is compared with
two thresholds: below `t_low` (updates underflow the step) the layer gains a bit, above `t_high`
it loses one, always within `[b_min, b_max]`. `docs/policies.md` gives the formulas.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rctsim.train.module import TableLayer
from rctsim.train.optim import SGDMomentum
from rctsim.train.policies.base import ACC_BITS, Policy
from rctsim.train.quantize import OperandQuant
from rctsim.train.storage import IntegerStore, power_of_two_exponent

APT_HYSTERESIS = 10.0
"""APT: `t_high = APT_HYSTERESIS * tradeoff` (our choice, as the rct defaults 0.02 and 0.2)."""


class _IntegerParams(BaseModel):
    """Settings shared by `rct` and `apt`."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    b_init: int = Field(8, ge=2, le=24)
    """Weight bits every layer starts at."""
    b_min: int = Field(4, ge=2, le=24)
    """Fewest weight bits a layer may drop to."""
    b_max: int = Field(16, ge=2, le=24)
    """Most weight bits a layer may grow to."""
    interval: int = Field(50, ge=1)
    """Iterations between bitwidth decisions."""
    a_bits: int = Field(8, ge=2, le=24)
    """Activation bits (all layers when `operand_bits=fixed`; weight-less layers always)."""
    g_bits: int = Field(8, ge=2, le=24)
    """Gradient bits (as `a_bits`)."""
    saturation: float = Field(0.01, ge=0, le=1)
    """Fraction of a tensor's integers at full scale beyond which its range doubles."""
    opt_state_bits: Literal[16, 32] = 16
    """Precision the momentum is stored at."""

    @model_validator(mode="after")
    def _bit_range(self) -> _IntegerParams:
        if not self.b_min <= self.b_init <= self.b_max:
            raise ValueError(f"need b_min <= b_init <= b_max, got {self.b_min}, {self.b_init}, "
                             f"{self.b_max}")
        return self


class RctParams(_IntegerParams):
    """Parameters of the `rct` policy."""

    t_low: float = Field(0.02, gt=0)
    """Gavg below which a layer gains a bit."""
    t_high: float = Field(0.2, gt=0)
    """Gavg above which a layer loses a bit."""
    operand_bits: Literal["fixed", "adaptive"] = "fixed"
    """`fixed`: activations/gradients at `a_bits`/`g_bits`; `adaptive`: at the weight bits."""

    @model_validator(mode="after")
    def _thresholds(self) -> RctParams:
        if self.t_low >= self.t_high:
            raise ValueError(f"need t_low < t_high, got {self.t_low} >= {self.t_high}")
        return self


class AptParams(_IntegerParams):
    """Parameters of the `apt` policy: RCT's mechanism driven by one trade-off knob."""

    tradeoff: float = Field(0.02, gt=0)
    """APT's T_min: the Gavg below which a layer gains a bit (higher: more bits, more accuracy)."""
    operand_bits: Literal["fixed", "adaptive"] = "adaptive"
    """As for `rct`; APT uses one precision for forward and backward, hence `adaptive`."""


class RctPolicy(Policy):
    """Only integer weights; updates by stochastic rounding; Gavg-driven per-layer bits."""

    name = "rct"

    def __init__(self, params: RctParams, layers: list[TableLayer], rng: np.random.Generator):
        super().__init__(layers, rng)
        self.p = params
        self.opt_state_bits = params.opt_state_bits
        self.w_bits = [params.b_init if layer.own_params() else 0 for layer in layers]
        for layer in layers:
            layer.quant = OperandQuant(params.a_bits, params.g_bits, rng)
            _to_integers(layer, params.b_init, rng)
        self._sync_operands()
        self._steps_sum = np.zeros(len(layers))
        self._elems = np.zeros(len(layers))
        self._since = 0

    def apply_updates(self, optimizer: SGDMomentum, lr: float) -> None:
        """Stochastically rounded integer updates; accumulate each layer's update in steps."""
        for i, layer in enumerate(self.layers):
            for param in layer.own_params():
                self._steps_sum[i] += param.store.add(optimizer.delta(param, lr))
                self._elems[i] += param.grad.size

    def end_iteration(self, iteration: int) -> list[tuple[int, float]]:
        """Every `interval` iterations: compare each layer's Gavg with the thresholds."""
        self._since += 1
        if self._since < self.p.interval:
            return []
        decisions = []
        for i, layer in enumerate(self.layers):
            if not self.w_bits[i]:
                continue
            gavg = float(self._steps_sum[i] / self._elems[i])
            self.w_bits[i] = self._decide(self.w_bits[i], gavg)
            for param in layer.own_params():
                param.store.set_bits(self.w_bits[i])
                if param.store.saturated_fraction() > self.p.saturation:
                    param.store.widen_range()
            decisions.append((i, gavg))
        self._steps_sum[:] = 0
        self._elems[:] = 0
        self._since = 0
        self._sync_operands()
        return decisions

    def _decide(self, bits: int, gavg: float) -> int:
        if gavg < self.p.t_low:
            bits += 1
        elif gavg > self.p.t_high:
            bits -= 1
        return min(self.p.b_max, max(self.p.b_min, bits))

    def _sync_operands(self) -> None:
        if self.p.operand_bits == "adaptive":
            for layer, bits in zip(self.layers, self.w_bits, strict=True):
                if bits:
                    layer.quant.a_bits = layer.quant.g_bits = bits

    def bits(self) -> np.ndarray:
        """Weight bits per layer (activation bits for weight-less layers), a, g, 32."""
        rows = [[w or layer.quant.a_bits, layer.quant.a_bits, layer.quant.g_bits, ACC_BITS]
                for layer, w in zip(self.layers, self.w_bits, strict=True)]
        return np.array(rows, dtype=np.uint8)

    def record(self) -> dict[str, int | float | str | bool]:
        """All parameters as used."""
        return self.p.model_dump()


class AptPolicy(RctPolicy):
    """RCT's mechanism with APT's single trade-off: `t_low = tradeoff`, `t_high = 10 * tradeoff`."""

    name = "apt"

    def __init__(self, params: AptParams, layers: list[TableLayer], rng: np.random.Generator):
        self.apt = params
        shared = params.model_dump(exclude={"tradeoff"})
        rct = RctParams(**shared, t_low=params.tradeoff,
                        t_high=APT_HYSTERESIS * params.tradeoff)
        super().__init__(rct, layers, rng)

    def record(self) -> dict[str, int | float | str | bool]:
        """APT's parameters plus the thresholds they imply."""
        return {**self.apt.model_dump(), "t_low": self.p.t_low, "t_high": self.p.t_high}


def _to_integers(layer: TableLayer, bits: int, rng: np.random.Generator) -> None:
    """Replace each float tensor of `layer` by integers (all-zero ones borrow the first step)."""
    params = layer.own_params()
    if not params:
        return
    first = power_of_two_exponent(params[0].value(), bits)
    for param in params:
        x = param.value()
        exponent = power_of_two_exponent(x, bits) if np.any(x) else first
        param.store = IntegerStore.from_float(x, bits, rng, exponent=exponent)
