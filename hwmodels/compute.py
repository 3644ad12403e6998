"""Compute units: which unit runs an op at which format, at what throughput, area and leakage.

A hardware description has one integer array (`array`: rows x cols PEs, `int_bits`) and any
number of floating-point datapaths (`compute_units`): `pe` units sit in every PE and use the
array's geometry and dataflow at `formats[f]` cycles per MAC; `vector` units have `lanes` lanes
fed from the global buffer through `operand_bytes_per_cycle`. Every op runs on a unit that
supports its format; a float format also runs on a unit with a wider float format that holds it
exactly (`WIDER`). Where several units can, the one with the most MACs per cycle is chosen
(the first listed on a tie). docs/model.md §"Compute units" gives the equations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from math import ceil

from hwmodels.schema import FLOAT_FORMATS, ComputeUnitSpec, HardwareSpec
from hwmodels.sram import bank_costs
from hwmodels.systolic import GemmTiming, cached_gemm_timing, operand_traffic
from rctsim.errors import InputError

ARRAY = "array"
"""Name of the integer array as a unit."""

WIDER: dict[str, tuple[str, ...]] = {
    "fp8": ("fp16", "bf16", "fp32"),
    "fp16": ("fp32",),
    "bf16": ("fp32",),
    "fp32": (),
}
"""Float formats that hold every value of a narrower one exactly (IEEE 754 binary16/32 and
bfloat16 bit layouts: fp16 has 5 exponent bits, bf16 8, fp32 8 and 23 mantissa bits), so an op
in the narrower format may run on a unit of the wider one. fp16 and bf16 do not hold each other."""

FLOAT_BITS: dict[str, int] = {"fp8": 8, "fp16": 16, "bf16": 16, "fp32": 32}
"""Width of each float format (the energy table prices float arithmetic by width)."""

UM2_PER_MM2 = 1e6
UW_PER_W = 1e6

_INT = re.compile(r"^int([0-9]+)$")


@dataclass(frozen=True)
class UnitChoice:
    """The unit an element-wise op runs on (contract B of this round)."""

    name: str
    """The unit's name in the hardware description (`array` for the integer PEs)."""
    lanes: int
    """Elements processed per cycle at that format, after cycles-per-op:
    max(1, floor(instances / cycles_per_op))."""
    cycles_per_op: int
    """Cycles one lane needs per element at that format."""


@dataclass(frozen=True)
class GemmUnit:
    """The unit a floating-point GEMM runs on."""

    name: str
    placement: str
    """`pe` or `vector`."""
    fmt: str
    """The format it runs at (the unit's, possibly wider than the op's)."""
    cycles_per_mac: int
    rows: int
    cols: int
    dataflow: str
    operand_bytes_per_cycle: float | None
    """vector only: the operand path."""


def _units_text(hw: HardwareSpec) -> str:
    """`array (int1..16), vpu (fp32 x1 cycle)`: what the hardware offers, for error lines."""
    parts = [f"{ARRAY} (int{hw.array.int_bits[0]}..{hw.array.int_bits[-1]})"]
    parts += [f"{u.name} ({', '.join(u.formats)})" for u in hw.compute_units]
    return "units: " + "; ".join(parts)


def _instances(hw: HardwareSpec, unit: ComputeUnitSpec) -> int:
    """PEs of the array for a `pe` unit, lanes for a `vector` unit."""
    return hw.array.rows * hw.array.cols if unit.placement == "pe" else int(unit.lanes or 1)


def _float_candidates(hw: HardwareSpec, fmt: str) -> list[tuple[ComputeUnitSpec, str]]:
    """(unit, format it runs at) for every unit that can compute `fmt`."""
    out = []
    for unit in hw.compute_units:
        for run in (fmt, *WIDER[fmt]):
            if run in unit.formats:
                out.append((unit, run))
                break
    return out


def _best(hw: HardwareSpec, candidates: list[tuple[ComputeUnitSpec, str]]
          ) -> tuple[ComputeUnitSpec, str]:
    """The candidate with the most operations per cycle (the first listed on a tie)."""
    return max(candidates, key=lambda c: Fraction(_instances(hw, c[0]), c[0].formats[c[1]]))


def check_format(fmt: str) -> tuple[str, int]:
    """`int8` -> ("int", 8); `fp16` -> ("fp16", 16); else InputError naming what is allowed."""
    match = _INT.match(fmt)
    if match and 1 <= int(match.group(1)) <= 32:
        return "int", int(match.group(1))
    if fmt in FLOAT_FORMATS:
        return fmt, FLOAT_BITS[fmt]
    raise InputError("<format>", "fmt", f"unknown number format {fmt!r}",
                     "int1..int32, " + ", ".join(FLOAT_FORMATS))


