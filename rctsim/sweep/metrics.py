"""The metric columns of a sweep point, read from a `Result` and from its trace."""

from __future__ import annotations

import numpy as np

from rctsim.result import COMPARED, Result
from rctsim.trace.model import Trace

METRICS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("energy_pj", ("energy_pj", "total"), "total energy: MAC + SRAM + DRAM + leakage"),
    ("gemm_energy_pj", ("energy_pj", "gemm"), "MAC energy of fwd + dgrad + wgrad"),
    ("gemm_datapath_energy_pj", ("energy_pj", "gemm_datapath"),
     "GEMM MACs + PE-register traffic + global-buffer operand reads"),
    ("mac_energy_pj", ("energy_pj", "mac"),
     "all arithmetic (GEMMs, non-GEMM work and the optimiser)"),
    ("sram_energy_pj", ("energy_pj", "sram"), "on-chip memory access energy"),
    ("dram_energy_pj", ("energy_pj", "dram"), "DRAM access energy"),
    ("leakage_energy_pj", ("energy_pj", "leakage"), "leakage over the run time"),
    ("param_movement_energy_pj", ("energy_pj", "param_movement"),
     "SRAM + DRAM energy of weights and master copy"),
    ("latency_s", ("seconds",), "run time of all iterations"),
    ("cycles", ("cycles", "total"), "total cycles"),
    ("compute_cycles", ("cycles", "compute"), "stall-free compute cycles"),
    ("stall_cycles", ("cycles", "stall"), "cycles waiting for DRAM"),
    ("macs", ("macs", "total"), "MACs of fwd + dgrad + wgrad"),
    ("dram_traffic_bytes", ("traffic_bytes", "dram_total"), "DRAM bytes read + written"),
    ("param_dram_bytes", ("traffic_bytes", "param_dram"), "DRAM bytes of parameters"),
    ("param_memory_bytes", ("memory_bytes", "param_total"), "weights + master copy"),
    ("optimizer_bytes", ("memory_bytes", "optimizer"), "optimiser state"),
    ("peak_memory_bytes", ("memory_bytes", "peak_total"), "peak training memory"),
    ("peak_on_chip_bytes", ("memory_bytes", "peak_on_chip"), "peak on-chip memory"),
)
"""Column, path in the trace policy's summary (docs/run-json.md), meaning."""

SAVINGS: tuple[str, ...] = tuple(f"saving_{name}" for name, _ in COMPARED)
"""`1 - ours/baseline` per compared metric (null without a baseline)."""

TRACE_FACTS: tuple[tuple[str, str], ...] = (
    ("accuracy", "final `eval_acc` of the trace (null when the trace has none)"),
    ("mean_w_bits", "parameter-weighted mean weight bits over the run"),
)
"""Columns read from the trace itself."""

AREA_COLUMN = ("area_mm2", "chip area: array + compute units + memories (run JSON area_mm2)")
"""Column read from the result's `area_mm2.total` (a hardware property, not a policy's)."""

METRIC_COLUMNS: tuple[str, ...] = (*(m[0] for m in METRICS), AREA_COLUMN[0], *SAVINGS,
                                   *(f[0] for f in TRACE_FACTS))
"""Every metric column of the store, in order."""


def result_metrics(result: Result) -> dict[str, float | None]:
    """The metric columns of a run (the trace's own policy, savings against the baseline)."""
    summary = result.policies[result.trace_policy]
    out: dict[str, float | None] = {}
    for column, path, _ in METRICS:
        value = getattr(summary, path[0])
        out[column] = float(value[path[1]] if len(path) > 1 else value)
    out["area_mm2"] = float(result.area_mm2["total"]) if result.area_mm2 else None
    savings = (result.comparison or {}).get("savings", {})
    for (name, _), column in zip(COMPARED, SAVINGS, strict=True):
        value = savings.get(name)
        out[column] = None if value is None else float(value)
    return out


def trace_facts(trace: Trace) -> dict[str, float | None]:
    """Accuracy and mean weight bits of a trace."""
    series = trace.metrics.get("eval_acc")
    accuracy = float(series.value[-1]) if series is not None and len(series.value) else None
    params = np.array([layer.params for layer in trace.layers], dtype=np.float64)
    w_bits = trace.mean_bits()[:, 0]
    mean_w = float((w_bits * params).sum() / params.sum()) if params.sum() else float(
        w_bits.mean())
    return {"accuracy": accuracy, "mean_w_bits": mean_w}
