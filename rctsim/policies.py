"""The training policies' bitwidth controllers, for any training loop (public, stable API).

```python
import rctsim.policies
controller = rctsim.policies.RCT(layers, interval=50, t_low=0.02, t_high=0.2)
bits = controller.bits()                       # uint8 [layers, 4]: w, a, g, acc
for it in range(iterations):
    ...  # train one step with the bits in force; measure each layer's update in steps
    bits = controller.step(it, {"conv1": gavg_conv1, ...})
```

`layers` is a layer table (`LayerSpec`s: from `rctsim.onnx_import.import_onnx`, a shape model,
written by hand) or anything with a `.layers` table (a `Recorder`, a `Trace`). Only layers with
weights (`has_weights`) get weight bits of their own. The parameters are those of the bundled
trainer's policies (docs/policies.md) and are validated the same way. The classes are the ones the
bundled trainer drives (`rctsim/train/policies/controllers.py`): there is one implementation.
docs/capture.md has a complete PyTorch loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rctsim.errors import InputError
from rctsim.trace.model import LayerSpec
from rctsim.train.params import parse_params
from rctsim.train.policies.controllers import (
    AptController,
    Controller,
    Fp32Controller,
    GradStat,
    QatController,
    RctController,
)
from rctsim.train.policies.fp32 import Fp32Params
from rctsim.train.policies.qat import QatParams
from rctsim.train.policies.rct_params import AptParams, RctParams
from rctsim.train.quantize import qmax


class RCT(RctController):
    """RCT (Huang et al.): per-layer weight bits moved by Gavg against `t_low`/`t_high` every
    `interval` iterations, within `[b_min, b_max]`; parameters as `--policy rct`."""

    def __init__(self, layers: Any, **params: Any):
        weighted, names = layer_flags(layers)
        super().__init__(weighted, names, params=parse_params(RctParams, params, "RCT", "rct"))


class APT(AptController):
    """APT: RCT's mechanism with one trade-off knob (`tradeoff`); parameters as `--policy apt`."""

    def __init__(self, layers: Any, **params: Any):
        weighted, names = layer_flags(layers)
        super().__init__(weighted, names, params=parse_params(AptParams, params, "APT", "apt"))


class QAT(QatController):
    """QAT: `w_q`/`a_q`-bit forward, fp32 gradients and master copy; bits never change."""

    def __init__(self, layers: Any, **params: Any):
        weighted, names = layer_flags(layers)
        parsed = parse_params(QatParams, params, "QAT", "qat")
        super().__init__(weighted, names, w_q=parsed.w_q, a_q=parsed.a_q)
        self.opt_state_bits = parsed.opt_state_bits

    def record(self) -> dict[str, int | float | str | bool]:
        """`w_q`, `a_q` and the momentum precision."""
        return {**super().record(), "opt_state_bits": self.opt_state_bits}


class FP32(Fp32Controller):
    """fp32 everything."""

    def __init__(self, layers: Any, **params: Any):
        weighted, names = layer_flags(layers)
        parsed = parse_params(Fp32Params, params, "FP32", "fp32")
        super().__init__(weighted, names)
        self.opt_state_bits = parsed.opt_state_bits

    def record(self) -> dict[str, int | float | str | bool]:
        """The momentum precision."""
        return {"opt_state_bits": self.opt_state_bits}


def layer_flags(layers: Any) -> tuple[list[bool], list[str]]:
    """`(has_weights per layer, names)` of a layer table or of an object holding one."""
    table = getattr(layers, "layers", layers)
    if isinstance(table, str | bytes) or not isinstance(table, Sequence) or not table:
        raise InputError("controller", "layers", f"{type(layers).__name__}",
                         "a non-empty list of LayerSpec, or a Recorder/Trace holding one")
    for i, layer in enumerate(table):
        if not isinstance(layer, LayerSpec):
            raise InputError("controller", f"layers[{i}]", f"a {type(layer).__name__}",
                             "LayerSpec (rctsim.trace.model)")
    return [layer.has_weights for layer in table], [layer.name for layer in table]


def quant_step(values: Any, bits: int) -> float:
    """RCT's power-of-two quantisation step for a tensor at `bits`: the smallest `2**e` with
    `max|values| <= (2**(bits-1) - 1) * 2**e` (1.0 for an all-zero tensor)."""
    peak = float(np.max(np.abs(np.asarray(values)))) if np.size(values) else 0.0
    if peak == 0.0:
        return 1.0
    return 2.0 ** math.ceil(math.log2(peak / qmax(bits)))


def gavg(update: Any, step: float) -> tuple[float, float]:
    """One tensor's contribution to its layer's Gavg: `(sum |update| / step, element count)`.

    Sum the pairs of a layer's tensors and pass them to `Controller.step`.
    """
    arr = np.asarray(update, dtype=np.float64)
    return float(np.abs(arr).sum() / step), float(arr.size)


__all__ = ["APT", "FP32", "QAT", "RCT", "Controller", "GradStat", "gavg", "layer_flags",
           "quant_step"]
