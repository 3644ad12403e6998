"""What a run report is built from: the run JSON, and its trace and hardware found again.

The run JSON holds totals and per-phase energies; the bit heatmap and the training metrics come
from the trace. A trace is used only when its sha256 equals the one the run recorded
(`trace.sha256`); when it cannot be found or differs, the figures that need it are left out with
a visible note.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hwmodels.load import hardware_digest, load_hardware
from hwmodels.schema import HardwareSpec
from rctsim.errors import InputError
from rctsim.fileread import read_text_limited
from rctsim.result import RESULT_SCHEMA_VERSION, Result
from rctsim.trace import load_trace, trace_digest
from rctsim.trace.model import Trace

READABLE_SCHEMA_VERSIONS = (1, RESULT_SCHEMA_VERSION)
"""Run JSON versions the report reads: 1 lacks `gemm_arith`/`gemm_datapath`/`area_mm2`, which
the report does not need (docs/run-json.md)."""
MAX_RUN_JSON_BYTES = 64 * 2**20
"""Largest run JSON read (a run JSON is well under 1 MB: per-phase series are capped)."""

RUN_KEYS = ("schema_version", "hardware", "trace", "policies", "comparison")
"""Top-level keys of the run JSON the report reads."""
POLICY_KEYS = ("policy", "role", "iterations", "phases", "distinct_phases", "seconds",
               "energy_pj", "traffic_bytes", "memory_bytes", "breakdown_energy_pj", "timeline")
"""Keys of each policy summary the report reads."""


@dataclass(frozen=True)
class RunInputs:
    """A run JSON and the inputs the report could find again."""

    run: dict
    """The run JSON object (docs/run-json.md)."""
    trace: Trace | None
    """The run's trace, when found with the recorded sha256."""
    baseline_trace: Trace | None
    """The baseline's trace, for a `baseline (trace)` run when one was given."""
    hardware: HardwareSpec | None
    """The hardware description, when found with the recorded sha256."""
    notes: tuple[str, ...]
    """Why an input is missing (shown on the page)."""


def read_run_json(path: str | Path) -> dict:
    """Read and check a run JSON file (`rctsim run --json`)."""
    allowed = "a run JSON written by rctsim run --json"
    text = read_text_limited(path, limit=MAX_RUN_JSON_BYTES, allowed=allowed)
    try:
        run = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(str(path), f"line {err.lineno}", f"not JSON: {err.msg}",
                         allowed) from None
    except RecursionError:
        raise InputError(str(path), "(top level)", "JSON nested too deeply", allowed) from None
    except ValueError as err:  # an integer of more than 4300 digits
        raise InputError(str(path), "(top level)", f"not readable JSON: {err}",
                         allowed) from None
    return check_run(run, str(path))


def check_run(run: object, source: str) -> dict:
    """Raise InputError unless `run` has what the report reads; return it."""
    if not isinstance(run, dict):
        raise InputError(source, "(top level)", "not a JSON object", "a run JSON object")
    missing = [k for k in RUN_KEYS if k not in run]
    if missing:
        raise InputError(source, missing[0], "missing", f"a run JSON with {', '.join(RUN_KEYS)}")
    if run["schema_version"] not in READABLE_SCHEMA_VERSIONS:
        raise InputError(source, "schema_version", f"{run['schema_version']!r}",
                         " or ".join(str(v) for v in READABLE_SCHEMA_VERSIONS))
    if not isinstance(run["policies"], dict) or not run["policies"]:
        raise InputError(source, "policies", "empty or not an object", "one entry per policy")
    for label, summary in run["policies"].items():
        absent = [k for k in POLICY_KEYS if k not in summary]
        if absent:
            raise InputError(source, f"policies.{label}.{absent[0]}", "missing",
                             ", ".join(POLICY_KEYS))
    if run["trace"].get("policy") not in run["policies"]:
        raise InputError(source, "trace.policy", f"{run['trace'].get('policy')!r}",
                         f"a key of policies: {', '.join(run['policies'])}")
    return run


