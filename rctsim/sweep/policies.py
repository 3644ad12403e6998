"""Policy points: traces given as they are, and trainer settings the trainer turns into traces.

Trainer settings are validated (the trainer's own `TrainConfig` and policy parameter models)
before any work starts; a policy-parameter axis applies only to the policies that have that
parameter (`t_low` to rct, `w_q` to qat), so `policy: [rct, qat] x t_low: [a, b]` is three points.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from hwmodels.validation import validation_input_error
from rctsim.errors import InputError, did_you_mean
from rctsim.sweep.config import PolicySpace
from rctsim.sweep.values import Axis, check_conditions, grid, grid_size, read_axis, sample
from rctsim.trace.catalog import resolve_trace

TRAIN_AXES = ("policy", "model", "dataset", "seed", "epochs", "batch_size", "lr", "momentum",
              "warmup", "max_iterations")
"""Trainer settings that may be axes; policy parameters (`t_low`, `w_q`, ...) come on top."""

DEFAULT_POLICY = "rct"
"""Policy of a trained point that names none (the trainer's default)."""


@dataclass(frozen=True)
class PolicyPoint:
    """One policy point: a given trace, or trainer settings."""

    label: str
    """Shown in tables: the trace as given, or `model/policy k=v ...`."""
    params: dict[str, Any]
    """Policy axis values of this point (only the ones that apply to its policy)."""
    trace: Path | None = None
    """A given trace file."""
    train: dict[str, Any] | None = None
    """Resolved trainer settings (`TrainConfig` fields, every policy parameter filled in)."""


def given_points(source: str, space: PolicySpace, base_dir: Path) -> list[PolicyPoint]:
    """The traces used as they are."""
    points = []
    for index, ref in enumerate(space.traces):
        local = base_dir / ref
        try:
            path = local if local.is_file() else resolve_trace(ref)
        except InputError as err:
            raise InputError(source, f"policies.traces[{index}]", f"{ref!r}: {err.problem}",
                             err.allowed) from None
        points.append(PolicyPoint(label=ref, params={}, trace=path))
    return points


def _registries() -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The trainer's TrainConfig, POLICIES, MODELS and DATASETS (imported only when needed)."""
    from rctsim.train.config import TrainConfig
    from rctsim.train.datasets import DATASETS
    from rctsim.train.models import MODELS
    from rctsim.train.policies import POLICIES

    return TrainConfig, POLICIES, MODELS, DATASETS


def policy_count(source: str, space: PolicySpace) -> int:
    """At most how many policy points the space plans (computed without building any)."""
    count = len(space.traces)
    if space.train or space.axes:
        _, policies, _, _ = _registries()
        names = sorted({k for entry in policies.values() for k in entry.params.model_fields})
        axes = _read_axes(source, space, names)
        count += space.sample if space.sample is not None else grid_size(axes)
    return count


def trained_points(source: str, space: PolicySpace, *,
                   rng: np.random.Generator) -> list[PolicyPoint]:
    """The points the trainer makes (none when the config has no `train` and no `axes`)."""
    if not space.train and not space.axes:
        return []
    train_config, policies, _, _ = _registries()
    param_names = sorted({k for entry in policies.values() for k in entry.params.model_fields})
    axes = _read_axes(source, space, param_names)
    combos = (sample(axes, space.sample, rng) if space.sample is not None
              else grid(source, "policies.axes", axes))
    shared = space.train.get("policy_params") or {}
    if not isinstance(shared, dict):
        raise InputError(source, "policies.train.policy_params", "expected a mapping",
                         "parameter: value pairs")
    points: dict[str, PolicyPoint] = {}
    applied: set[str] = set()
    for combo in combos:
        point = _trained_point(source, space, combo, train_config, policies)
        applied.update(point.params)
        applied.update(k for k in shared if k in point.train["policy_params"])
        points.setdefault(json.dumps(point.train, sort_keys=True), point)
    unused = [(a.field, a.name) for a in axes] + [
        (f"policies.train.policy_params.{k}", k) for k in shared]
    for field, name in unused:
        if name not in applied:
            raise InputError(source, field, "applies to none of the policies swept",
                             "a parameter of one of them: " + ", ".join(param_names))
    return list(points.values())


def check_policy_axis(source: str, name: str, param_names: list[str]) -> None:
    """InputError naming `policies.axes.NAME` (with the closest name) unless it is a training
    axis or a policy parameter."""
    if name not in TRAIN_AXES and name not in param_names:
        choices = [*TRAIN_AXES, *param_names]
        raise InputError(source, f"policies.axes.{name}",
                         "unknown policy axis" + did_you_mean(name, choices), ", ".join(choices))


def _read_axes(source: str, space: PolicySpace, param_names: list[str]) -> list[Axis]:
    axes = []
    for name, raw in space.axes.items():
        check_policy_axis(source, name, param_names)
        axes.append(read_axis(source, f"policies.axes.{name}", name, raw,
                              sampling=space.sample is not None))
    return check_conditions(source, "policies.axes", axes)


def _trained_point(source: str, space: PolicySpace, combo: dict[str, Any], train_config: Any,
                   policies: dict[str, Any]) -> PolicyPoint:
    settings = {k: v for k, v in space.train.items() if k != "policy_params"}
    settings.update({k: v for k, v in combo.items() if k in TRAIN_AXES})
    policy = settings.setdefault("policy", DEFAULT_POLICY)
    where = "axes" if "policy" in combo else "train"
    if policy not in policies:
        raise InputError(source, f"policies.{where}.policy", f"unknown policy {policy!r}",
                         ", ".join(policies))
    fields = policies[policy].params.model_fields
    own = {k: v for k, v in combo.items() if k not in TRAIN_AXES and k in fields}
    shared = space.train.get("policy_params") or {}
    raw_params = {k: v for k, v in shared.items() if k in fields} | own
    settings["policy_params"] = _policy_params(source, policies[policy].params, raw_params,
                                               policy, own)
    resolved = _resolve(source, train_config, settings, combo)
    shown = {k: v for k, v in combo.items() if k in TRAIN_AXES or k in own}
    label = f"{resolved['model']}/{policy}" + "".join(
        f" {k}={v}" for k, v in shown.items() if k not in ("model", "policy"))
    return PolicyPoint(label=label, params=shown, train=resolved)


def _policy_params(source: str, model: Any, raw: dict[str, Any], policy: str,
                   from_axes: dict[str, Any]) -> dict[str, Any]:
    from rctsim.train.params import parse_params

    try:
        return parse_params(model, raw, "policy_params", policy).model_dump(mode="json")
    except InputError as err:
        where = "policies.axes" if from_axes else "policies.train.policy_params"
        if err.field in raw:
            where = ("policies.axes" if err.field in from_axes
                     else "policies.train.policy_params") + f".{err.field}"
            raise InputError(source, where, err.problem, err.allowed) from None
        raise InputError(source, where, f"{err.problem} with {_describe(raw)}") from None


def _resolve(source: str, train_config: Any, settings: dict[str, Any],
             combo: dict[str, Any]) -> dict[str, Any]:
    """Validated, defaults filled in, data set checked against the model."""
    _, _, models, datasets = _registries()
    try:
        config = train_config.model_validate(settings)
    except ValidationError as err:
        inner = validation_input_error(source, err, train_config)
        where = "axes" if inner.field in combo else "train"
        raise InputError(source, f"policies.{where}.{inner.field}", inner.problem,
                         inner.allowed) from None
    try:
        resolved = config.resolved()
    except InputError as err:
        where = "axes" if err.field in combo else "train"
        raise InputError(source, f"policies.{where}.{err.field}", err.problem,
                         err.allowed) from None
    data = datasets.get(resolved.dataset)
    if data is None or data.kind != models[resolved.model].data_kind:
        fits = [n for n, e in datasets.items() if e.kind == models[resolved.model].data_kind]
        raise InputError(source, "policies.train.dataset", f"{resolved.dataset!r} does not fit "
                         f"model {resolved.model!r}", ", ".join(fits))
    return resolved.model_dump(mode="json")


def _describe(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "defaults"
