"""Axis values (a list, one value or a numeric range) and their grid or seeded random expansion."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hwmodels.validation import validate_model
from rctsim.errors import InputError

MAX_POINTS = 100_000
"""Most points a sweep plans (hardware points x policy points, grid or sample): every planned
hardware point is a validated description of about 7 KB, so 100,000 stay under 1 GB."""

MAX_AXIS_VALUES = 100_000
"""Most values one stepped range may expand to (checked before expanding)."""

RANGE_LIMIT = 1e18
"""Largest magnitude of a range's start, stop, step or factor."""

RANGE_KEYS = ("start, stop and one of num, step, factor (optional: scale or log, integer, "
              "when)")
"""What a range mapping holds, for error messages."""


class RangeSpec(BaseModel):
    """A numeric range `start`..`stop` (both ends included when reached)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True,
                              allow_inf_nan=False)

    start: Annotated[int | float, Field(ge=-RANGE_LIMIT, le=RANGE_LIMIT)]
    """First value."""
    stop: Annotated[int | float, Field(ge=-RANGE_LIMIT, le=RANGE_LIMIT)]
    """Last value (included when a step lands on it)."""
    num: int | None = Field(None, ge=1, le=MAX_AXIS_VALUES)
    """Number of evenly spaced values (geometric with `scale: log`)."""
    step: Annotated[int | float, Field(ge=-RANGE_LIMIT, le=RANGE_LIMIT)] | None = None
    """Additive step."""
    factor: Annotated[int | float, Field(ge=-RANGE_LIMIT, le=RANGE_LIMIT)] | None = None
    """Multiplicative step (> 1)."""
    scale: Literal["linear", "log"] = "linear"
    """Spacing for `num`, and the distribution of random draws from a range without steps."""
    log: bool = False
    """Same as `scale: log` (sweep config version 2)."""
    integer: bool = False
    """Round every value to an integer."""

    @property
    def is_log(self) -> bool:
        """Whether the range is spaced (or drawn) on a log scale."""
        return self.log or self.scale == "log"


@dataclass(frozen=True)
class Axis:
    """The values one axis takes: a finite list, or a range drawn from at random."""

    name: str
    field: str
    """Where it was given (`hardware.axes.sram_kb`), for error messages."""
    choices: tuple[Any, ...] | None
    """The values of a list or stepped range; None for a continuous range."""
    span: RangeSpec | None = None
    """A continuous range (random samples and searches only)."""
    when: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    """Conditions (axis name, values it must take): the axis applies to a point only when
    every named axis has one of its values; otherwise the point leaves it out."""

    def active(self, values: dict[str, Any]) -> bool:
        """Whether this axis applies to a point whose other axis values are `values`."""
        return all(name in values and _canon(values[name]) in {_canon(v) for v in allowed}
                   for name, allowed in self.when)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


CONDITIONAL_KEYS = ("values", "when")
"""Keys of an axis mapping beyond a range's (sweep config version 2): `values` (a list) and
`when` (a mapping axis -> value or list of values)."""


def read_axis(source: str, field: str, name: str, raw: Any, *, sampling: bool) -> Axis:
    """An axis from its raw config value; InputError for an empty or malformed one.

    A mapping may carry `when: {axis: value or [values]}` (a conditional axis) and, instead of
    a range, `values: [...]`."""
    if isinstance(raw, dict) and any(k in raw for k in CONDITIONAL_KEYS):
        raw = dict(raw)
        when = _read_when(source, field, raw.pop("when", {}))
        if "values" in raw:
            values = raw.pop("values")
            if raw:
                raise InputError(source, field, f"`values` with range keys "
                                 f"{', '.join(sorted(raw))}", "values: [...] or a range")
            raw = values
        axis = read_axis(source, field, name, raw, sampling=sampling)
        return Axis(axis.name, axis.field, axis.choices, axis.span, when)
    if isinstance(raw, dict):
        spec: RangeSpec = validate_model(f"{source}: {field}", raw, RangeSpec)
        values = _range_values(source, field, spec)
        if values is None and not sampling:
            raise InputError(source, field, "a range needs num, step or factor in a grid "
                             "(a bare start..stop is only for random samples)", RANGE_KEYS)
        return Axis(name, field, values, None if values is not None else spec)
    values = tuple(raw) if isinstance(raw, list) else (raw,)
    _check_count(source, field, len(values), "list")
    if not values:
        raise InputError(source, field, "the list of values is empty", "one value or more")
    return Axis(name, field, _unique(values))


def _read_when(source: str, field: str, raw: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if not isinstance(raw, dict) or not raw:
        raise InputError(source, f"{field}.when", f"{raw!r}",
                         "a mapping axis: value (or a list of values), e.g. {sram_banked: true}")
    out = []
    for parent, allowed in raw.items():
        values = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        if not values:
            raise InputError(source, f"{field}.when.{parent}", "no value given",
                             "one value or a list")
        out.append((str(parent), values))
    return tuple(out)


def check_conditions(source: str, section: str, axes: list[Axis]) -> list[Axis]:
    """The axes with the conditional ones moved last (so their conditions are known when they
    are reached); InputError unless every `when` names an unconditional axis of the same
    section with listed values, and only values that axis takes."""
    plain = {a.name: a for a in axes if not a.when}
    for axis in axes:
        for parent, allowed in axis.when:
            where = f"{axis.field}.when.{parent}"
            other = plain.get(parent)
            if other is None or other.choices is None:
                raise InputError(source, where, f"{parent!r} is not an unconditional axis of "
                                 f"{section} with listed values",
                                 ", ".join(n for n, a in plain.items() if a.choices) or
                                 "an axis with a list of values")
            known = {_canon(v) for v in other.choices}
            for value in allowed:
                if _canon(value) not in known:
                    raise InputError(source, where, f"{value!r} is not a value of {parent}",
                                     ", ".join(map(str, other.choices)))
    return [a for a in axes if not a.when] + [a for a in axes if a.when]


def _unique(values: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(json.dumps(v, sort_keys=True, default=str), v)
    return tuple(seen.values())


def _range_values(source: str, field: str, r: RangeSpec) -> tuple[Any, ...] | None:
    given = [k for k in ("num", "step", "factor") if getattr(r, k) is not None]
    if len(given) > 1:
        raise InputError(source, field, f"a range takes one of num, step, factor; got "
                         f"{', '.join(given)}", RANGE_KEYS)
    if r.is_log and (r.start <= 0 or r.stop <= 0):
        raise InputError(source, field, f"a log range needs start and stop > 0, got "
                         f"{r.start}..{r.stop}", "positive numbers")
    if not given:
        if r.start > r.stop:
            raise InputError(source, field, f"the range {r.start}..{r.stop} is empty",
                             "start <= stop")
        return None
    if r.num is not None:
        space = np.geomspace if r.is_log else np.linspace
        values = [float(v) for v in space(r.start, r.stop, r.num)]
    elif r.step is not None:
        values = _stepped(source, field, r)
    else:
        values = _multiplied(source, field, r)
    if not values:
        raise InputError(source, field, f"the range {r.start}..{r.stop} by "
                         f"{r.step if r.step is not None else r.factor} is empty",
                         "a step that reaches from start towards stop")
    return _unique([_number(v, r) for v in values])


def _number(value: float, r: RangeSpec) -> int | float:
    exact = all(isinstance(x, int) for x in (r.start, r.stop, r.step or 1, r.factor or 1))
    if r.integer or (exact and r.num is None):
        return int(round(value))
    return float(f"{value:.12g}")


def _stepped(source: str, field: str, r: RangeSpec) -> list[float]:
    if r.step == 0:
        raise InputError(source, field, "step is 0", "a non-zero step")
    count = _count(source, field, (r.stop - r.start) / r.step)
    _check_count(source, field, count)
    return [r.start + i * r.step for i in range(max(count, 0))]


def _count(source: str, field: str, steps: float) -> int:
    """Values of a range that takes `steps` steps (refused when that is not a finite number)."""
    if not math.isfinite(steps):
        raise InputError(source, field, f"the range has {steps} steps",
                         f"at most {MAX_AXIS_VALUES:,} values per axis")
    return math.floor(steps + 1e-9) + 1


def _check_count(source: str, field: str, count: int, what: str = "range") -> None:
    if count > MAX_AXIS_VALUES:
        raise InputError(source, field, f"the {what} has {count:,} values",
                         f"at most {MAX_AXIS_VALUES:,} values per axis; use `sample: N`")


def _multiplied(source: str, field: str, r: RangeSpec) -> list[float]:
    if r.factor is None or r.factor <= 1 or r.start <= 0:
        raise InputError(source, field, f"factor {r.factor} from {r.start}: a factor range "
                         "needs factor > 1 and start > 0", "factor > 1, start > 0")
    count = _count(source, field, math.log(r.stop / r.start) / math.log(r.factor)) \
        if r.stop >= r.start else 0
    _check_count(source, field, count)
    return [r.start * r.factor ** i for i in range(max(count, 0))]


def grid_size(axes: list[Axis]) -> int:
    """Points of the full grid of `axes` (computed, never expanded beyond the axes that
    conditions name)."""
    if not any(a.when for a in axes):
        return math.prod(len(a.choices or ()) for a in axes)
    parents = [a for a in axes if any(a.name == p for b in axes for p, _ in b.when)]
    rest = [a for a in axes if a not in parents]
    check_points("axes", "when", math.prod(len(a.choices or ()) for a in parents),
                 "the axes conditions name")
    total = 0
    for combo in itertools.product(*(a.choices or () for a in parents)):
        values = dict(zip((a.name for a in parents), combo, strict=True))
        total += math.prod(len(a.choices or ()) for a in rest if a.active(values))
    return total


def check_points(source: str, field: str, count: int, what: str = "the grid") -> None:
    """Refuse more than MAX_POINTS points, before any is expanded or validated."""
    if count > MAX_POINTS:
        raise InputError(source, field, f"{what} has {count:,} points",
                         f"at most {MAX_POINTS:,}; use `sample: N` for a random sample")


def grid(source: str, field: str, axes: list[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values (the last axis varies fastest)."""
    check_points(source, field, grid_size(axes))
    names = [a.name for a in axes]
    if not any(a.when for a in axes):
        return [dict(zip(names, combo, strict=True))
                for combo in itertools.product(*(a.choices or () for a in axes))]
    partial: list[dict[str, Any]] = [{}]
    for axis in axes:  # a conditional axis extends only the points where it applies
        partial = [p | {axis.name: v} if axis.active(p) else p
                   for p in partial for v in ((axis.choices or ()) if axis.active(p) else (0,))]
    return partial