def run_dict(result: Result | dict) -> dict:
    """The run JSON object of a Result (or a run dict, checked)."""
    run = result.to_dict() if isinstance(result, Result) else result
    return check_run(run, "<run>")


def gather_inputs(run: dict, *, trace: Trace | str | Path | None = None,
                  baseline_trace: Trace | str | Path | None = None,
                  hardware: HardwareSpec | str | Path | None = None,
                  search_dir: Path | None = None) -> RunInputs:
    """Find the run's trace, baseline trace and hardware; explicit ones must match the run."""
    notes: list[str] = []
    found_trace = _run_trace(run, trace, search_dir, notes)
    found_base = _baseline_trace(run, baseline_trace, notes)
    found_hw = _hardware(run, hardware, notes)
    return RunInputs(run=run, trace=found_trace, baseline_trace=found_base, hardware=found_hw,
                     notes=tuple(notes))


def _run_trace(run: dict, given, search_dir: Path | None, notes: list[str]) -> Trace | None:
    recorded = run["trace"]
    if given is not None:
        tr = given if isinstance(given, Trace) else load_trace(given)
        if trace_digest(tr) != recorded["sha256"]:
            raise InputError(str(given), "sha256", "differs from the run's trace.sha256",
                             f"the trace the run was made from ({recorded['name']})")
        return tr
    name = str(recorded["name"])
    candidates = [name] + ([str(search_dir / name)] if search_dir is not None else [])
    for candidate in candidates:
        try:
            tr = load_trace(candidate)
        except InputError:
            continue
        if trace_digest(tr) == recorded["sha256"]:
            return tr
        notes.append(f"Trace {candidate} differs from the one the run was made from (sha256): "
                     "bit heatmap and energy-to-accuracy figures left out.")
        return None
    notes.append(f"Trace {name} not found (give it with --trace): bit heatmap and "
                 "energy-to-accuracy figures left out.")
    return None


def _baseline_trace(run: dict, given, notes: list[str]) -> Trace | None:
    label = run["comparison"].get("baseline")
    if not label or run["policies"][label]["role"] != "baseline (trace)":
        return None
    if given is None:
        notes.append(f"The baseline {label} is a real trace whose file the run JSON does not "
                     "name (give it with --baseline-trace): its accuracy curve is left out.")
        return None
    tr = given if isinstance(given, Trace) else load_trace(given)
    base = run["policies"][label]
    if (tr.header.policy.name, tr.iterations) != (base["policy"], base["iterations"]):
        raise InputError(str(given), "header", f"policy {tr.header.policy.name}, "
                         f"{tr.iterations} iterations",
                         f"the baseline's policy {base['policy']}, {base['iterations']} iterations")
    return tr


def _hardware(run: dict, given, notes: list[str]) -> HardwareSpec | None:
    recorded = run["hardware"]
    if given is not None:
        spec = given if isinstance(given, HardwareSpec) else load_hardware(given)
        if hardware_digest(spec) != recorded["sha256"]:
            raise InputError(str(given), "sha256", "differs from the run's hardware.sha256",
                             f"the hardware the run was made on ({recorded['name']})")
        return spec
    if isinstance(recorded.get("spec"), dict):
        try:
            spec = HardwareSpec.model_validate(recorded["spec"])
        except ValueError:
            spec = None
        if spec is not None and hardware_digest(spec) == recorded["sha256"]:
            return spec
    try:
        spec = load_hardware(recorded["name"])
    except InputError:
        notes.append(f"Hardware {recorded['name']} is not a bundled preset (give it with --hw): "
                     "its details and the global-buffer line are left out.")
        return None
    if hardware_digest(spec) != recorded["sha256"]:
        notes.append(f"The bundled preset {recorded['name']} differs from the run's hardware "
                     "(sha256): its details and the global-buffer line are left out.")
        return None
    return spec
