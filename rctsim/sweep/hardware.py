"""Hardware axes: named edits of a base description, each point validated by the hardware schema.

A point is the base preset's fields with every axis value written in, then checked exactly as a
hardware YAML file is (`validate_model` + `check_hardware`), so a value the schema rejects is
one InputError line naming the axis before any work starts. Nothing is rescaled here: energies,
leakage and area follow from the description in the cost models (hwmodels.components), so a
point and a hand-edited YAML with the same fields give the same numbers.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwmodels.components import build_cost_models, dram_bandwidth_bytes_per_s
from hwmodels.compute import memory_area_parts
from hwmodels.load import check_hardware, hardware_digest, load_hardware
from hwmodels.schema import ArraySpec, DramSpec, HardwareSpec, MemorySpec
from hwmodels.validation import validate_model
from rctsim.errors import InputError, did_you_mean
from rctsim.sweep.config import AreaModel, HardwareSpace
from rctsim.sweep.values import (
    Axis,
    check_conditions,
    check_points,
    grid,
    grid_size,
    read_axis,
    sample,
)

KB = 1024
"""Bytes per KB, as in the presets (edge_npu: 108 KB = 110592 bytes)."""

Edit = Callable[[dict[str, Any], Any, Path], None]


@dataclass(frozen=True)
class HardwareAxis:
    """A named hardware axis: what it sets and how."""

    help: str
    """One line for `rctsim sweep --list-axes`."""
    apply: Edit
    """Writes a value into the spec's field mapping (raises ValueError for a bad value)."""


@dataclass(frozen=True)
class HardwarePoint:
    """One validated hardware variant."""

    params: dict[str, Any]
    """Axis name -> value that made it."""
    spec: HardwareSpec
    """The validated description."""
    digest: str
    """`hardware_digest(spec)`."""


def _memory(data: dict[str, Any], role: str) -> dict[str, Any]:
    for memory in data["memories"]:
        if memory["role"] == role:
            return memory
    raise ValueError(f"cannot be set: the hardware has no {role} memory")


MAX_AXIS_NUMBER = 1e18
"""Largest magnitude of a numeric hardware axis value (before its unit is applied)."""


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("is too large") from None
    if not math.isfinite(number) or abs(number) > MAX_AXIS_NUMBER:
        raise ValueError(f"is not a finite number of magnitude at most {MAX_AXIS_NUMBER:g}")
    return number


def _whole(value: Any) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError("is not a whole number")
    return int(number)


def _array_shape(value: Any) -> tuple[int, int]:
    if isinstance(value, list) and len(value) == 2:
        return _whole(value[0]), _whole(value[1])
    rows, sep, cols = str(value).lower().partition("x")
    if not sep or not rows.strip().isdigit() or not cols.strip().isdigit():
        raise ValueError("is not ROWSxCOLS (e.g. 16x16)")
    return int(rows), int(cols)


def _set_shape(data: dict[str, Any], value: Any, _: Path) -> None:
    data["array"]["rows"], data["array"]["cols"] = _array_shape(value)


def _set(section: str, key: str, convert: Callable[[Any], Any] = lambda v: v) -> Edit:
    def edit(data: dict[str, Any], value: Any, _: Path) -> None:
        data[section][key] = convert(value)
    return edit


def _set_global(key: str, convert: Callable[[Any], Any]) -> Edit:
    def edit(data: dict[str, Any], value: Any, _: Path) -> None:
        _memory(data, "global")[key] = convert(value)
    return edit


def _set_bank_size(data: dict[str, Any], value: Any, _: Path) -> None:
    """Banks of the global buffer so that each holds `value` KB: a larger buffer is built of more
    banks of the same size (an access touches one bank), not of larger banks."""
    memory = _memory(data, "global")
    bank = round(_number(value) * KB)
    if bank < 1 or memory["size_bytes"] % bank:
        raise ValueError(f"does not divide the global buffer of {memory['size_bytes']} bytes")
    memory["banks"] = memory["size_bytes"] // bank


def _set_banked(data: dict[str, Any], value: Any, _: Path) -> None:
    """false: the global buffer is one bank; true: it keeps its banks (the base's, or those
    `sram_bank_kb` sets)."""
    if not isinstance(value, bool):
        raise ValueError("is not true or false")
    if not value:
        _memory(data, "global")["banks"] = 1


def _set_table(data: dict[str, Any], value: Any, base_dir: Path) -> None:
    local = base_dir / str(value)
    data["energy_table"] = str(local.resolve()) if local.is_file() else str(value)


