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

RANGE_KEYS = "start, stop and one of num, step, factor (optional: scale, integer)"
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
    integer: bool = False
    """Round every value to an integer."""


@dataclass(frozen=True)
class Axis:
    """The values one axis takes: a finite list, or a range drawn from at random."""

    name: str
    field: str
    """Where it was given (`hardware.axes.sram_kb`), for error messages."""
    choices: tuple[Any, ...] | None
    """The values of a list or stepped range; None for a continuous range."""
    span: RangeSpec | None = None
    """A continuous range (random samples only)."""


def read_axis(source: str, field: str, name: str, raw: Any, *, sampling: bool) -> Axis:
    """An axis from its raw config value; InputError for an empty or malformed one."""
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
    if r.scale == "log" and (r.start <= 0 or r.stop <= 0):
        raise InputError(source, field, f"a log range needs start and stop > 0, got "
                         f"{r.start}..{r.stop}", "positive numbers")
    if not given:
        if r.start > r.stop:
            raise InputError(source, field, f"the range {r.start}..{r.stop} is empty",
                             "start <= stop")
        return None
    if r.num is not None:
        space = np.geomspace if r.scale == "log" else np.linspace
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
    """Points of the full grid of `axes` (computed, never expanded)."""
    return math.prod(len(a.choices or ()) for a in axes)


def check_points(source: str, field: str, count: int, what: str = "the grid") -> None:
    """Refuse more than MAX_POINTS points, before any is expanded or validated."""
    if count > MAX_POINTS:
        raise InputError(source, field, f"{what} has {count:,} points",
                         f"at most {MAX_POINTS:,}; use `sample: N` for a random sample")


def grid(source: str, field: str, axes: list[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values (the last axis varies fastest)."""
    check_points(source, field, grid_size(axes))
    names = [a.name for a in axes]
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(a.choices or () for a in axes))]


def sample(axes: list[Axis], count: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """`count` random combinations: without repeats from a finite grid, else independent draws."""
    if all(a.choices is not None for a in axes):
        sizes = [len(a.choices or ()) for a in axes]
        total = math.prod(sizes)
        picks = np.arange(total) if count >= total else np.sort(
            rng.choice(total, size=count, replace=False))
        return [_decode(int(i), axes, sizes) for i in picks]
    draws = [{a.name: _draw(a, rng) for a in axes} for _ in range(count)]
    unique = {json.dumps(d, sort_keys=True, default=str): d for d in draws}
    return list(unique.values())


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
    if r.scale == "log":
        value = math.exp(rng.uniform(math.log(r.start), math.log(r.stop)))
    else:
        value = rng.uniform(r.start, r.stop)
    return int(round(value)) if r.integer else float(value)
