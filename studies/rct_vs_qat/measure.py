"""What the rct_vs_qat study measures on one trace and one hardware: metrics, savings, curves."""

from __future__ import annotations

from typing import Any

import numpy as np

from rctsim import HardwareSpec, PolicyResult, SimOptions, Trace, load_hardware, saving, simulate
from rctsim.baselines import parse_baseline

OPTIONS = SimOptions(keep_timeline=False)
"""Replay options of the study (the defaults, without the timeline)."""

METRICS: dict[str, tuple[str, str]] = {
    "gemm_energy": ("energy_pj", "gemm"),
    "param_memory": ("memory_bytes", "param_total"),
    "param_movement_energy": ("energy_pj", "param_movement"),
    "dram_traffic": ("traffic_bytes", "dram_total"),
    "total_energy": ("energy_pj", "total"),
    "peak_memory": ("memory_bytes", "peak_total"),
    "mac_energy": ("energy_pj", "mac"),
    "sram_energy": ("energy_pj", "sram"),
    "dram_energy": ("energy_pj", "dram"),
    "leakage_energy": ("energy_pj", "leakage"),
}
"""Study metric -> (PolicyResult field, key) (docs/run-json.md)."""

SAVED: tuple[str, ...] = ("gemm_energy", "param_memory", "param_movement_energy", "dram_traffic",
                          "total_energy", "peak_memory", "latency", "energy_to_target")
"""Metrics whose saving against a baseline is reported."""


def final_accuracy(trace: Trace) -> float | None:
    """The last evaluation accuracy of a trace (None when it has none)."""
    acc = trace.metrics.get("eval_acc")
    return None if acc is None or len(acc.value) == 0 else float(acc.value[-1])


def mean_w_bits(trace: Trace) -> float:
    """Parameter-weighted mean weight bits over the run."""
    params = np.array([layer.params for layer in trace.layers], dtype=np.float64)
    return float(trace.mean_bits()[:, 0] @ params / params.sum())


def truncate(trace: Trace, iterations: int) -> Trace:
    """The first `iterations` iterations of a trace (phases cut; metrics and signals dropped)."""
    if not 1 <= iterations <= trace.iterations:
        raise ValueError(f"cannot truncate {trace.iterations} iterations to {iterations}")
    keep = trace.phase_start < iterations
    header = trace.header.model_copy(update={"iterations": iterations})
    return Trace.build(header=header, layers=trace.layers, phase_start=trace.phase_start[keep],
                       phase_bits=trace.phase_bits[keep])


def replay(hw: HardwareSpec, trace: Trace) -> PolicyResult:
    """The trace's own policy replayed on `hw` (no baseline)."""
    result = simulate(hw, trace, baseline=None, options=OPTIONS)
    return result.policies[result.trace_policy]


def _metrics(run: PolicyResult, trace: Trace) -> dict[str, Any]:
    out: dict[str, Any] = {name: float(getattr(run, field)[key])
                           for name, (field, key) in METRICS.items()}
    out["latency"] = run.seconds
    out["iterations"] = trace.iterations
    out["params"] = sum(layer.params for layer in trace.layers)
    return out


def policy_metrics(hw: HardwareSpec, trace: Trace) -> dict[str, Any]:
    """The study's metrics of one trace on one hardware."""
    out = _metrics(replay(hw, trace), trace)
    out["accuracy"] = final_accuracy(trace)
    out["mean_w_bits"] = mean_w_bits(trace)
    return out


def baseline_metrics(hw: HardwareSpec, trace: Trace, baseline: str) -> dict[str, Any]:
    """The study's metrics of a counterfactual baseline (`qat-fp16`, `mixed-bf16`,
    `qat:dgrad_weights=master`, ...: docs/policies.md) replayed on `trace`'s layers and
    iterations. It never trained: no accuracy, no energy to a target accuracy."""
    result = simulate(hw, trace, baseline=baseline, options=OPTIONS)
    label = parse_baseline(baseline, "config.yaml: baselines").label
    out = _metrics(result.policies[label], trace)
    out["accuracy"] = None
    out["mean_w_bits"] = float(parse_baseline(baseline).bits[0])
    out["energy_to_target"] = None
    out["target_iterations"] = None
    return out


def movement_pj(run: PolicyResult, op: str, tensor: str) -> float:
    """SRAM and DRAM energy (pJ) of one tensor class in one op kind over the run (a part of
    `energy_pj.param_movement` for `weights` and `master_copy`)."""
    return sum(r.energy_pj for r in run.rows if r.op == op and r.tensor == tensor
               and (r.component.startswith("sram:") or r.component == "dram"))


def accuracy_curve(hw: HardwareSpec, trace: Trace) -> list[dict[str, float]]:
    """Energy spent up to each evaluation (the trace truncated there) and the accuracy then."""
    acc = trace.metrics["eval_acc"]
    points = []
    for iteration, value in zip(acc.iteration, acc.value, strict=True):
        done = int(iteration) + 1
        run = replay(hw, truncate(trace, done))
        points.append({"iterations": done, "eval_acc": float(value),
                       "energy_pj": float(run.energy_pj["total"])})
    return points


def energy_to_target(curve: list[dict[str, float]], target: float) -> dict[str, float] | None:
    """The first evaluation reaching `target` accuracy, with the energy spent until then."""
    return next((p for p in curve if p["eval_acc"] >= target), None)


def savings(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    """1 - ours/baseline for every saved metric (None when either is missing or base is 0)."""
    out = {}
    for name in SAVED:
        a, b = ours.get(name), base.get(name)
        out[name] = None if a is None or b is None else saving(a, b)
    return out


def with_global_buffer(hw: HardwareSpec, size_bytes: int) -> HardwareSpec:
    """`hw` with its global buffer resized (energies, leakage and area follow from the new size
    in the banked SRAM model, as in a sweep)."""
    data = hw.model_dump()
    for mem in data["memories"]:
        if mem["role"] == "global":
            mem["size_bytes"] = size_bytes
    return HardwareSpec.model_validate(data)


def load_hw(name: str) -> HardwareSpec:
    """A preset or hardware file."""
    return load_hardware(name)
