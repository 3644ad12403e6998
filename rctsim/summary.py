"""The run summary's content, shared by the terminal (`rctsim run`) and notebooks
(`Result._repr_html_`): what was simulated, and the rows, each part indented under its whole.

Adding a line under a whole is one call, e.g. `ENERGY.add("non-GEMM work", ("energy_pj",
"nongemm"))`; a value missing from a result shows as `n/a`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING

from hwmodels.compute import gemm_unit
from hwmodels.schema import HardwareSpec
from hwmodels.summary import hardware_line
from rctsim.display import cut
from rctsim.errors import InputError
from rctsim.result import NONGEMM_MISSING
from rctsim.units import count, duration, percent, quantity

if TYPE_CHECKING:
    from rctsim.result import PolicyResult, Result


@dataclass
class Line:
    """One row of the run summary; `parts` are indented under it (each a part of this whole)."""

    label: str
    path: tuple[str, ...]
    """Where the value is read from a PolicyResult: attribute, then key."""
    kind: str = "energy"
    """energy | bytes | count | time: how the value is written."""
    per_iteration: bool = True
    """Whether the total divided by the iterations means something (not for peaks)."""
    parts: list[Line] = field(default_factory=list)
    parts_from: tuple[str, ...] = ()
    """A path to a dict whose keys become further parts, read from the results shown (e.g. the
    non-GEMM energy by kind)."""

    def add(self, label: str, path: tuple[str, ...], kind: str | None = None,
            per_iteration: bool | None = None) -> Line:
        """Add a part under this line (one call per new summary line); returns it."""
        line = Line(label, path, kind or self.kind,
                    self.per_iteration if per_iteration is None else per_iteration)
        self.parts.append(line)
        return line

    def walk(self, depth: int = 0, results: tuple[PolicyResult, ...] = ()):
        """(depth, line) for this line's parts, depth first; `results` fill `parts_from`."""
        for part in self.parts:
            yield depth, part
            yield from part.walk(depth + 1, results)
        if self.parts_from:
            keys = dict.fromkeys(k for pr in results
                                 for k in (_lookup(pr, self.parts_from) or {}))
            for key in keys:
                yield depth, Line(key, (*self.parts_from, key), self.kind, self.per_iteration)


SUMMARY = Line("", ())
"""The summary's rows. Add a line under a whole with `ENERGY.add(label, path)`."""
MACS = SUMMARY.add("MACs", ("macs", "total"), "count")
ENERGY = SUMMARY.add("Energy", ("energy_pj", "total"))
MAC_ENERGY = ENERGY.add("arithmetic", ("energy_pj", "mac"))
GEMM_ENERGY = MAC_ENERGY.add("GEMMs", ("energy_pj", "gemm_arith"))
NON_GEMM_ENERGY = MAC_ENERGY.add("non-GEMM + optimiser", ("energy_pj", "non_gemm", "total"))
NON_GEMM_ENERGY.parts_from = ("energy_pj", "non_gemm", "parts")
SRAM_ENERGY = ENERGY.add("SRAM", ("energy_pj", "sram"))
DRAM_ENERGY = ENERGY.add("DRAM", ("energy_pj", "dram"))
LEAKAGE_ENERGY = ENERGY.add("leakage", ("energy_pj", "leakage"))
PARAM_ENERGY = ENERGY.add("params' SRAM + DRAM", ("energy_pj", "param_movement"))
GEMM_DATAPATH = SUMMARY.add("GEMM datapath energy", ("energy_pj", "gemm_datapath"))
DRAM_TRAFFIC = SUMMARY.add("DRAM traffic", ("traffic_bytes", "dram_total"), "bytes")
DRAM_TRAFFIC.add("parameters", ("traffic_bytes", "param_dram"))
MEMORY = SUMMARY.add("Peak memory", ("memory_bytes", "peak_total"), "bytes", per_iteration=False)
MEMORY.add("on chip", ("memory_bytes", "peak_on_chip"))
MEMORY.add("parameters (all copies)", ("memory_bytes", "param_total"))
MEMORY.add("optimiser state", ("memory_bytes", "optimizer"))
MEMORY.add("params + optimiser state", ("memory_bytes", "params_with_optimizer"))
CYCLES = SUMMARY.add("Cycles", ("cycles", "total"), "count")
CYCLES.add("compute", ("cycles", "compute"))
STALL = CYCLES.add("stalled on memory", ("cycles", "stall"))
STALL.add("DRAM bandwidth", ("cycles", "stall_dram_bandwidth"))
STALL.add("global-buffer bandwidth", ("cycles", "stall_sram_bandwidth"))
STALL.add("DRAM latency", ("cycles", "stall_dram_latency"))
TIME = SUMMARY.add("Time", ("seconds",), "time")

