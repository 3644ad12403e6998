"""`qat`: fp32 master weights; forward through fake-quantised weights and activations (STE)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rctsim.train.module import TableLayer
from rctsim.train.policies.base import Policy
from rctsim.train.policies.controllers import QatController
from rctsim.train.quantize import OperandQuant
from rctsim.train.storage import MasterCopyStore


class QatParams(BaseModel):
    """Parameters of the `qat` policy."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    w_q: int = Field(8, ge=2, le=16)
    """Bits of the quantised weight copy the forward pass reads."""
    a_q: int = Field(8, ge=2, le=16)
    """Bits of the activations entering each GEMM."""
    opt_state_bits: Literal[16, 32] = 32
    """Precision the momentum is stored at."""


class QatPolicy(Policy):
    """Master copy + quantised copy; gradients flow straight through the rounding in fp32."""

    name = "qat"

    def __init__(self, params: QatParams, layers: list[TableLayer], rng: np.random.Generator):
        super().__init__(layers, rng)
        self.w_q, self.a_q = params.w_q, params.a_q
        self.opt_state_bits = params.opt_state_bits
        self.controller = QatController([bool(layer.own_params()) for layer in layers],
                                        [layer.name for layer in layers], w_q=self.w_q,
                                        a_q=self.a_q)
        for layer in layers:
            layer.quant = OperandQuant(a_bits=self.a_q)
            for param in layer.own_params():
                param.store = MasterCopyStore(param.value().copy(), self.w_q)

    def record(self) -> dict[str, int | float | str | bool]:
        """`w_q`, `a_q` and the momentum precision."""
        return {"w_q": self.w_q, "a_q": self.a_q, "opt_state_bits": self.opt_state_bits}
