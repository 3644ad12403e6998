"""Parameters of the `rct` and `apt` policies (shared by the trainer's policies and the
stand-alone controllers of `rctsim.policies`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    def as_rct(self) -> RctParams:
        """The `rct` parameters APT's trade-off implies."""
        shared = self.model_dump(exclude={"tradeoff"})
        return RctParams(**shared, t_low=self.tradeoff, t_high=APT_HYSTERESIS * self.tradeoff)
