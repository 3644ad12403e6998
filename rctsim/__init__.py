"""rctsim: what on-device training costs under RCT, QAT and fp32 on a given accelerator.

`rctsim.simulate(hw, trace, baseline="qat") -> Result` is the notebook entry point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rctsim.replay import SimOptions, simulate

__all__ = ["simulate", "SimOptions", "__version__"]


def __getattr__(name: str) -> Any:
    """Import the simulator lazily so that `import rctsim.errors` stays light."""
    if name in ("simulate", "SimOptions"):
        import importlib

        return getattr(importlib.import_module("rctsim.replay"), name)
    raise AttributeError(f"module 'rctsim' has no attribute {name!r}")
