"""Record a trace from any training loop (public, stable API).

```python
from rctsim.recorder import Recorder
rec = Recorder.from_onnx("model.onnx", batch_size=32, policy=controller)   # or from_shape_model,
for it in range(iterations):                                              # or Recorder(layers,...)
    ...
    rec.record(it, bits, {"loss": loss})
rec.save("run.trace")        # then: rctsim run --hw edge_npu --trace run.trace
```

Bits are the bits in force during `iteration` (`w, a, g[, acc]` per layer); they hold until the
next recorded iteration, so a loop may record only when they change. docs/capture.md describes the
API with a complete PyTorch example.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rctsim import __version__
from rctsim.errors import InputError
from rctsim.trace.io import write_trace
from rctsim.trace.model import (
    MAX_BITS,
    MIN_BITS,
    OPERANDS,
    LayerSpec,
    PolicySpec,
    Trace,
    TraceHeader,
)
from rctsim.train.capture import TraceRecorder
from rctsim.train.policies.controllers import ACC_BITS, Controller

SOURCE = "Recorder"
"""What error messages name as the source."""


class Recorder:
    """Collects the bits (and metrics) of a training run over a declared layer table."""

    def __init__(self, layers: Sequence[LayerSpec], *, model: str, batch_size: int,
                 policy: str | Controller = "rct", policy_params: Mapping[str, Any] | None = None,
                 dataset: str = "custom", seed: int = 0,
                 notes: Mapping[str, str] | None = None):
        """`layers`: the model's layer table; `policy`: a policy name or the controller whose
        bits are recorded (its parameters go into the header, with `policy_params` added, e.g.
        `opt_state_per_param` for Adam's 2 moments)."""
        self.layers = list(layers)
        if not self.layers or not all(isinstance(la, LayerSpec) for la in self.layers):
            raise InputError(SOURCE, "layers", "empty or not LayerSpecs",
                             "a non-empty list of rctsim.trace.model.LayerSpec")
        name = policy.name if isinstance(policy, Controller) else policy
        params = dict(policy.record()) if isinstance(policy, Controller) else {}
        params.update(policy_params or {})
        self._policy = _policy(name, params)
        self._header = dict(producer="rctsim.recorder", producer_version=__version__,
                            model=model, dataset=dataset, batch_size=batch_size, seed=seed,
                            notes=dict(notes or {}))
        TraceHeader(**self._header, policy=self._policy, iterations=1)  # validate early
        self._names = {la.name: i for i, la in enumerate(self.layers)}
        self._rec = TraceRecorder()
        self._last = -1

    @classmethod
    def from_onnx(cls, path: str | Path, *, batch_size: int, dims: Mapping[str, int] | None = None,
                  skip_unsupported: bool = False, **kwargs: Any) -> Recorder:
        """Layers imported from an ONNX file (`rctsim[onnx]`); model name = the file's stem."""
        from rctsim.onnx_import import import_onnx

        done = import_onnx(path, batch_size=batch_size, dims=dict(dims or {}),
                           skip_unsupported=skip_unsupported)
        kwargs.setdefault("model", done.model)
        kwargs["notes"] = {**done.notes, **kwargs.get("notes", {})}
        return cls(done.layers, batch_size=batch_size, **kwargs)

    @classmethod
    def from_shape_model(cls, name: str, *, batch_size: int,
                         model_options: Mapping[str, Any] | None = None,
                         **kwargs: Any) -> Recorder:
        """Layers of a bundled shape model (`rctsim trace synth --list-models`)."""
        from workloads.shapes import shape_model

        kwargs.setdefault("model", name)
        return cls(shape_model(name, batch_size, **dict(model_options or {})),
                   batch_size=batch_size, **kwargs)

    @property
    def iterations(self) -> int:
        """Iterations recorded so far (one past the last recorded iteration)."""
        return self._last + 1

    def record(self, iteration: int, bits: Any,
               metrics: Mapping[str, float] | None = None) -> None:
        """The bits in force during `iteration` and the metrics measured in it.

        `bits`: an array `[layers, 4]` (`w, a, g, acc`) or `[layers, 3]` (acc = 32), one row for
        every layer, or a mapping `{layer name: (w, a, g[, acc])}` naming every layer. Iterations
        start at 0 and increase; skipped iterations keep the previous bits.
        """
        if isinstance(iteration, bool) or not isinstance(iteration, int | np.integer):
            raise InputError(SOURCE, "iteration", f"{iteration!r}", "an integer")
        if self._last < 0 and iteration != 0:
            raise InputError(SOURCE, "iteration", f"first recorded iteration is {iteration}", "0")
        if iteration <= self._last:
            raise InputError(SOURCE, "iteration", f"{iteration} after {self._last}",
                             "increasing iterations")
        self._rec.bits(int(iteration), self._bits(bits))
        for key, value in (metrics or {}).items():
            self._rec.metric(str(key), int(iteration), float(value))
        self._last = int(iteration)

    def signal(self, name: str, iteration: int, layer: str | int, value: float) -> None:
        """A per-layer signal (e.g. `gavg` at each of a controller's decisions)."""
        index = self._names[layer] if isinstance(layer, str) else int(layer)
        self._rec.signal(name, int(iteration), index, float(value))

    def trace(self) -> Trace:
        """The validated trace of what was recorded."""
        if self._last < 0:
            raise InputError(SOURCE, "record", "nothing recorded", "record(0, bits) first")
        header = TraceHeader(**self._header, policy=self._policy, iterations=self.iterations)
        return self._rec.build(header, self.layers)

    def save(self, path: str | Path) -> Trace:
        """Write the trace to `path` (atomically); returns it."""
        trace = self.trace()
        write_trace(trace, path)
        return trace

    def _bits(self, bits: Any) -> np.ndarray:
        n = len(self.layers)
        if isinstance(bits, Mapping):
            missing = [la.name for la in self.layers if la.name not in bits]
            unknown = [k for k in bits if k not in self._names]
            if missing or unknown:
                raise InputError(SOURCE, "bits", f"layer {(missing or unknown)[0]!r} "
                                 f"{'missing' if missing else 'unknown'}", "every layer's name")
            bits = [tuple(bits[la.name]) for la in self.layers]
        arr = np.asarray(bits)
        if arr.ndim != 2 or arr.shape[0] != n or arr.shape[1] not in (3, 4):
            raise InputError(SOURCE, "bits", f"shape {arr.shape}",
                             f"({n}, 4) for w, a, g, acc or ({n}, 3) for w, a, g")
        if not np.issubdtype(arr.dtype, np.integer) and not np.all(arr == np.round(arr)):
            raise InputError(SOURCE, "bits", "non-integer bits", "integers")
        if arr.shape[1] == 3:
            arr = np.concatenate([arr, np.full((n, 1), ACC_BITS)], axis=1)
        if arr.min() < MIN_BITS or arr.max() > MAX_BITS:
            raise InputError(SOURCE, "bits", f"{int(arr.min())}..{int(arr.max())}",
                             f"{MIN_BITS}..{MAX_BITS} for each of {', '.join(OPERANDS)}")
        return arr.astype(np.uint8)


def _policy(name: str, params: dict[str, Any]) -> PolicySpec:
    try:
        return PolicySpec(name=name, params=params)
    except Exception:
        raise InputError(SOURCE, "policy", f"{name!r} with params {params}",
                         "fp32, qat, rct or apt with scalar parameters") from None


__all__ = ["Recorder"]