SAVING_NAMES = {
    "gemm_energy": "GEMM energy", "gemm_arith_energy": "GEMM energy (MAC arithmetic)",
    "gemm_datapath_energy": "GEMM energy (datapath)", "param_memory": "parameter memory",
    "param_memory_with_optimizer": "param + optimiser memory",
    "param_movement_energy": "parameter movement energy", "dram_traffic": "DRAM traffic",
    "total_energy": "total energy", "latency": "time",
}
"""Readable names of the comparison's savings (keys of `comparison.savings`)."""

ROLE_LABELS = {"trace": "trace", "baseline (counterfactual)": "counterfactual baseline",
               "baseline (trace)": "recorded baseline"}
"""How a policy's role (`PolicyResult.role`) reads in reports and notebooks."""
ROLE_TAGS = {"trace": "trace", "baseline (counterfactual)": "baseline",
             "baseline (trace)": "recorded"}
"""The role in a terminal column header, short (the lines above the table say more)."""


def role_label(role: str) -> str:
    """`baseline (counterfactual)` -> `counterfactual baseline`; an unknown role unchanged."""
    return ROLE_LABELS.get(role, role)


def role_tag(role: str) -> str:
    """The role in a few letters for a terminal column header."""
    return ROLE_TAGS.get(role, role)

BASELINE_ASSUMPTION = {
    "qat": "QAT on the trace's layers at its default bits: 8-bit forward, fp32 backward GEMMs "
           "(the papers' assumption; a low-precision backward would save less), fp32 master "
           "copy beside the 8-bit one",
    "qat-fp16": "QAT with an fp16 backward: 8-bit forward, fp16 x fp16 dgrad/wgrad with fp32 "
                "accumulation, fp32 master copy beside the 8-bit one",
    "qat-bf16": "QAT with a bf16 backward: 8-bit forward, bf16 x bf16 dgrad/wgrad with fp32 "
                "accumulation, fp32 master copy beside the 8-bit one",
    "qat-int8g": "QAT with 8-bit gradients: every GEMM int8 x int8 into 32 bits, fp32 master copy",
    "fp32": "fp32 training on the trace's layers: every GEMM and the one weight copy in fp32",
    "mixed-fp16": "mixed-precision training: every GEMM fp16 x fp16 with fp32 accumulation, the "
                  "fp16 working copy beside the fp32 master",
    "mixed-bf16": "mixed-precision training: every GEMM bf16 x bf16 with fp32 accumulation, the "
                  "bf16 working copy beside the fp32 master",
}
"""What each counterfactual baseline assumes (docs/concepts.md, Baselines)."""


def _lookup(pr: PolicyResult, path: tuple[str, ...]):
    value = getattr(pr, path[0], None)
    for key in path[1:]:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def shown_savings(savings: dict[str, float]) -> dict[str, float]:
    """The savings a person reads: `gemm_energy` (kept in the JSON for version 1) is the same
    number as `gemm_arith_energy`, so it is shown once."""
    return {k: v for k, v in savings.items()
            if not (k == "gemm_energy" and "gemm_arith_energy" in savings)}


def value_at(pr: PolicyResult, path: tuple[str, ...]) -> float | None:
    """The value at `path` (attribute, then keys) in a policy summary, None when the result
    lacks it; a part missing from one policy's dict is 0 when the dict exists."""
    value = _lookup(pr, path)
    if value is None and len(path) > 2 and isinstance(_lookup(pr, path[:-1]), dict):
        return 0.0
    return None if value is None or isinstance(value, dict) else float(value)


def format_value(value: float | None, kind: str) -> str:
    """A summary value as text: energies in J, bytes and counts with SI prefixes, times in
    s/min/h; None as `n/a`."""
    if value is None:
        return "n/a"
    if kind == "time":
        return duration(value)
    if kind == "count":
        return count(value)
    return quantity(value, "pJ" if kind == "energy" else "B")


def baseline_note(result: Result, c: dict | None = None) -> str | None:
    """One line naming a baseline (default the first) and what it assumes."""
    c = c if c is not None else result.comparison
    if not c:
        return None
    if c["baseline_role"] == "baseline (trace)":
        trace = (c.get("baseline_trace") or {}).get("name", "another trace")
        return f"{c['baseline']}: a recorded {c['baseline']} run ({trace})"
    name = c["baseline"].removesuffix("_baseline")
    note = BASELINE_ASSUMPTION.get(name.split(":", 1)[0], "")
    dgrad = result.options.get("qat_dgrad_weights")
    if name == "qat" and dgrad:
        note += f"; dgrad reads the {dgrad} weights"
    note += _wider_unit_note(result, name.split(":", 1)[0])
    return (f"{c['baseline']} (counterfactual baseline: nothing retrained, the same iterations "
            f"priced under {c['baseline']}): {note}")


