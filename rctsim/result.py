"""Frozen results: per-policy summaries, the comparison, JSON and CSV output.

The JSON schema is documented in docs/run-json.md and versioned by RESULT_SCHEMA_VERSION.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from hwmodels.load import hardware_label
from hwmodels.schema import HardwareSpec
from hwmodels.summary import hardware_overrides
from rctsim import __version__
from rctsim.atomic import write_atomic
from rctsim.engine import Interval
from rctsim.errors import InputError
from rctsim.footprint import Footprint
from rctsim.ledger import Ledger, Query, Row
from rctsim.nongemm import RANDOM_WORD_BITS, XORSHIFT_OPS_PER_WORD
from rctsim.storage import PARAM_TENSORS, TENSORS
from rctsim.trace.model import Trace

RESULT_SCHEMA_VERSION = 2
"""Version of the run JSON (docs/run-json.md). 2: `energy_pj.gemm_arith` /
`gemm_datapath`, `area_mm2`, compute-unit leakage; `rctsim report` still reads 1."""

GEMM_OPS: tuple[str, ...] = ("fwd", "dgrad", "wgrad")
"""Ledger ops that are GEMMs."""

COMPUTE_COMPONENTS: tuple[str, ...] = ("array", "vector", "unit:*")
"""Ledger components that compute (their rows other than leakage are arithmetic)."""

COMPARED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gemm_energy", ("energy_pj", "gemm")),
    ("gemm_arith_energy", ("energy_pj", "gemm_arith")),
    ("gemm_datapath_energy", ("energy_pj", "gemm_datapath")),
    ("param_memory", ("memory_bytes", "param_total")),
    ("param_memory_with_optimizer", ("memory_bytes", "params_with_optimizer")),
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
    energy_pj: dict[str, float | dict]
    """Energy by part; `non_gemm` is `{"total": pJ, "parts": {kind: pJ}}` (docs/run-json.md)."""
    traffic_bytes: dict[str, float]
    memory_bytes: dict[str, float]
    breakdown_energy_pj: dict[str, dict[str, float]]
    """Energy by layer, op, component and tensor."""
    ledger_parts: tuple[Ledger, ...] = field(repr=False, compare=False)
    """The run's ledger, or a ledger and the rows added after it (the leakage of a replay that
    went on from an earlier one's ledger): `ledger` joins them when first asked for, as `rows`
    and `per_layer` are (a sweep point asks for none of them)."""
    timeline: tuple[Interval, ...] = field(repr=False, default=())
    phase_energy: tuple[dict[str, float], ...] = field(repr=False, default=())
    """Per phase: start, stop and the energy of one of its iterations (leakage included)."""
    non_gemm: dict = field(default_factory=dict)
    """Non-GEMM work: whether the trace recorded it, what is missing, primitive ops by kind,
    random bits drawn (docs/run-json.md)."""
    cycle_parts: tuple = field(repr=False, compare=False, default=())
    """Per distinct phase, in order: the (layer, op kind) of each op, the ops' timings
    (rctsim.engine.OpTiming) and the iterations the phase runs; `op_cycles` sums them when
    first asked for (a sweep point asks for none)."""

    @cached_property
    def op_cycles(self) -> dict[tuple[str, str], dict[str, float]]:
        """Compute and stall cycles (by cause) per (layer, op kind), over all iterations: the
        CSV's timing rows."""
        return op_cycle_sums(self.cycle_parts)

    @cached_property
    def breakdown_cycles(self) -> dict[str, dict[str, dict[str, float]]]:
        """The same by layer and by op kind (summed from `op_cycles` when first asked for)."""
        return _cycle_breakdown(self.op_cycles)

    @cached_property
    def ledger(self) -> Ledger:
        """The run's ledger (the parts joined: the rows of each in order)."""
        first, *rest = self.ledger_parts
        if not rest:
            return first
        out = first.copy()
        for part in rest:
            for key, (quantity, energy) in part._rows.items():
                out.add_key(key, quantity, energy)
        return out

    @cached_property
    def rows(self) -> tuple[Row, ...]:
        """Every ledger row, sorted by key."""
        return tuple(self.ledger.rows())

    @cached_property
    def per_layer(self) -> dict[str, dict]:
        """Per layer, over the run: `macs` (GEMM MACs on any unit) and `energy_pj` by
        component (summed over the rows in key order)."""
        out: dict[str, dict] = {layer: {"macs": 0.0, "energy_pj": {}}
                                for layer in self.breakdown_energy_pj["layer"]}
        for row in self.rows:
            cell = out[row.layer]
            parts = cell["energy_pj"]
            parts[row.component] = parts.get(row.component, 0.0) + row.energy_pj
            if row.action == "mac":  # GEMM MACs, on the array or a float unit
                cell["macs"] += row.quantity
        return out

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
            "per_layer": self.per_layer,
            "non_gemm": self.non_gemm,
            "breakdown_cycles": self.breakdown_cycles,
        }


