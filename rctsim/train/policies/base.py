"""What every training policy does: storage, operand rounding, updates, bits in force."""

from __future__ import annotations

import numpy as np

from rctsim.train.module import TableLayer
from rctsim.train.optim import SGDMomentum
from rctsim.train.policies.controllers import ACC_BITS, Controller, Fp32Controller
from rctsim.train.storage import Param

__all__ = ["ACC_BITS", "Policy"]


class Policy:
    """Base policy: fp32 everything. Subclasses change storage, rounding and bit decisions."""

    name = "fp32"
    opt_state_bits = 32

    def __init__(self, layers: list[TableLayer], rng: np.random.Generator):
        self.layers = layers
        self.rng = rng
        self.controller: Controller = Fp32Controller(
            [bool(layer.own_params()) for layer in layers], [layer.name for layer in layers])

    def params(self) -> list[Param]:
        """All trainable parameters, in layer-table order."""
        return [p for layer in self.layers for p in layer.own_params()]

    def bits(self) -> np.ndarray:
        """uint8 [layers, 4]: bits in force now, columns `w, a, g, acc` (the controller's)."""
        return self.controller.bits()

    def apply_updates(self, optimizer: SGDMomentum, lr: float) -> None:
        """Apply one optimiser step to every parameter."""
        for param in self.params():
            param.store.add(optimizer.delta(param, lr))

    def end_iteration(self, iteration: int) -> list[tuple[int, float]]:
        """Bitwidth decisions after `iteration`: `(layer index, signal)` per decided layer."""
        return []

    def record(self) -> dict[str, int | float | str | bool]:
        """The policy parameters as used, for the trace header."""
        return {"opt_state_bits": self.opt_state_bits}
