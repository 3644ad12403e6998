"""rctsim: what on-device training costs under RCT, QAT and fp32 on a given accelerator.

The public API, for notebooks, scripts and studies:

- `simulate(hw, trace, baseline="qat") -> Result`, with `SimOptions`; `Result.to_dataframe()`,
  `Result.to_json()`; `saving(ours, base)`;
- `sensitivity(hw, trace, baseline="qat", assumptions=None) -> dict`: every saving as each
  modelling assumption varies (docs/sensitivity.md);
- inputs: `load_hardware`, `HardwareSpec`, `load_trace`, `write_trace`, `Trace`, `synth_trace`,
  `TrainConfig` (for `rctsim.train.train`, the bundled trainer); `InputError` for bad input;
- `rctsim.sweep` (`run`, `load`), `rctsim.figures` (plotly figures), `rctsim.study` (helpers
  for reproducible studies).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hwmodels.load import load_hardware
    from hwmodels.schema import HardwareSpec
    from rctsim.errors import InputError
    from rctsim.replay import SimOptions, simulate
    from rctsim.result import PolicyResult, Result, saving
    from rctsim.sensitivity_run import sensitivity
    from rctsim.synth import synth_trace
    from rctsim.trace import load_trace, trace_digest, write_trace
    from rctsim.trace.model import Trace
    from rctsim.train import TrainConfig

_LAZY = {
    "simulate": "rctsim.replay", "SimOptions": "rctsim.replay",
    "Result": "rctsim.result", "PolicyResult": "rctsim.result", "saving": "rctsim.result",
    "load_hardware": "hwmodels.load", "HardwareSpec": "hwmodels.schema",
    "load_trace": "rctsim.trace", "write_trace": "rctsim.trace", "trace_digest": "rctsim.trace",
    "Trace": "rctsim.trace.model",
    "synth_trace": "rctsim.synth", "TrainConfig": "rctsim.train",
    "InputError": "rctsim.errors", "sensitivity": "rctsim.sensitivity_run",
}
"""Public names and the module each is imported from on first use."""

__all__ = [
    "HardwareSpec", "InputError", "PolicyResult", "Result", "SimOptions", "Trace",
    "TrainConfig", "__version__", "load_hardware", "load_trace", "saving", "sensitivity",
    "simulate", "synth_trace", "trace_digest", "write_trace",
]


def __getattr__(name: str) -> Any:
    """Import the simulator lazily so that `import rctsim.errors` stays light."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rctsim' has no attribute {name!r}")