def summarise(*, ledger: Ledger, policy: str, role: str, cycles: dict[str, float],
              seconds: float, footprint: Footprint, iterations: int, phases: int,
              distinct_phases: int, timeline: tuple[Interval, ...],
              phase_energy: tuple[dict[str, float], ...] = (),
              nongemm_recorded: bool = True,
              cycle_parts: tuple = (),
              summed: tuple | None = None, added: Ledger | None = None) -> PolicyResult:
    """Derive every total from the ledger rows (one pass: `_SUMMARY`). `summed`:
    `summary_state(ledger)`, and `added`: rows under keys `ledger` does not have, added after
    it (each key once): the pass goes on from `summed` over `added` alone, and the result's
    ledger is the two joined."""
    if summed is None:
        if added is not None:
            raise ValueError("added rows need the summed state of the ledger before them")
        joined: tuple[Ledger, ...] = (ledger,)
        sums = _SUMMARY.run(ledger)
    else:
        if summed[0] != len(ledger._rows) or any(key in ledger._rows for key in added._rows):
            raise ValueError("summed is not the state of this ledger, or added rows repeat "
                             "its keys")
        joined = (ledger, added)
        sums = _SUMMARY.run(added, start=(0, *summed[1:]))
    t, (by_layer, by_op, by_component, by_tensor, vector_pj, vector_ops) = sums
    macs = {k: t[i] for i, k in enumerate(GEMM_OPS)}
    macs["total"] = sum(macs.values())
    arith = t[3]
    # MAC feed: PE-local register traffic and global-buffer operand reads of the GEMMs, i.e. the
    # sram rows of GEMM ops whose `bits` names the MAC format (DMA rows carry "-")
    feed = t[4] - t[5]
    energy = {
        "mac": t[6] - t[7],
        "gemm": arith,
        "gemm_arith": arith,
        "gemm_datapath": arith + feed,
        "sram": t[8],
        "dram": t[9],
        "leakage": t[10],
        "param_movement": t[11],
    }
    energy["total"] = energy["mac"] + energy["sram"] + energy["dram"] + energy["leakage"]
    parts = {NONGEMM_PART.get(k, k): v for k, v in vector_pj.items()}
    energy["non_gemm"] = {"total": sum(parts.values()), "parts": parts}
    traffic = {"sram_read": t[12], "sram_write": t[13], "dram_read": t[14], "dram_write": t[15]}
    traffic["dram_total"] = traffic["dram_read"] + traffic["dram_write"]
    traffic["param_dram"] = t[16]
    fp = footprint
    memory = {
        "params": fp.params, "master_copy": fp.master_copy, "optimizer": fp.optimizer,
        "param_total": fp.params + fp.master_copy,
        "params_with_optimizer": fp.params + fp.master_copy + fp.optimizer,
        "activations_peak": fp.activations_peak,
        "gradients_peak": fp.gradients_peak, "workspace_peak": fp.workspace_peak,
        "peak_on_chip": fp.peak_on_chip, "peak_total": fp.peak_total,
    }
    breakdown = {"layer": by_layer, "op": by_op, "component": by_component, "tensor": by_tensor}
    ops = {NONGEMM_PART.get(k, k): v for k, v in vector_ops.items()}
    non_gemm = {
        "recorded": nongemm_recorded,
        "missing": None if nongemm_recorded else NONGEMM_MISSING,
        "ops": ops,
        "random_bits": ops.get("random_bits", 0.0) * RANDOM_WORD_BITS / XORSHIFT_OPS_PER_WORD,
    }
    return PolicyResult(policy=policy, role=role, iterations=iterations, phases=phases,
                        distinct_phases=distinct_phases, macs=macs, cycles=cycles,
                        seconds=seconds, energy_pj=energy, traffic_bytes=traffic,
                        memory_bytes=memory, breakdown_energy_pj=breakdown,
                        ledger_parts=joined, timeline=timeline,
                        phase_energy=phase_energy, non_gemm=non_gemm,
                        cycle_parts=tuple(cycle_parts))


