"""Frozen results: per-policy summaries, the comparison, JSON and CSV output.

The JSON schema is documented in docs/run-json.md and versioned by RESULT_SCHEMA_VERSION.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from hwmodels.schema import HardwareSpec
from rctsim import __version__
from rctsim.atomic import write_atomic
from rctsim.engine import Interval
from rctsim.errors import InputError
from rctsim.footprint import Footprint
from rctsim.ledger import Ledger, Row
from rctsim.storage import PARAM_TENSORS, TENSORS
from rctsim.trace.model import Trace

RESULT_SCHEMA_VERSION = 1
"""Version of the run JSON (docs/run-json.md)."""

COMPARED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gemm_energy", ("energy_pj", "gemm")),
    ("param_memory", ("memory_bytes", "param_total")),
    ("param_movement_energy", ("energy_pj", "param_movement")),
    ("dram_traffic", ("traffic_bytes", "dram_total")),
    ("total_energy", ("energy_pj", "total")),
    ("latency", ("seconds",)),
)
"""Comparison metrics and where each is read from a policy summary."""


@dataclass(frozen=True)
class PolicyResult:
    """What one policy's run of the trace costs, summed over all iterations."""

    policy: str
    role: str
    """`trace`, `baseline (counterfactual)` or `baseline (trace)`."""
    iterations: int
    phases: int
    distinct_phases: int
    macs: dict[str, float]
    cycles: dict[str, float]
    seconds: float
    energy_pj: dict[str, float]
    traffic_bytes: dict[str, float]
    memory_bytes: dict[str, float]
    breakdown_energy_pj: dict[str, dict[str, float]]
    """Energy by layer, op, component and tensor."""
    rows: tuple[Row, ...] = field(repr=False)
    timeline: tuple[Interval, ...] = field(repr=False, default=())
    phase_energy: tuple[dict[str, float], ...] = field(repr=False, default=())
    """Per phase: start, stop and the energy of one of its iterations (leakage included)."""

    def to_dict(self) -> dict:
        """JSON-ready summary (rows and timeline excluded)."""
        return {
            "policy": self.policy, "role": self.role, "iterations": self.iterations,
            "phases": self.phases, "distinct_phases": self.distinct_phases, "macs": self.macs,
            "cycles": self.cycles, "seconds": self.seconds, "energy_pj": self.energy_pj,
            "traffic_bytes": self.traffic_bytes, "memory_bytes": self.memory_bytes,
            "breakdown_energy_pj": self.breakdown_energy_pj,
            "timeline": [vars(iv) for iv in self.timeline],
            "phase_energy": list(self.phase_energy),
        }


def summarise(*, ledger: Ledger, policy: str, role: str, cycles: dict[str, float],
              seconds: float, footprint: Footprint, iterations: int, phases: int,
              distinct_phases: int, timeline: tuple[Interval, ...],
              phase_energy: tuple[dict[str, float], ...] = ()) -> PolicyResult:
    """Derive every total from the ledger rows."""
    macs = {k: ledger.total("quantity", component="array", op=k) for k in ("fwd", "dgrad", "wgrad")}
    macs["total"] = sum(macs.values())
    sram = ("sram:*",)
    energy = {
        "mac": ledger.total(component=("array", "vector")),
        "gemm": ledger.total(component="array"),
        "sram": ledger.total(component=sram, action=("read", "write")),
        "dram": ledger.total(component="dram"),
        "leakage": ledger.total(action="leak"),
        "param_movement": ledger.total(component=("dram", "sram:*"), tensor=PARAM_TENSORS),
    }
    energy["total"] = energy["mac"] + energy["sram"] + energy["dram"] + energy["leakage"]
    traffic = {
        "sram_read": ledger.total("quantity", component=sram, action="read", tensor=TENSORS),
        "sram_write": ledger.total("quantity", component=sram, action="write", tensor=TENSORS),
        "dram_read": ledger.total("quantity", component="dram", action="read"),
        "dram_write": ledger.total("quantity", component="dram", action="write"),
    }
    traffic["dram_total"] = traffic["dram_read"] + traffic["dram_write"]
    traffic["param_dram"] = ledger.total("quantity", component="dram", tensor=PARAM_TENSORS)
    fp = footprint
    memory = {
        "params": fp.params, "master_copy": fp.master_copy, "optimizer": fp.optimizer,
        "param_total": fp.params + fp.master_copy, "activations_peak": fp.activations_peak,
        "gradients_peak": fp.gradients_peak, "workspace_peak": fp.workspace_peak,
        "peak_on_chip": fp.peak_on_chip, "peak_total": fp.peak_total,
    }
    breakdown = {by: ledger.breakdown(by) for by in ("layer", "op", "component", "tensor")}
    return PolicyResult(policy=policy, role=role, iterations=iterations, phases=phases,
                        distinct_phases=distinct_phases, macs=macs, cycles=cycles,
                        seconds=seconds, energy_pj=energy, traffic_bytes=traffic,
                        memory_bytes=memory, breakdown_energy_pj=breakdown,
                        rows=tuple(ledger.rows()), timeline=timeline,
                        phase_energy=phase_energy)