HARDWARE_AXES: dict[str, HardwareAxis] = {
    "sram_kb": HardwareAxis("global buffer size in KB (1 KB = 1024 bytes)",
                            _set_global("size_bytes", lambda v: round(_number(v) * KB))),
    "sram_bytes": HardwareAxis("global buffer size in bytes", _set_global("size_bytes", _whole)),
    "sram_bank_kb": HardwareAxis("global buffer bank size in KB: banks = size / bank size "
                                 "(applied after the size axes)", _set_bank_size),
    "sram_banked": HardwareAxis("false: the global buffer is one bank; true: it keeps the "
                                "base's banks (or sram_bank_kb's)", _set_banked),
    "array": HardwareAxis("array shape ROWSxCOLS, e.g. 16x16", _set_shape),
    "array_rows": HardwareAxis("array PE rows", _set("array", "rows", _whole)),
    "array_cols": HardwareAxis("array PE columns", _set("array", "cols", _whole)),
    "dataflow": HardwareAxis("ws | os | is", _set("array", "dataflow")),
    "precision_mode": HardwareAxis("MAC precision mode: energy_only | bit_serial | bit_fusion",
                                   _set("array", "precision_mode")),
    "clock_mhz": HardwareAxis("array clock in MHz",
                              _set("array", "clock_hz", lambda v: _number(v) * 1e6)),
    "dram_gb_per_s": HardwareAxis("DRAM bandwidth in GB/s (1e9 bytes/s)",
                                  _set("dram", "bandwidth_bytes_per_s",
                                       lambda v: _number(v) * 1e9)),
    "energy_table": HardwareAxis("bundled energy table name or table YAML file", _set_table),
}
"""The named hardware axes. `hw` (the base preset) and dotted field paths come on top."""

LATE_AXES: tuple[str, ...] = ("sram_bank_kb",)
"""Axes that read another axis's result (the buffer size), so they are applied last."""

HW_AXIS = "hw"
"""The axis that varies the base hardware (preset name or YAML file)."""

FIELD_ROOTS: dict[str, type] = {"array": ArraySpec, "dram": DramSpec,
                                "global_buffer": MemorySpec, "pe_local": MemorySpec}
"""Dotted axes `ROOT.FIELD` set any schema field, e.g. `array.native_bits`."""


def is_hardware_axis(name: str) -> bool:
    """Whether `name` is a hardware axis (named, `hw`, or a dotted schema field)."""
    root, dot, key = name.partition(".")
    return (name in HARDWARE_AXES or name == HW_AXIS
            or (bool(dot) and root in FIELD_ROOTS and key in FIELD_ROOTS[root].model_fields))


def hardware_axis_names() -> list[str]:
    """Every hardware axis name: the named ones, `hw`, and each dotted schema field."""
    return [*HARDWARE_AXES, HW_AXIS,
            *(f"{root}.{key}" for root, model in FIELD_ROOTS.items() for key in model.model_fields)]


def check_hardware_axis(source: str, name: str) -> None:
    """InputError naming `hardware.axes.NAME` (with the closest name) unless it is an axis."""
    if not is_hardware_axis(name):
        raise InputError(source, f"hardware.axes.{name}",
                         "unknown hardware axis" + did_you_mean(name, hardware_axis_names()),
                         ", ".join([*HARDWARE_AXES, HW_AXIS, "ROOT.FIELD with ROOT in "
                                    + "/".join(FIELD_ROOTS)]))


def _edit_for(name: str) -> Edit:
    if name in HARDWARE_AXES:
        return HARDWARE_AXES[name].apply
    root, _, key = name.partition(".")
    if root in ("global_buffer", "pe_local"):
        role = "global" if root == "global_buffer" else "pe_local"
        return lambda data, value, _: _memory(data, role).__setitem__(key, value)
    return _set(root, key)


def _load_base(source: str, field: str, ref: str, base_dir: Path) -> HardwareSpec:
    local = base_dir / ref
    try:
        return load_hardware(local if local.is_file() else ref)
    except InputError as err:
        raise InputError(source, field, f"{ref!r}: {err.problem}", err.allowed) from None


@dataclass
class _Builder:
    """Builds and checks variants of the base descriptions (bases loaded once)."""

    source: str
    space: HardwareSpace
    base_dir: Path
    bases: dict[str, dict[str, Any]]

    def base(self, ref: str, field: str) -> dict[str, Any]:
        """The field mapping of base description `ref` (loaded once)."""
        if ref not in self.bases:
            spec = _load_base(self.source, field, ref, self.base_dir)
            self.bases[ref] = spec.model_dump(mode="json")
        return self.bases[ref]

    def build(self, values: dict[str, Any]) -> HardwareSpec:
        """The checked spec for axis values (InputError carries the schema's field)."""
        field = f"hardware.axes.{HW_AXIS}" if HW_AXIS in values else "hardware.base"
        base = self.base(str(values.get(HW_AXIS, self.space.base)), field)
        data = copy.deepcopy(base)
        late = [name for name in values if name in LATE_AXES]
        for name in [n for n in values if n not in LATE_AXES] + late:
            value = values[name]
            if name != HW_AXIS:
                try:
                    _edit_for(name)(data, value, self.base_dir)
                except (ValueError, OverflowError) as err:
                    raise InputError(self.source, f"hardware.axes.{name}",
                                     f"{value!r} {err}") from None
        spec = validate_model(self.source, data, HardwareSpec)
        return check_hardware(self.source, spec, self.base_dir)