_SRAM = ("sram:*",)
_SRAM_RW = {"component": _SRAM, "action": ("read", "write")}
_SUMMARY = Query(
    totals=(
        *(("quantity", {"action": "mac", "op": k}) for k in GEMM_OPS),  # 0-2 MACs by op
        ("energy_pj", {"action": "mac"}),  # 3 GEMM arithmetic
        ("energy_pj", {**_SRAM_RW, "op": GEMM_OPS}),  # 4 GEMMs' SRAM traffic
        ("energy_pj", {**_SRAM_RW, "op": GEMM_OPS, "bits": "-"}),  # 5 ... of which DMA
        ("energy_pj", {"component": COMPUTE_COMPONENTS}),  # 6 compute
        ("energy_pj", {"component": COMPUTE_COMPONENTS, "action": "leak"}),  # 7 ... leakage
        ("energy_pj", _SRAM_RW),  # 8 SRAM access
        ("energy_pj", {"component": "dram"}),  # 9 DRAM
        ("energy_pj", {"action": "leak"}),  # 10 leakage
        ("energy_pj", {"component": ("dram", "sram:*"), "tensor": PARAM_TENSORS}),  # 11
        ("quantity", {"component": _SRAM, "action": "read", "tensor": TENSORS}),  # 12
        ("quantity", {"component": _SRAM, "action": "write", "tensor": TENSORS}),  # 13
        ("quantity", {"component": "dram", "action": "read"}),  # 14
        ("quantity", {"component": "dram", "action": "write"}),  # 15
        ("quantity", {"component": "dram", "tensor": PARAM_TENSORS}),  # 16 parameter DRAM
    ),
    breakdowns=(
        *((by, "energy_pj", {}) for by in ("layer", "op", "component", "tensor")),
        ("action", "energy_pj", {"component": "vector"}),
        ("action", "quantity", {"component": "vector"}),
    ))
"""Every total and breakdown `summarise` reads of a policy's ledger, asked in one pass (the
same filters, each summed in the order `Ledger.total` and `Ledger.breakdown` sum)."""


def summary_state(ledger: Ledger) -> tuple:
    """`summarise`'s sums over a ledger, to go on from once more rows are added."""
    return _SUMMARY.state(ledger)


CYCLE_PARTS: tuple[str, ...] = ("compute", "stall_dram_bandwidth", "stall_sram_bandwidth",
                                "stall_dram_latency")
"""Per-op cycle sums of a policy result (`op_cycles`), in this order."""


def op_cycle_sums(parts) -> dict[tuple[str, str], dict[str, float]]:
    """`PolicyResult.op_cycles` from its `cycle_parts`: each op's cycles x the iterations of its
    phase, summed over the phases in order."""
    sums: dict[tuple[str, str], list[float]] = {}
    for keys, ops, times in parts:
        for key, t in zip(keys, ops, strict=True):  # one op per (layer, kind)
            acc = sums.get(key)
            if acc is None:
                acc = sums[key] = [0.0, 0.0, 0.0, 0.0]  # CYCLE_PARTS, in order
            acc[0] += t.compute * times
            acc[1] += t.dram_bandwidth * times
            acc[2] += t.sram_bandwidth * times
            acc[3] += t.dram_latency * times
    return {key: dict(zip(CYCLE_PARTS, acc, strict=True)) for key, acc in sums.items()}


