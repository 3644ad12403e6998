"""Sensitivity analysis: every headline saving as each modelling assumption is varied alone.

`sensitivity(hw, trace, baseline="qat")` runs the default (the inputs as given) and then, for
each assumption of `rctsim.sensitivity_assumptions` and each setting in its range, the same
comparison with that one input changed. Policy runs are memoised by what they depend on (the
hardware description, the options and, for the baseline, its name and parameters): a setting
that changes only the baseline reuses the trace's run, a setting equal to the default reuses
the default run, and within a run each distinct phase is simulated once (rctsim.replay).
The result is a plain dict (`SCHEMA`, docs/sensitivity.md), written as JSON or CSV.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hwmodels.schema import HardwareSpec
from rctsim import __version__
from rctsim.atomic import write_atomic
from rctsim.baselines import is_baseline_name, parse_baseline, split_baselines
from rctsim.errors import InputError
from rctsim.replay import Machine, SimOptions, build_machine, counterfactual, simulate_policy
from rctsim.result import COMPARED, PolicyResult, saving
from rctsim.sensitivity_assumptions import ASSUMPTIONS, BY_NAME, Context, Variant, _variant_label
from rctsim.trace import load_trace
from rctsim.trace.model import Trace

SCHEMA = "rctsim-sensitivity/1"
"""Identifies the sensitivity JSON (docs/sensitivity.md)."""

SOURCE = "sensitivity"
"""What sensitivity input errors name as their source: the same words whether the input came
from `rctsim sensitivity` or from the Python API (`rctsim.sensitivity`)."""

METRICS: tuple[str, ...] = tuple(name for name, _ in COMPARED)
"""The savings reported at every setting: the run JSON's comparison metrics."""

CSV_COLUMNS = ("assumption", "setting", "metric", "value", "is_default")
"""Columns of the sensitivity CSV (one row per assumption, setting and metric)."""

Progress = Callable[[str, int, int], None]
"""progress(label, done, total): called after each setting."""


def _read(summary: PolicyResult, path: tuple[str, ...]) -> float:
    value = getattr(summary, path[0])
    return float(value[path[1]]) if len(path) > 1 else float(value)


def savings(ours: PolicyResult, base: PolicyResult) -> dict[str, float | None]:
    """The comparison's savings of `ours` against `base` (as Result.build computes them)."""
    return {name: saving(_read(ours, p), _read(base, p)) for name, p in COMPARED}


class _Runs:
    """Memoised policy runs of one trace: by hardware, options and (baseline) label."""

    def __init__(self, trace: Trace, trace_name: str):
        self.trace, self.trace_name = trace, trace_name
        self.machines: dict[str, Machine] = {}
        self.results: dict[tuple, PolicyResult] = {}
        self.simulated = 0

    def machine(self, hw: HardwareSpec) -> tuple[str, Machine]:
        key = hw.model_dump_json()
        if key not in self.machines:
            self.machines[key] = build_machine(hw)
        return key, self.machines[key]

    def _options_key(self, options: SimOptions, *, qat: bool) -> str:
        if not qat:  # the option only acts on layers with a QAT dgrad (rctsim.ops.layer_ops)
            options = options.model_copy(update={"qat_dgrad_weights": "quantised"})
        return options.model_dump_json()

    def trace_run(self, v: Variant) -> PolicyResult:
        hw_key, machine = self.machine(v.hw)
        own = self.trace.header.policy.name
        key = ("trace", hw_key, self._options_key(v.options, qat=own == "qat"))
        if key not in self.results:
            self.simulated += 1
            self.results[key] = simulate_policy(machine, self.trace, role="trace",
                                                options=v.options, source=self.trace_name)
        return self.results[key]

    def baseline_run(self, v: Variant) -> PolicyResult:
        hw_key, machine = self.machine(v.hw)
        spec = parse_baseline(v.baseline)
        own = self.trace.header.policy.name
        label = f"{spec.label}_baseline" if spec.label == own else spec.label
        key = ("baseline", hw_key, self._options_key(v.options, qat=spec.policy == "qat"),
               spec)
        if key not in self.results:
            self.simulated += 1
            try:
                self.results[key] = simulate_policy(
                    machine, counterfactual(self.trace, spec),
                    role="baseline (counterfactual)", options=v.options, source=v.baseline,
                    baseline=spec, label=label)
            except InputError as err:
                raise InputError(err.source, err.field, f"the {label} baseline: {err.problem}",
                                 err.allowed) from None
        return self.results[key]

    def savings(self, v: Variant) -> dict[str, float | None]:
        return savings(self.trace_run(v), self.baseline_run(v))