def _describe(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "(the base)"


def read_hardware_axes(source: str, space: HardwareSpace) -> list[Axis]:
    """The hardware axes of a config; InputError for an unknown name or empty values."""
    axes = []
    for name, raw in space.axes.items():
        check_hardware_axis(source, name)
        axes.append(read_axis(source, f"hardware.axes.{name}", name, raw,
                              sampling=space.sample is not None))
    return check_conditions(source, "hardware.axes", axes)


def _check_values(builder: _Builder, axes: list[Axis], values: dict[str, Any]) -> None:
    """Each value of a rejected point on the base alone, so a bad value names its axis."""
    for axis in axes:
        if axis.name not in values:
            continue
        value = values[axis.name]
        try:
            builder.build({axis.name: value})
        except InputError as err:
            if err.source != builder.source or err.field.startswith(("hardware.axes",
                                                                       "hardware.base")):
                raise  # the axis already named, or the base description itself is bad
            raise InputError(builder.source, axis.field, f"{value!r} is rejected by the "
                             f"hardware schema: {err.field}: {err.problem}",
                             err.allowed) from None


def _check_ends(builder: _Builder, axes: list[Axis]) -> None:
    """The ends of a continuous range (random draws lie between them)."""
    for axis in axes:
        if axis.choices is None and axis.span is not None:
            for end in (axis.span.start, axis.span.stop):
                _check_values(builder, [axis], {axis.name: end})


def hardware_count(source: str, space: HardwareSpace) -> int:
    """How many hardware points the space plans (computed without building any)."""
    axes = read_hardware_axes(source, space)
    return space.sample if space.sample is not None else grid_size(axes)


def hardware_points(source: str, space: HardwareSpace, *, base_dir: Path,
                    rng: np.random.Generator) -> tuple[HardwarePoint, ...]:
    """Every hardware point of the space (grid or seeded sample), each validated once, lazily:
    the count is checked first, and a point is built only when its turn comes."""
    axes = read_hardware_axes(source, space)
    if space.sample is None:
        check_points(source, "hardware.axes", grid_size(axes))
    builder = _Builder(source, space, base_dir, {})
    _check_ends(builder, axes)
    combos = (sample(axes, space.sample, rng) if space.sample is not None
              else grid(source, "hardware.axes", axes))
    points = []
    for values in combos:
        try:
            spec = builder.build(values)
        except InputError as err:
            if err.source != source or err.field == "hardware.base":
                raise
            _check_values(builder, axes, values)  # names the axis when one value alone is bad
            raise InputError(source, "hardware.axes", f"the point {_describe(values)} is "
                             f"rejected by the hardware schema: {err.field}: {err.problem}",
                             err.allowed) from None
        points.append(HardwarePoint(values, spec, hardware_digest(spec)))
    return tuple(points)


def sram_area_mm2(spec: HardwareSpec) -> float:
    """The on-chip memories' area (mm², all instances) from the hardware's cost model: the
    `sram:` parts of the run JSON's `area_mm2` (hwmodels.compute.chip_area_mm2)."""
    return float(sum(mm2 for _, mm2 in memory_area_parts(spec, dict(build_cost_models(spec).sram))))


def hardware_columns(spec: HardwareSpec, area: AreaModel) -> dict[str, Any]:
    """The store's hardware columns of a spec, with its SRAM area."""
    pes = spec.array.rows * spec.array.cols
    local = spec.pe_local
    total = spec.global_buffer.size_bytes + (local.size_bytes * pes if local else 0)
    return {"hw_name": spec.name, "sram_bytes": spec.global_buffer.size_bytes,
            "sram_total_bytes": total, "array_rows": spec.array.rows,
            "array_cols": spec.array.cols, "dataflow": spec.array.dataflow,
            "precision_mode": spec.array.precision_mode, "clock_hz": spec.array.clock_hz,
            "dram_bytes_per_s": dram_bandwidth_bytes_per_s(spec.dram),
            "energy_table": spec.energy_table,
            "sram_area_mm2": (total / KB * area.mm2_per_kb if area.mm2_per_kb is not None
                              else sram_area_mm2(spec))}
