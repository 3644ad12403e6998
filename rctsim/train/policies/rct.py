"""`rct` and `apt`: integer-only weights whose per-layer bitwidth follows the Gavg signal.

Every `interval` iterations each weighted layer's Gavg — the mean magnitude of its proposed
updates measured in quantisation steps, over the interval and all its parameters — is compared with
two thresholds: below `t_low` (updates underflow the step) the layer gains a bit, above `t_high`
it loses one, always within `[b_min, b_max]`. `docs/policies.md` gives the formulas.
"""

from __future__ import annotations

import numpy as np

from rctsim.train.module import TableLayer
from rctsim.train.optim import SGDMomentum
from rctsim.train.policies.base import Policy
from rctsim.train.policies.controllers import RctController
from rctsim.train.policies.rct_params import AptParams, RctParams
from rctsim.train.quantize import OperandQuant
from rctsim.train.storage import IntegerStore, power_of_two_exponent

__all__ = ["AptParams", "AptPolicy", "RctParams", "RctPolicy"]


class RctPolicy(Policy):
    """Only integer weights; updates by stochastic rounding; Gavg-driven per-layer bits.

    The bit decisions are the `RctController`'s (also usable alone: `rctsim.policies.RCT`); this
    class feeds it the measured update steps and applies its decisions to the integer stores.
    """

    name = "rct"

    def __init__(self, params: RctParams, layers: list[TableLayer], rng: np.random.Generator):
        super().__init__(layers, rng)
        self.p = params
        self.opt_state_bits = params.opt_state_bits
        self.controller = RctController([bool(layer.own_params()) for layer in layers],
                                        [layer.name for layer in layers], params=params)
        for layer in layers:
            layer.quant = OperandQuant(params.a_bits, params.g_bits, rng)
            _to_integers(layer, params.b_init, rng)
        self._sync_operands()

    @property
    def w_bits(self) -> list[int]:
        """Weight bits per layer (0 for layers without weights)."""
        return self.controller.w_bits

    def apply_updates(self, optimizer: SGDMomentum, lr: float) -> None:
        """Stochastically rounded integer updates; accumulate each layer's update in steps."""
        for i, layer in enumerate(self.layers):
            for param in layer.own_params():
                self.controller.accumulate(i, param.store.add(optimizer.delta(param, lr)),
                                           param.grad.size)

    def end_iteration(self, iteration: int) -> list[tuple[int, float]]:
        """Every `interval` iterations: the controller's decisions, applied to the stores."""
        decisions = self.controller.end_iteration(iteration)
        for i, _ in decisions:
            for param in self.layers[i].own_params():
                param.store.set_bits(self.w_bits[i])
                if param.store.saturated_fraction() > self.p.saturation:
                    param.store.widen_range()
        self._sync_operands()
        return decisions

    def _sync_operands(self) -> None:
        for i, layer in enumerate(self.layers):
            layer.quant.a_bits, layer.quant.g_bits = self.controller.operand_bits(i)

    def bits(self) -> np.ndarray:
        """Weight bits per layer (activation bits for weight-less layers), a, g, 32."""
        return self.controller.bits()

    def record(self) -> dict[str, int | float | str | bool]:
        """All parameters as used."""
        return self.p.model_dump()


class AptPolicy(RctPolicy):
    """RCT's mechanism with APT's single trade-off: `t_low = tradeoff`, `t_high = 10 * tradeoff`."""

    name = "apt"

    def __init__(self, params: AptParams, layers: list[TableLayer], rng: np.random.Generator):
        self.apt = params
        super().__init__(params.as_rct(), layers, rng)

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
