"""A sweep plan: the validated hardware and policy points of a config, before any work.

`plan_sweep` reads and checks everything a sweep needs (axes, hardware variants, traces given,
trainer settings, objectives) so a bad config fails with one line before training or simulating.
Once every policy point has its trace, `sweep_points` crosses them into keyed points.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rctsim import __version__
from rctsim.errors import InputError
from rctsim.replay import SimOptions
from rctsim.sweep.config import AreaModel, SweepConfig
from rctsim.sweep.hardware import HardwarePoint, hardware_count, hardware_points
from rctsim.sweep.metrics import trace_facts
from rctsim.sweep.pareto import Objective, parse_objective
from rctsim.sweep.policies import PolicyPoint, given_points, policy_count, trained_points
from rctsim.sweep.values import check_points
from rctsim.trace.io import read_trace, trace_digest


@dataclass(frozen=True)
class SweepPlan:
    """Everything a sweep will compute, validated."""

    name: str
    source: str
    """The config file (or `command line`), for messages."""
    hardware: tuple[HardwarePoint, ...]
    policies: tuple[PolicyPoint, ...]
    options: SimOptions
    """Simulation options of every point (timeline off)."""
    baseline: str | None
    objectives: tuple[Objective, ...]
    area: AreaModel
    axes: tuple[str, ...]
    """Axis names, hardware first, in config order (the table's parameter columns)."""


@dataclass(frozen=True)
class TraceInfo:
    """A policy point's trace: where it is, its digest and what the table shows of it."""

    path: Path
    sha256: str
    name: str
    model: str
    policy: str
    iterations: int
    policy_params: dict[str, Any]
    facts: dict[str, float | None]
    """`accuracy`, `mean_w_bits`."""


@dataclass(frozen=True)
class Point:
    """One hardware point with one policy point and its trace, keyed."""

    index: int
    """Position in the plan (hardware-major)."""
    key: str
    hardware: HardwarePoint
    policy: PolicyPoint
    trace: TraceInfo


def plan_sweep(config: SweepConfig, *, source: str, base_dir: Path) -> SweepPlan:
    """Validate a config into a plan; InputError (one line) on the first problem."""
    hw_seed, policy_seed = np.random.SeedSequence(config.seed).spawn(2)
    objectives = tuple(parse_objective(source, f"objectives[{i}]", text)
                       for i, text in enumerate(config.objectives))
    if not objectives:
        raise InputError(source, "objectives", "no objective given", "one or more")
    check_points(source, "hardware x policies", hardware_count(source, config.hardware)
                 * max(policy_count(source, config.policies), 1), "the sweep")
    hardware = hardware_points(source, config.hardware, base_dir=base_dir,
                               rng=np.random.default_rng(hw_seed))
    policies = (*given_points(source, config.policies, base_dir),
                *trained_points(source, config.policies,
                                rng=np.random.default_rng(policy_seed)))
    if not policies:
        raise InputError(source, "policies", "no trace given and nothing to train",
                         "policies.traces, or policies.train / policies.axes")
    baseline = None if config.simulation.baseline == "none" else config.simulation.baseline
    axes = (*config.hardware.axes, *config.policies.axes)
    return SweepPlan(name=config.name, source=source, hardware=hardware, policies=policies,
                     options=SimOptions(workspace_fraction=config.simulation.workspace_fraction,
                                        keep_timeline=False, split_stalls=False),
                     baseline=baseline, objectives=objectives, area=config.area, axes=axes)


def trace_info(path: Path, label: str) -> TraceInfo:
    """Read a trace once: digest, header facts, accuracy and mean bits."""
    trace = read_trace(path)
    header = trace.header
    return TraceInfo(path=path, sha256=trace_digest(trace), name=label, model=header.model,
                     policy=header.policy.name, iterations=trace.iterations,
                     policy_params=dict(header.policy.params), facts=trace_facts(trace))


def point_key(plan: SweepPlan, hardware: HardwarePoint, trace: TraceInfo,
              policy: PolicyPoint) -> str:
    """sha256 of what a point's result depends on: hardware, trace, policy, options, version."""
    payload = {"hardware": hardware.digest, "trace": trace.sha256, "train": policy.train,
               "options": plan.options.model_dump(mode="json"), "baseline": plan.baseline,
               "rctsim": __version__}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sweep_points(plan: SweepPlan, traces: list[TraceInfo]) -> list[Point]:
    """Hardware x policy points (one per distinct key), hardware-major."""
    seen: set[str] = set()
    points = []
    for hardware in plan.hardware:
        for policy, trace in zip(plan.policies, traces, strict=True):
            key = point_key(plan, hardware, trace, policy)
            if key not in seen:
                seen.add(key)
                points.append(Point(len(points), key, hardware, policy, trace))
    return points


def check_objectives(plan: SweepPlan, traces: list[TraceInfo | None]) -> None:
    """An accuracy objective needs an accuracy in every trace (None: not known yet)."""
    for objective in plan.objectives:
        if objective.column != "accuracy":
            continue
        for policy, trace in zip(plan.policies, traces, strict=True):
            if trace is not None and trace.facts["accuracy"] is None:
                raise InputError(plan.source, "objectives", f"{objective.name} needs an "
                                 f"accuracy, and trace {policy.label!r} records no eval_acc",
                                 "traces from a training run (rctsim train), or another "
                                 "objective")