def _choose(assumptions: Sequence[str] | Mapping[str, Sequence[str]] | None
            ) -> list[tuple[str, list[str] | None]]:
    """[(name, settings or None for the documented range)]; InputError for an unknown name."""
    if assumptions is None:
        return [(a.name, None) for a in ASSUMPTIONS]
    if isinstance(assumptions, str):
        assumptions = [assumptions]
    items = (list(assumptions.items()) if isinstance(assumptions, Mapping)
             else [(name, None) for name in assumptions])
    out = []
    for name, settings in items:
        if name not in BY_NAME:
            raise InputError(SOURCE, "assumption", f"unknown assumption {name!r}",
                             ", ".join(BY_NAME))
        if settings is not None:
            settings = [str(s).strip() for s in settings]
            if not settings or any(not s for s in settings):
                raise InputError(SOURCE, "assumption", f"{name}: empty setting",
                                 f"{name}=SETTING[,SETTING...] with {BY_NAME[name].allowed}")
        out.append((name, settings))
    return out


def parse_assumption_args(items: Sequence[str]) -> dict[str, list[str] | None]:
    """`NAME` or `NAME=S1,S2` command-line items -> {name: settings or None}."""
    out: dict[str, list[str] | None] = {}
    for item in items:
        name, eq, rest = (s.strip() for s in item.partition("="))
        out[name] = rest.split(",") if eq else None
    return out


@dataclass
class Plan:
    """Every input of a sensitivity run, checked and loaded (`plan`); `execute` runs it."""

    runs: _Runs
    """The memoised policy runs of the trace."""
    ctx: Context
    """The default inputs the assumptions vary from."""
    base_label: str
    """The baseline as results name it."""
    steps: list[tuple]
    """(assumption, its default setting, its settings, {setting: Variant or None}) in order."""

    @property
    def total(self) -> int:
        """The settings to report (the count progress reaches; the default run is not one)."""
        return sum(len(step[2]) for step in self.steps)


def plan(hw: HardwareSpec | str | Path, trace: Trace | str | Path, baseline: str = "qat",
         assumptions=None, *, options: SimOptions | None = None) -> Plan:
    """Check and load every input of `sensitivity` (InputError for the first bad one) before
    anything is simulated, so a caller can refuse bad input before showing progress."""
    options = options or SimOptions()
    chosen = _choose(assumptions)
    if not isinstance(baseline, str) \
            or len(split_baselines(baseline, "baseline", file=SOURCE)) != 1 \
            or not is_baseline_name(baseline):
        raise InputError(SOURCE, "baseline", f"{baseline!r}",
                         "one named baseline (qat, qat-fp16, qat-bf16, qat-int8g, fp32, "
                         "mixed-fp16, mixed-bf16, name:key=value)")
    spec = parse_baseline(baseline, "baseline", file=SOURCE)
    base_label = _variant_label(spec, spec.name)
    spec = parse_baseline(base_label, "baseline", file=SOURCE)
    tr = trace if isinstance(trace, Trace) else load_trace(trace)
    trace_name = tr.header.model if isinstance(trace, Trace) else str(trace)
    runs = _Runs(tr, trace_name)
    _, machine = runs.machine(hw if isinstance(hw, HardwareSpec) else machine_spec(hw))
    ctx = Context(hw=machine.spec, options=options, baseline=spec,
                  sram_pj_per_byte={name: (m.read_pj_per_byte, m.write_pj_per_byte)
                                    for name, m in machine.costs.sram.items()},
                  dram_bandwidth_bytes_per_s=machine.costs.dram.bandwidth_bytes_per_s,
                  dram_latency_s=getattr(machine.costs.dram, "latency_s", 0.0))
    steps = []
    for name, settings in chosen:
        a = BY_NAME[name]
        default = a.default(ctx)
        settings = list(dict.fromkeys(settings if settings is not None else a.settings(ctx)))
        variants = {s: (None if s == default else a.apply(ctx, s)) for s in settings}
        steps.append((a, default, settings, variants))  # every setting checked before any run
    return Plan(runs, ctx, base_label, steps)