def elementwise_unit(hw: HardwareSpec, fmt: str, *, what: str = "an element-wise op",
                     source: str | None = None) -> UnitChoice:
    """The unit an element-wise op at `fmt` runs on: the array's PEs as rows x cols SIMD lanes
    for integers, the fastest float unit (exact or wider format) for floats. An integer wider
    than the widest `int_bits` w (the accumulator-width results that normalisation and
    activations read) is composed from w-bit operations: `ceil(bits / w)²` cycles per op, the
    schoolbook count of a multiply (an add needs only `ceil(bits / w)`; the bound is
    conservative; docs/model.md, "Compute units"). InputError naming the format and the units
    when none does it."""
    kind, bits = check_format(fmt)
    if kind == "int":
        pes = hw.array.rows * hw.array.cols
        cycles = ceil(bits / hw.array.int_bits[-1]) ** 2
        return UnitChoice(ARRAY, max(1, pes // cycles), cycles)
    else:
        candidates = _float_candidates(hw, fmt)
        if candidates:
            unit, run = _best(hw, candidates)
            cycles = unit.formats[run]
            return UnitChoice(unit.name, max(1, _instances(hw, unit) // cycles), cycles)
    raise InputError(source or hw.name, "compute_units",
                     f"{what} needs {fmt} and no unit computes it", _units_text(hw))


def mac_format(a_bits: int, a_float: bool, b_bits: int, b_float: bool) -> str | None:
    """The float format a GEMM's MACs run at (`fp<widest float operand>`), None for integer."""
    widths = [bits for bits, is_float in ((a_bits, a_float), (b_bits, b_float)) if is_float]
    return f"fp{max(widths)}" if widths else None


def gemm_unit(hw: HardwareSpec, fmt: str, *, what: str, source: str | None = None) -> GemmUnit:
    """The unit a floating-point GEMM at `fmt` runs on; InputError naming the op, its format
    and the units when none does."""
    if fmt not in FLOAT_FORMATS:
        raise InputError(source or hw.name, "compute_units",
                         f"{what} needs {fmt} MACs, which no float format names",
                         ", ".join(FLOAT_FORMATS))
    candidates = _float_candidates(hw, fmt)
    if not candidates:
        raise InputError(source or hw.name, "compute_units",
                         f"{what} needs {fmt} MACs and no unit computes {fmt}", _units_text(hw))
    unit, run = _best(hw, candidates)
    array = hw.array
    if unit.placement == "pe":
        return GemmUnit(unit.name, "pe", run, unit.formats[run], array.rows, array.cols,
                        array.dataflow, None)
    return GemmUnit(unit.name, "vector", run, unit.formats[run], 1, int(unit.lanes or 1), "os",
                    unit.operand_bytes_per_cycle)


def float_gemm_timing(unit: GemmUnit, m: int, n: int, k: int, *, a_bytes: float,
                      b_bytes: float, out_bytes: float) -> GemmTiming:
    """Timing of `X[m,k] · W[k,n]` on a float unit.

    `pe`: the array's closed form (hwmodels.systolic) with the stream scaled by cycles_per_mac.
    `vector`: each lane owns one output column of a fold, A broadcast, K steps per fold:
    folds = m * ceil(n / lanes), cycles = max(folds * k * cycles_per_mac,
    ceil(operand bytes / operand_bytes_per_cycle)) (pipeline fill ignored), operand traffic that
    of an output-stationary 1 x lanes array.
    """
    bits = FLOAT_BITS[unit.fmt]
    if unit.placement == "pe":
        return cached_gemm_timing(m, n, k, unit.rows, unit.cols, unit.dataflow,
                                  scale=Fraction(unit.cycles_per_mac), a_bits_run=bits,
                                  b_bits_run=bits, is_float=True)
    lanes = unit.cols
    folds = m * -(-n // lanes)
    stream = folds * k * unit.cycles_per_mac
    traffic = operand_traffic(m, n, k, 1, lanes, "os")
    feed = (traffic["a_reads"] * a_bytes + traffic["b_reads"] * b_bytes
            + (traffic["out_writes"] + traffic["out_reads"]) * out_bytes)
    cycles = max(stream, ceil(feed / float(unit.operand_bytes_per_cycle or 1)))
    macs = m * n * k
    return GemmTiming(
        compute_cycles=cycles, macs=macs,
        utilization=macs * unit.cycles_per_mac / (cycles * lanes),
        mapping_efficiency=n / (-(-n // lanes) * lanes), folds=folds, stream_cycles=stream,
        fill_drain_cycles=0, a_bits_run=bits, b_bits_run=bits, is_float=True,
        stream_scale=float(unit.cycles_per_mac), **traffic)


def unit_component(name: str, placement: str) -> str:
    """Ledger component of a unit's rows: `array` for the PEs (integer or `pe` float datapath),
    `unit:<name>` for a vector unit."""
    return ARRAY if placement in (ARRAY, "pe") else f"unit:{name}"


LOGIC_DENSITY_BANK = (16384, 64)
"""(bytes, word bits) of the CACTI 45 nm bank whose leakage per area stands for the logic's."""


def logic_leakage_uw_per_um2(hw: HardwareSpec) -> float:
    """Leakage per µm² of the chip's logic: that of a 16 KB, 64-bit CACTI 45 nm bank of the
    global buffer's cell type (the committed table), so logic and SRAM on one chip share one
    process (assumption: no published leakage for these datapaths; docs/hardware.md)."""
    bank = bank_costs(hw.global_buffer.cells, *LOGIC_DENSITY_BANK)
    return bank.leakage_mw * 1e3 / (bank.area_mm2 * UM2_PER_MM2)  # mW/mm² -> µW/µm²


def instance_leakage_uw(hw: HardwareSpec, unit: ComputeUnitSpec | None = None) -> float:
    """Leakage in µW of one PE's integer datapath (`unit` None) or one instance of `unit`: the
    written override, else its area x `logic_leakage_uw_per_um2`."""
    written, area = ((hw.array.pe_leakage_uw, hw.array.pe_area_um2) if unit is None
                     else (unit.leakage_uw, unit.area_um2))
    return written if written is not None else area * logic_leakage_uw_per_um2(hw)


def compute_leakage_w(hw: HardwareSpec) -> dict[str, float]:
    """Leakage in W of the array and each compute unit, by ledger component."""
    out = {ARRAY: hw.array.rows * hw.array.cols * instance_leakage_uw(hw) / UW_PER_W}
    for unit in hw.compute_units:
        key = f"unit:{unit.name}"
        out[key] = out.get(key, 0.0) + (_instances(hw, unit) * instance_leakage_uw(hw, unit)
                                        / UW_PER_W)
    return out


def compute_area_parts(hw: HardwareSpec) -> list[tuple[str, float]]:
    """(part, mm²) of the integer array and of every compute unit (instances x area)."""
    parts = [(ARRAY, hw.array.rows * hw.array.cols * hw.array.pe_area_um2 / UM2_PER_MM2)]
    parts += [(f"unit:{u.name}", _instances(hw, u) * u.area_um2 / UM2_PER_MM2)
              for u in hw.compute_units]
    return parts


SRAM_MM2_PER_KB_FALLBACK = 0.108577 / 16
"""mm² per KB of SRAM for a memory model that states no `area_mm2` of its own: CACTI at 45 nm
(itrs-hp, 360 K, one read-write port), a 16 KB bank of 0.108577 mm² (Bit Fusion simulator's
bitfusion/sram/cacti_sweep.csv, the 16384-byte row; the figure `rctsim sweep` uses for
`sram_area_mm2`)."""


def memory_area_mm2(model: object, pes: int) -> float:
    """A memory's area: its model's `area_mm2` (all instances) when it has one, else its
    capacity (x PEs for pe_local) x SRAM_MM2_PER_KB_FALLBACK."""
    area = getattr(model, "area_mm2", None)
    if area is not None:
        return float(area)
    memory = model.memory  # type: ignore[attr-defined]
    count = pes if memory.role == "pe_local" else 1
    return memory.size_bytes * count / 1024 * SRAM_MM2_PER_KB_FALLBACK


def memory_area_parts(hw: HardwareSpec, sram_models: dict[str, object]
                      ) -> list[tuple[str, float]]:
    """(`sram:<name>`, mm²) of every on-chip memory, all its instances."""
    pes = hw.array.rows * hw.array.cols
    return [(f"sram:{name}", memory_area_mm2(model, pes)) for name, model in sram_models.items()]


def chip_area_mm2(hw: HardwareSpec, sram_models: dict[str, object]) -> dict[str, object]:
    """Run JSON `area_mm2`: {"total": mm², "parts": {part: mm²}} over the array, the compute
    units and the memories (`sram:<name>`)."""
    parts = compute_area_parts(hw) + memory_area_parts(hw, sram_models)
    return {"total": sum(mm2 for _, mm2 in parts), "parts": dict(parts)}
