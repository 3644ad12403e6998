"""The space a search explores: the sweep config's axes as optimiser distributions.

Hardware axes and policy axes are read as for a grid (same names, same values), except that a
range without steps is allowed (it is searched continuously). Given traces become a `trace`
axis (with `train` as one more value when the config also trains points; the policy axes then
apply only to it). A point is the mapping axis -> value of the axes that apply to it; building
its hardware and policy is where an impossible combination shows up (`build_point`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rctsim.errors import InputError
from rctsim.sweep.config import PolicySpace, SweepConfig
from rctsim.sweep.hardware import (
    LATE_AXES,
    HardwarePoint,
    _Builder,
    _check_values,
    check_hardware_axis,
)
from rctsim.sweep.policies import (
    PolicyPoint,
    _registries,
    _trained_point,
    check_policy_axis,
    given_points,
)
from rctsim.sweep.values import Axis, check_conditions, grid, grid_size, read_axis

TRACE_AXIS = "trace"
"""The axis over the given traces (present when there is more than one policy source)."""
TRAIN_CHOICE = "train"
"""The `trace` axis value that stands for the trained points."""
PRIMITIVE = (str, int, float, bool, type(None))
"""Values an optimiser's categorical distribution holds as they are (others by index)."""


@dataclass(frozen=True)
class SearchSpace:
    """Every axis a search varies, in config order (hardware, then `trace`, then policies)."""

    axes: tuple[Axis, ...]
    hardware: frozenset[str]
    """Names of the hardware axes."""
    given: tuple[PolicyPoint, ...]
    """The given traces, by label on the `trace` axis."""
    trains: bool
    """Whether the config trains points (policy axes or `policies.train`)."""
    size: int | None
    """Points of the whole space when every axis is finite (None with a continuous range)."""
    policy_space: PolicySpace
    """The config's policy side (trainer settings shared by trained points)."""
    builder: _Builder = field(compare=False, repr=False)
    """Builds and checks hardware variants of the base."""

    def names(self) -> tuple[str, ...]:
        """Axis names in order."""
        return tuple(a.name for a in self.axes)

    def distributions(self) -> dict[str, Any]:
        """Axis name -> optuna distribution (categorical values by index when not primitive)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        out: dict[str, Any] = {}
        for axis in self.axes:
            if axis.choices is not None:
                out[axis.name] = CategoricalDistribution(_encoded(axis))
                continue
            span = axis.span
            assert span is not None
            if span.integer:
                out[axis.name] = IntDistribution(math.ceil(span.start), math.floor(span.stop),
                                                 log=span.is_log)
            else:
                out[axis.name] = FloatDistribution(float(span.start), float(span.stop),
                                                   log=span.is_log)
        return out

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The values of the axes that apply, asked of an optuna trial in axis order."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        dists = self.distributions()
        values: dict[str, Any] = {}
        for axis in self.axes:
            if not axis.active(values):
                continue
            dist = dists[axis.name]
            if isinstance(dist, CategoricalDistribution):
                raw = trial.suggest_categorical(axis.name, dist.choices)
            elif isinstance(dist, IntDistribution):
                raw = trial.suggest_int(axis.name, dist.low, dist.high, log=dist.log)
            else:
                raw = trial.suggest_float(axis.name, dist.low, dist.high, log=dist.log)
            values[axis.name] = decode(axis, raw)
        return values

    def encode(self, values: dict[str, Any]) -> dict[str, Any]:
        """Optuna's parameter values of a point (categorical by index when not primitive)."""
        out = {}
        for axis in self.axes:
            if axis.name in values:
                value = values[axis.name]
                if axis.choices is not None and not _plain(axis):
                    value = axis.choices.index(value)
                out[axis.name] = value
        return out

    def enumerate(self) -> list[dict[str, Any]]:
        """Every point of a finite space (InputError with a continuous range)."""
        if self.size is None:
            raise InputError("search", "axes", "a continuous range cannot be enumerated",
                             "ranges with num, step or factor")
        return grid("search", "axes", list(self.axes))

    def build(self, values: dict[str, Any]) -> tuple[HardwarePoint, PolicyPoint]:
        """The hardware and policy point of axis values; InputError (its reason) when the
        combination is impossible (the hardware schema or the trainer rejects it)."""
        from hwmodels.load import hardware_digest

        hw_values = {k: v for k, v in values.items() if k in self.hardware}
        spec = self.builder.build(hw_values)
        hardware = HardwarePoint(hw_values, spec, hardware_digest(spec))
        label = values.get(TRACE_AXIS, TRAIN_CHOICE if self.trains else self.given[0].label)
        if label != TRAIN_CHOICE:
            return hardware, next(p for p in self.given if p.label == label)
        train_config, policies, _, _ = _registries()
        combo = {k: v for k, v in values.items()
                 if k not in self.hardware and k != TRACE_AXIS}
        return hardware, _trained_point(self.builder.source, self.policy_space, combo,
                                        train_config, policies)