def _cycle_breakdown(op_cycles: dict[tuple[str, str], dict[str, float]]) -> dict:
    """Cycles by layer and by op kind from the per-(layer, op) sums."""
    out: dict[str, dict[str, dict[str, float]]] = {"layer": {}, "op": {}}
    for (layer, op), values in op_cycles.items():
        for by, name in (("layer", layer), ("op", op)):
            acc = out[by].setdefault(name, dict.fromkeys(values, 0.0))
            for k, v in values.items():
                acc[k] += v
    return out


NONGEMM_PART = {"update_mac": "optimizer"}
"""Non-GEMM energy parts named otherwise than their ledger action."""

NONGEMM_MISSING = ("the trace is format 1: it records no per-layer non-GEMM work (normalisation, "
                   "activations, pooling, residual adds, softmax, loss), so none is counted; the "
                   "optimiser and the policy's quantisation work are counted")
"""What a run of a format-1 trace states about its non-GEMM work."""


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


def _all_finite(value: object) -> bool:
    """Whether every float inside `value` (nested dicts, lists, tuples) is finite: the check
    of `_non_finite` without the paths (which are made only for a value that fails)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return True


def _check_finite(summary: PolicyResult, label: str, hardware: str) -> None:
    """Every number of a policy's result is finite (InputError naming the quantity, else):
    an infinite or NaN total comes from inputs whose magnitudes overflow."""
    values = {k: getattr(summary, k) for k in (
        "macs", "cycles", "seconds", "energy_pj", "traffic_bytes", "memory_bytes",
        "breakdown_energy_pj", "phase_energy")}
    if _all_finite(values):
        return
    found = _non_finite(values, label)
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


LEDGER_COLUMNS = ("policy", "layer", "op", "component", "action", "tensor", "bits", "quantity",
                  "energy_pj")
"""Columns of the per-op rows (`--csv`, `Result.to_dataframe()`)."""


def require_pandas(what: str):
    """The pandas module, or one clear line saying how to install it."""
    try:
        import pandas
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"{what} needs pandas, an optional dependency: "
                                  "pip install 'rctsim[pandas]'") from None
    return pandas


@dataclass(frozen=True, repr=False)
class Result:
    """A whole run: inputs, every policy's summary and the comparison."""

    hardware: dict
    trace: dict
    policies: dict[str, PolicyResult]
    trace_policy: str
    baseline: str | None
    comparison: dict
    options: dict
    area_mm2: dict = field(default_factory=dict)
    """Chip area: {"total": mm², "parts": {part: mm²}} (hwmodels.compute.chip_area_mm2)."""
    comparisons: dict = field(default_factory=dict)
    """The trace's policy against each baseline, keyed by baseline label (`comparison` is the
    first)."""

    @classmethod
    def build(cls, *, hardware: HardwareSpec, hardware_sha256: str, trace: Trace, trace_name: str,
              trace_sha256: str, policies: dict[str, PolicyResult], trace_policy: str,
              baseline: str | None, options: dict,
              baseline_trace: dict | None = None, area_mm2: dict | None = None,
              baselines: list[str] | None = None,
              baseline_traces: dict[str, dict | None] | None = None,
              hardware_dump: dict | None = None) -> Result:
        """Assemble and compute the comparison against each baseline (`baselines`, default
        `[baseline]`; `baseline_traces` the real baseline traces' {name, sha256} by label;
        `hardware_dump`: `hardware.model_dump(mode="json")` where the caller has made it)."""
        for label, summary in policies.items():
            _check_finite(summary, label, hardware.name)
        labels = baselines if baselines is not None else ([baseline] if baseline else [])
        infos = baseline_traces or {baseline: baseline_trace}
        comparisons: dict = {}
        for label in labels:
            ours, base = policies[trace_policy], policies[label]
            comparisons[label] = {
                "policy": trace_policy, "baseline": label, "baseline_role": base.role,
                "baseline_trace": infos.get(label),
                "savings": {name: saving(_get(ours, p), _get(base, p)) for name, p in COMPARED}}
        comparison = comparisons[labels[0]] if labels else {}
        return cls(
            hardware={"name": hardware.name, "sha256": hardware_sha256,
                      "label": hardware_label(hardware, hardware_sha256),
                      "spec": (hardware.model_dump(mode="json") if hardware_dump is None
                               else hardware_dump),
                      "dram_technology": hardware.dram.technology,
                      "overrides": hardware_overrides(hardware)},
            trace={"name": trace_name, "sha256": trace_sha256, "model": trace.header.model,
                   "policy": trace_policy, "iterations": trace.iterations,
                   "layers": trace.n_layers, "phases": len(trace.phase_start),
                   "dataset": trace.header.dataset, "batch_size": trace.header.batch_size,
                   "params": sum(layer.params for layer in trace.layers),
                   "format_version": trace.header.format_version,
                   "nongemm_recorded": trace.nongemm_recorded},
            policies=policies, trace_policy=trace_policy, baseline=baseline,
            comparison=comparison, options=options, area_mm2=area_mm2 or {},
            comparisons=comparisons)

    def to_dict(self) -> dict:
        """The run JSON object."""
        return {"schema_version": RESULT_SCHEMA_VERSION, "producer": f"rctsim {__version__}",
                "hardware": self.hardware, "area_mm2": self.area_mm2, "trace": self.trace,
                "options": self.options,
                "policies": {k: v.to_dict() for k, v in self.policies.items()},
                "comparison": self.comparison, "comparisons": self.comparisons}

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text; written atomically to `path` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False, allow_nan=False)
        if path is not None:
            write_atomic(path, text)
        return text

    def to_dataframe(self):
        """Per-layer, per-op ledger rows of every policy as a pandas DataFrame (the CSV's
        columns: policy, layer, op, component, action, tensor, bits, quantity, energy_pj).

        Needs pandas: `pip install 'rctsim[pandas]'`."""
        pd = require_pandas("Result.to_dataframe()")
        return pd.DataFrame(
            [(label, r.layer, r.op, r.component, r.action, r.tensor, r.bits, r.quantity,
              r.energy_pj) for label, pr in self.policies.items() for r in pr.rows],
            columns=LEDGER_COLUMNS)

    def __repr__(self) -> str:
        total = ", ".join(f"{k} {v.energy_pj['total'] * 1e-12:.3g} J"
                          for k, v in self.policies.items())
        return (f"Result({self.trace['model']} ({self.trace['name']}) on "
                f"{self.hardware.get('label', self.hardware['name'])}, "
                f"{self.trace['iterations']} iterations; total energy: {total})")

    def _repr_html_(self) -> str:
        """The run summary as HTML (shown by Jupyter)."""
        from rctsim.summary import summary_html

        return summary_html(self)

    def to_csv(self, path: str | Path | None = None) -> str:
        """Per-layer, per-op ledger rows of every policy as CSV."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(LEDGER_COLUMNS)
        for label, pr in self.policies.items():
            for r in pr.rows:
                writer.writerow([label, r.layer, r.op, r.component, r.action, r.tensor, r.bits,
                                 repr(r.quantity), repr(r.energy_pj)])
            for (layer, op), values in pr.op_cycles.items():
                for action, cycles in values.items():  # timing rows: cycles, no energy
                    writer.writerow([label, layer, op, "timing", action, "-", "-",
                                     repr(float(cycles)), repr(0.0)])
        if path is not None:
            write_atomic(path, buf.getvalue())
        return buf.getvalue()