def _non_finite(value: object, path: str) -> tuple[str, float] | None:
    """The first (path, value) inside `value` that is a non-finite number, if any."""
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found:
                return found
    elif isinstance(value, float) and not math.isfinite(value):
        return path, value
    return None


def _check_finite(summary: PolicyResult, label: str, hardware: str) -> None:
    """Every number of a policy's result is finite (InputError naming the quantity, else):
    an infinite or NaN total comes from inputs whose magnitudes overflow."""
    data = summary.to_dict()
    found = _non_finite({k: data[k] for k in ("macs", "cycles", "seconds", "energy_pj",
                                              "traffic_bytes", "memory_bytes",
                                              "breakdown_energy_pj", "phase_energy")}, label)
    if found:
        path, value = found
        raise InputError(hardware, f"result {path}", f"is {value}: the inputs' magnitudes "
                         "overflow the arithmetic (a clock, bandwidth, leakage or energy far "
                         "outside physical ranges)", "hardware and trace values whose results "
                         "are finite")


def _get(summary: PolicyResult, path: tuple[str, ...]) -> float:
    value = getattr(summary, path[0])
    return float(value[path[1]]) if len(path) > 1 else float(value)


def saving(ours: float, base: float) -> float | None:
    """Fraction saved against the baseline (0.86 = 86 % less); None when the baseline is 0."""
    return None if base == 0 else 1.0 - ours / base


@dataclass(frozen=True)
class Result:
    """A whole run: inputs, every policy's summary and the comparison."""

    hardware: dict
    trace: dict
    policies: dict[str, PolicyResult]
    trace_policy: str
    baseline: str | None
    comparison: dict
    options: dict

    @classmethod
    def build(cls, *, hardware: HardwareSpec, hardware_sha256: str, trace: Trace, trace_name: str,
              trace_sha256: str, policies: dict[str, PolicyResult], trace_policy: str,
              baseline: str | None, options: dict,
              baseline_trace: dict | None = None) -> Result:
        """Assemble and compute the comparison."""
        for label, summary in policies.items():
            _check_finite(summary, label, hardware.name)
        comparison: dict = {}
        if baseline is not None:
            ours, base = policies[trace_policy], policies[baseline]
            comparison = {"policy": trace_policy, "baseline": baseline, "baseline_role": base.role,
                          "baseline_trace": baseline_trace,
                          "savings": {name: saving(_get(ours, p), _get(base, p))
                                      for name, p in COMPARED}}
        return cls(
            hardware={"name": hardware.name, "sha256": hardware_sha256},
            trace={"name": trace_name, "sha256": trace_sha256, "model": trace.header.model,
                   "policy": trace_policy, "iterations": trace.iterations,
                   "layers": trace.n_layers, "phases": len(trace.phase_start)},
            policies=policies, trace_policy=trace_policy, baseline=baseline,
            comparison=comparison, options=options)

    def to_dict(self) -> dict:
        """The run JSON object."""
        return {"schema_version": RESULT_SCHEMA_VERSION, "producer": f"rctsim {__version__}",
                "hardware": self.hardware, "trace": self.trace, "options": self.options,
                "policies": {k: v.to_dict() for k, v in self.policies.items()},
                "comparison": self.comparison}

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text; written atomically to `path` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False, allow_nan=False)
        if path is not None:
            write_atomic(path, text)
        return text

    def to_csv(self, path: str | Path | None = None) -> str:
        """Per-layer, per-op ledger rows of every policy as CSV."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["policy", "layer", "op", "component", "action", "tensor", "bits",
                         "quantity", "energy_pj"])
        for label, pr in self.policies.items():
            for r in pr.rows:
                writer.writerow([label, r.layer, r.op, r.component, r.action, r.tensor, r.bits,
                                 repr(r.quantity), repr(r.energy_pj)])
        if path is not None:
            write_atomic(path, buf.getvalue())
        return buf.getvalue()