def sample(axes: list[Axis], count: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """`count` random combinations: without repeats from a finite grid, else independent draws."""
    if all(a.choices is not None for a in axes) and not any(a.when for a in axes):
        sizes = [len(a.choices or ()) for a in axes]
        total = math.prod(sizes)
        picks = np.arange(total) if count >= total else np.sort(
            rng.choice(total, size=count, replace=False))
        return [_decode(int(i), axes, sizes) for i in picks]
    draws = [_draw_point(axes, rng) for _ in range(count)]
    unique = {json.dumps(d, sort_keys=True, default=str): d for d in draws}
    return list(unique.values())


def _draw_point(axes: list[Axis], rng: np.random.Generator) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for axis in axes:
        value = _draw(axis, rng)  # drawn even when left out, so the stream does not shift
        if axis.active(out):
            out[axis.name] = value
    return out


def _decode(index: int, axes: list[Axis], sizes: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for axis, size in zip(reversed(axes), reversed(sizes), strict=True):
        index, digit = divmod(index, size)
        out[axis.name] = (axis.choices or ())[digit]
    return {a.name: out[a.name] for a in axes}


def _draw(axis: Axis, rng: np.random.Generator) -> Any:
    if axis.choices is not None:
        return axis.choices[int(rng.integers(len(axis.choices)))]
    r = axis.span
    assert r is not None
    if r.is_log:
        value = math.exp(rng.uniform(math.log(r.start), math.log(r.stop)))
    else:
        value = rng.uniform(r.start, r.stop)
    return int(round(value)) if r.integer else float(value)