def _plain(axis: Axis) -> bool:
    return all(isinstance(v, PRIMITIVE) for v in axis.choices or ())


def _encoded(axis: Axis) -> tuple[Any, ...]:
    choices = axis.choices or ()
    return tuple(choices) if _plain(axis) else tuple(range(len(choices)))


def decode(axis: Axis, raw: Any) -> Any:
    """An axis value from optuna's parameter value."""
    if axis.choices is not None:
        return raw if _plain(axis) else axis.choices[int(raw)]
    if axis.span is not None and axis.span.integer:
        return int(raw)
    return float(raw)


def search_space(config: SweepConfig, *, source: str, base_dir: Path) -> SearchSpace:
    """The space of a config (InputError for an unknown axis, a bad range or condition)."""
    axes: list[Axis] = []
    for name, raw in config.hardware.axes.items():
        check_hardware_axis(source, name)
        axes.append(read_axis(source, f"hardware.axes.{name}", name, raw, sampling=True))
    axes = check_conditions(source, "hardware.axes", axes)
    hardware = frozenset(a.name for a in axes)
    given = tuple(given_points(source, config.policies, base_dir))
    trains = bool(config.policies.train or config.policies.axes)
    labels = [p.label for p in given] + ([TRAIN_CHOICE] if trains else [])
    if not labels:
        raise InputError(source, "policies", "no trace given and nothing to train",
                         "policies.traces, or policies.train / policies.axes")
    if len(set(labels)) < len(labels):
        raise InputError(source, "policies.traces", "a trace is listed twice (or is named "
                         f"{TRAIN_CHOICE!r})", "distinct trace names")
    if len(labels) > 1:
        axes.append(Axis(TRACE_AXIS, "policies.traces", tuple(labels)))
    policy_axes: list[Axis] = []
    if config.policies.axes:
        _, policies, _, _ = _registries()
        params = {k for entry in policies.values() for k in entry.params.model_fields}
        for name, raw in config.policies.axes.items():
            check_policy_axis(source, name, sorted(params))
            policy_axes.append(read_axis(source, f"policies.axes.{name}", name, raw,
                                         sampling=True))
        policy_axes = check_conditions(source, "policies.axes", policy_axes)
    if given and policy_axes:  # the policy axes apply to the trained points only
        policy_axes = [Axis(a.name, a.field, a.choices, a.span,
                            ((TRACE_AXIS, (TRAIN_CHOICE,)), *a.when)) for a in policy_axes]
    axes += policy_axes
    finite = all(a.choices is not None for a in axes)
    builder = _Builder(source, config.hardware, base_dir, {})
    _check_alone(builder, [a for a in axes if a.name in hardware])
    return SearchSpace(axes=tuple(axes), hardware=hardware, given=given, trains=trains,
                       size=grid_size(axes) if finite else None, policy_space=config.policies,
                       builder=builder)


def _check_alone(builder: _Builder, axes: list[Axis]) -> None:
    """Each value of an unconditional hardware axis (the ends of a range) on the base alone,
    so a value the schema never accepts is a config error (one line) rather than a search
    full of infeasible points. Conditional and late axes (bank size) depend on other axes and
    are judged point by point."""
    for axis in axes:
        if axis.when or axis.name in LATE_AXES:
            continue
        values = axis.choices if axis.choices is not None else (
            (axis.span.start, axis.span.stop) if axis.span is not None else ())
        for value in values:
            _check_values(builder, [axis], {axis.name: value})
