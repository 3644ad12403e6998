"""Recording a run into a `Trace`: bit phases, sparse metrics and per-layer signals."""

from __future__ import annotations

import numpy as np

from rctsim.trace.model import LayerSignal, LayerSpec, Series, Trace, TraceHeader


class TraceRecorder:
    """Collects what happens during training; `build` turns it into a validated `Trace`."""

    def __init__(self) -> None:
        self.phase_start: list[int] = []
        self.phase_bits: list[np.ndarray] = []
        self.metrics: dict[str, tuple[list[int], list[float]]] = {}
        self.signals: dict[str, tuple[list[int], list[int], list[float]]] = {}

    def bits(self, iteration: int, bits: np.ndarray) -> None:
        """The bits in force during `iteration`; a new phase starts only when they change."""
        if not self.phase_bits or not np.array_equal(self.phase_bits[-1], bits):
            self.phase_start.append(iteration)
            self.phase_bits.append(bits.copy())

    def metric(self, name: str, iteration: int, value: float) -> None:
        """Scalar metric `name` measured at `iteration`."""
        its, values = self.metrics.setdefault(name, ([], []))
        its.append(iteration)
        values.append(float(value))

    def signal(self, name: str, iteration: int, layer: int, value: float) -> None:
        """Per-layer signal `name` of layer index `layer` at `iteration`."""
        its, layers, values = self.signals.setdefault(name, ([], [], []))
        its.append(iteration)
        layers.append(layer)
        values.append(float(value))

    def build(self, header: TraceHeader, layers: list[LayerSpec]) -> Trace:
        """The validated trace."""
        return Trace.build(
            header=header, layers=layers,
            phase_start=np.array(self.phase_start, dtype=np.int64),
            phase_bits=np.stack(self.phase_bits).astype(np.uint8),
            metrics={k: Series(iteration=np.array(i, np.int64), value=np.array(v, np.float64))
                     for k, (i, v) in self.metrics.items()},
            signals={k: LayerSignal(iteration=np.array(i, np.int64), layer=np.array(n, np.int64),
                                    value=np.array(v, np.float64))
                     for k, (i, n, v) in self.signals.items()},
            source="rctsim.train")
