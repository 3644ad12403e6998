"""Command-line axes (`--sram-kb 64,128`, `--axis NAME=VALUES`, ...) written over a config."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from hwmodels.validation import load_yaml
from rctsim.errors import InputError, did_you_mean
from rctsim.sweep.hardware import (
    FIELD_ROOTS,
    HARDWARE_AXES,
    HW_AXIS,
    hardware_axis_names,
    is_hardware_axis,
)
from rctsim.sweep.policies import TRAIN_AXES

FLAG_AXES: dict[str, str] = {
    "sram_kb": "--sram-kb", "array": "--array", "dataflow": "--dataflow",
    "dram_gb_per_s": "--dram-gb-per-s", "precision_mode": "--precision-mode",
    "energy_table": "--energy-table", "policy": "--policy",
}
"""Axes with their own flag."""

MAX_FLAG_CHARS = 100_000
"""Longest value of an axis flag (a list of values on the command line)."""


def parse_values(flag: str, text: str) -> Any:
    """`64,128` -> [64, 128]; `{start: 32, stop: 512, factor: 2}` (YAML flow) -> a range."""
    text = text.strip()
    if len(text) > MAX_FLAG_CHARS:
        raise InputError("command line", flag, f"a value of {len(text):,} characters",
                         f"at most {MAX_FLAG_CHARS:,} characters; list many values in a "
                         "sweep file, or use a range")
    try:
        if text.startswith(("{", "[")):
            return load_yaml(text)
        return [load_yaml(item.strip()) for item in text.split(",") if item.strip()]
    except RecursionError:
        raise InputError("command line", flag, "nested too deeply", "V1,V2,... or a flat "
                         "YAML mapping") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise InputError("command line", flag, f"a value cannot be read: {err}",
                         "numbers of ordinary size") from None
    except yaml.YAMLError as err:
        raise InputError("command line", flag, f"{text!r} is not a list or YAML mapping: "
                         f"{getattr(err, 'problem', err)}", "V1,V2,... or {start: A, stop: B, "
                         "num: N}") from None


def policy_axis_names() -> list[str]:
    """Trainer settings and every policy parameter of the bundled trainer."""
    from rctsim.train.policies import POLICIES

    params = sorted({k for entry in POLICIES.values() for k in entry.params.model_fields})
    return [*TRAIN_AXES, *params]


def split_axis(text: str) -> tuple[str, Any]:
    """`NAME=VALUES` of `--axis`."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InputError("command line", "--axis", f"{text!r} is not NAME=VALUES",
                         "e.g. --axis t_low=0.01,0.02")
    return name, parse_values(f"--axis {name}", values)


def _section(source: str, out: dict[str, Any], name: str) -> dict[str, Any]:
    section = out.setdefault(name, {})
    if not isinstance(section, dict):
        raise InputError(source, name, "expected a mapping of keys", "see docs/sweeps.md")
    return section


def overlay(source: str, data: dict[str, Any], *, axes: dict[str, Any],
            traces: list[str] | None = None,
            hw: str | None = None, model: str | None = None, sample: int | None = None,
            seed: int | None = None, objectives: list[str] | None = None,
            baseline: str | None = None) -> dict[str, Any]:
    """A copy of the config mapping with the command line's values written over it."""
    out = copy.deepcopy(data)
    for name, values in axes.items():
        if is_hardware_axis(name):
            _section(source, _section(source, out, "hardware"), "axes")[name] = values
        elif name in policy_axis_names():
            _section(source, _section(source, out, "policies"), "axes")[name] = values
        else:
            raise InputError("command line", "--axis", f"unknown axis {name!r}" + did_you_mean(
                name, [*hardware_axis_names(), *policy_axis_names()]), ", ".join(
                [*HARDWARE_AXES, HW_AXIS, *(f"{r}.FIELD" for r in FIELD_ROOTS),
                 *policy_axis_names()]))
    for key, value in (("base", hw), ("sample", sample)):
        if value is not None:
            _section(source, out, "hardware")[key] = value
    if traces:
        _section(source, out, "policies")["traces"] = list(traces)
    if model is not None:
        _section(source, _section(source, out, "policies"), "train")["model"] = model
    if seed is not None:
        out["seed"] = seed
    if objectives:
        out["objectives"] = list(objectives)
    if baseline is not None:
        _section(source, out, "simulation")["baseline"] = baseline
    return out
