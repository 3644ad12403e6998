"""`fp32`: everything in single precision, one weight copy."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from rctsim.train.module import TableLayer
from rctsim.train.policies.base import Policy


class Fp32Params(BaseModel):
    """Parameters of the `fp32` policy."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    opt_state_bits: Literal[16, 32] = 32
    """Precision the momentum is stored at."""


class Fp32Policy(Policy):
    """fp32 weights, activations and gradients; fp32 momentum by default."""

    name = "fp32"

    def __init__(self, params: Fp32Params, layers: list[TableLayer], rng: np.random.Generator):
        super().__init__(layers, rng)
        self.opt_state_bits = params.opt_state_bits