def execute(p: Plan, progress: Progress | None = None) -> dict:
    """Run a checked plan: the default, then every setting (progress after each, counting
    settings: `done` goes 0 after the default run, then 1 .. `p.total`)."""
    runs, options = p.runs, p.ctx.options
    total = p.total
    default_values = runs.savings(Variant(p.ctx.hw, options, p.base_label))
    if progress is not None:
        progress("default", 0, total)
    rows, described, done = [], [], 0
    for a, default, settings, variants in p.steps:
        for setting in settings:
            variant = variants[setting]
            values = default_values if variant is None else runs.savings(variant)
            for metric in METRICS:
                rows.append({"assumption": a.name, "setting": setting, "metric": metric,
                             "value": values[metric], "is_default": setting == default})
            done += 1
            if progress is not None:
                progress(f"{a.name}={setting}", done, total)
        described.append({"name": a.name, "default": default, "settings": settings,
                          "why": a.why, "source": a.source})
    tr = runs.trace
    return {"schema": SCHEMA, "producer": f"rctsim {__version__}", "hw": p.ctx.hw.name,
            "trace": runs.trace_name, "policy": tr.header.policy.name,
            "baseline": p.base_label, "options": options.model_dump(),
            "metrics": list(METRICS), "default": default_values, "assumptions": described,
            "rows": rows, "policy_runs": runs.simulated}


def sensitivity(hw: HardwareSpec | str | Path, trace: Trace | str | Path,
                baseline: str = "qat", assumptions=None, *,
                options: SimOptions | None = None,
                progress: Progress | None = None) -> dict:
    """Every headline saving of the trace's policy against `baseline` at the default inputs and
    with each assumption set to each setting of its range, the others left at their defaults.

    `assumptions`: None (all, ASSUMPTIONS), a list of names, or {name: [settings]} to choose
    the settings (None: the documented range). `options`: the run's SimOptions (the defaults
    the assumptions vary from). `progress(label, done, total)`: after the default run (done 0)
    and after each setting; `total` is the number of settings. Returns the sensitivity dict
    (SCHEMA, docs/sensitivity.md).
    """
    return execute(plan(hw, trace, baseline, assumptions, options=options), progress)


def machine_spec(hw: str | Path) -> HardwareSpec:
    """A hardware description by preset name or file."""
    from hwmodels.load import load_hardware

    return load_hardware(hw)


def to_json(sens: dict, path: str | Path | None = None) -> str:
    """The sensitivity dict as JSON text; written atomically to `path` when given."""
    text = json.dumps(sens, indent=2, allow_nan=False)
    if path is not None:
        write_atomic(path, text)
    return text


def to_csv(sens: dict, path: str | Path | None = None) -> str:
    """The rows as CSV (CSV_COLUMNS; a saving with no baseline value is empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for row in sens["rows"]:
        value = row["value"]
        writer.writerow([row["assumption"], row["setting"], row["metric"],
                         "" if value is None else repr(float(value)),
                         "true" if row["is_default"] else "false"])
    if path is not None:
        write_atomic(path, buf.getvalue())
    return buf.getvalue()


def read_sensitivity(path: str | Path) -> dict:
    """A sensitivity JSON file, checked for its schema and keys (InputError otherwise)."""
    allowed = "a sensitivity JSON written by rctsim sensitivity --json"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(str(path), "file", f"cannot be read: {err.strerror or err}",
                         allowed) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(str(path), "file", f"not JSON ({err})", allowed) from None
    if not isinstance(data, dict):
        raise InputError(str(path), "file", f"is not a sensitivity JSON (a JSON "
                         f"{type(data).__name__}, not an object)", allowed)
    if "schema" not in data:
        what = "a run JSON?" if "schema_version" in data and "policies" in data else \
            "another JSON?"
        raise InputError(str(path), "schema", f"is not a sensitivity JSON (no schema field; "
                         f"{what})", allowed)
    if data["schema"] != SCHEMA:
        raise InputError(str(path), "schema", f"{data['schema']!r} is not a sensitivity JSON",
                         SCHEMA)
    for key in ("hw", "trace", "baseline", "default", "assumptions", "rows"):
        if key not in data:
            raise InputError(str(path), key, "missing", allowed)
    return data