def _wider_unit_note(result: Result, name: str) -> str:
    """For a half-precision baseline on hardware with no unit for its format: the unit and the
    wider format its GEMMs run at instead, as the replay chooses them (hwmodels.compute)."""
    fmt = name.rsplit("-", 1)[-1]
    spec = result.hardware.get("spec")
    if fmt not in ("fp16", "bf16") or not spec:
        return ""
    try:
        unit = gemm_unit(HardwareSpec.model_validate(spec), fmt, what=name)
    except InputError:  # no unit at all: the run itself would have said so
        return ""
    if unit.fmt == fmt:
        return ""
    return (f"; this hardware has no {fmt} unit, so those GEMMs run at {unit.fmt} on "
            f"{unit.name} and are priced at {unit.fmt}")


def summary_header(result: Result) -> list[str]:
    """What was simulated, on what, against what: the lines above the summary table."""
    t, hw = result.trace, result.hardware
    dataset = t.get("dataset")
    what = cut(t['model']) + (f" on {cut(dataset)}" if dataset and dataset != "none" else "")
    facts = [f"{t['params']:,} parameters" if "params" in t else None,
             f"batch {t['batch_size']}" if "batch_size" in t else None,
             f"{t['layers']} layers"]
    lines = [f"Simulated  {what} ({', '.join(f for f in facts if f)}), "
             f"{t['iterations']:,} iterations of {t['policy']} training "
             f"(trace {cut(t['name'])}, {t['phases']} phase{'' if t['phases'] == 1 else 's'} "
             "of constant bits)"]
    label = cut(hw.get("label", hw["name"]))
    spec = hw.get("spec")
    line = hardware_line(HardwareSpec.model_validate(spec)) if spec else "(details not recorded)"
    lines.append(f"Hardware   {label}: {line}")
    area = getattr(result, "area_mm2", None)
    if area:
        parts = ", ".join(f"{k} {v:.3g}" for k, v in area["parts"].items())
        lines.append(f"Chip area  {area['total']:.4g} mm² ({parts})")
    for c in (getattr(result, "comparisons", None) or {"": result.comparison}).values():
        note = baseline_note(result, c)
        if note:
            lines.append(f"Baseline   {note}")
    if not t.get("nongemm_recorded", True):
        lines.append(f"Note       {NONGEMM_MISSING}")
    lines.append(f"Totals are over all {t['iterations']:,} iterations; 'per iteration' divides "
                 "them by that count. Indented rows are parts of the row above them.")
    return lines


def summary_rows(result: Result) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """(depth, label, per policy (total, per iteration)) of every summary row, as text; the
    per-iteration cell is empty where it means nothing (peaks)."""
    rows = []
    for depth, line in SUMMARY.walk(results=tuple(result.policies.values())):
        cells = []
        for pr in result.policies.values():
            value = value_at(pr, line.path)
            each = value / pr.iterations if value is not None and line.per_iteration else None
            cells.append((format_value(value, line.kind),
                          format_value(each, line.kind) if line.per_iteration else ""))
        rows.append((depth, line.label, cells))
    return rows


def summary_html(result: Result) -> str:
    """The summary as an HTML fragment (a notebook's view of a Result)."""
    head = "".join(f"<p style='margin:2px 0'>{escape(line)}</p>"
                   for line in summary_header(result))
    cols = "".join(f"<th>{escape(label)} ({escape(role_label(pr.role))})</th><th>per iteration</th>"
                   for label, pr in result.policies.items())
    body = []
    for depth, label, cells in summary_rows(result):
        tds = "".join(f"<td style='text-align:right'>{total}</td>"
                      f"<td style='text-align:right;color:#666'>{each}</td>"
                      for total, each in cells)
        body.append(f"<tr><td style='text-align:left;padding-left:{0.3 + 1.2 * depth}em'>"
                    f"{escape(label)}</td>{tds}</tr>")
    savings = ""
    for c in (getattr(result, "comparisons", None) or {"": result.comparison}).values():
        if not c:
            continue
        items = ", ".join(f"{escape(SAVING_NAMES.get(k, k))} {percent(v)}"
                          for k, v in shown_savings(c["savings"]).items())
        savings += (f"<p><b>Savings of {escape(c['policy'])} against "
                    f"{escape(c['baseline'])}:</b> {items}</p>")
    return (f"<div class='rctsim-result'>{head}<table><thead><tr><th>metric</th>{cols}</tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table>{savings}</div>")
