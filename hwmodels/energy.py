"""Energy scaling rules: pure functions from an `EnergyTable` to the energy of one action.

The table holds measured points; these rules fill the gaps (docs/hardware.md gives the equations):

- integer / fp multiply: power law in the product of operand bits, E = c * (a*b)^p, fitted
  piecewise through neighbouring table points in log-log space (extrapolated with the end
  segment); one point alone gives p = 1;
- integer / fp add: linear in bits, piecewise through the table points (end segments extrapolate);
- SRAM: 64-bit access energy is a power law in size (log-log interpolation, end segments
  extrapolate); other word widths scale linearly in word bits;
- DRAM: energy per bit = the 64-bit access energy / 64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hwmodels.schema import EnergyEntry, EnergyTable

DRAM_WORD_BITS = 64
"""The table's DRAM and SRAM entries are per 64-bit access (Horowitz, ISSCC 2014)."""


def _sorted_points(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    points = sorted(zip(xs, ys, strict=True))
    if not points:
        raise ValueError("no table points")
    if any(a[0] == b[0] for a, b in zip(points, points[1:], strict=False)):
        raise ValueError("duplicate table points")
    return points


def _segment(
    points: list[tuple[float, float]], x: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two neighbouring points whose segment covers x (end segments beyond the range)."""
    index = 0
    while index < len(points) - 2 and x > points[index + 1][0]:
        index += 1
    return points[index], points[index + 1]


def interp_linear(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Piecewise-linear interpolation through (xs, ys); end segments extrapolate.

    One point alone scales proportionally (y = y0 * x / x0). Where a downward extrapolation
    would reach zero or below, the result falls back to proportional scaling from the
    smallest point, so an energy never becomes non-positive.
    """
    points = _sorted_points(xs, ys)
    x_min, y_min = points[0]
    if len(points) == 1:
        return y_min * x / x_min
    (x0, y0), (x1, y1) = _segment(points, x)
    value = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return value if value > 0 else y_min * x / x_min


def interp_loglog(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Piecewise power-law interpolation through (xs, ys) in log-log space; ends extrapolate.

    Between points (x0, y0) and (x1, y1): y = y0 * (x / x0) ** p, p = ln(y1/y0) / ln(x1/x0).
    One point alone scales proportionally (p = 1).
    """
    points = _sorted_points(xs, ys)
    if len(points) == 1:
        x0, y0 = points[0]
        return y0 * x / x0
    (x0, y0), (x1, y1) = _segment(points, x)
    exponent = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * (x / x0) ** exponent


def _by_bits(entries: Sequence[EnergyEntry]) -> tuple[list[float], list[float]]:
    return [float(e.bits) for e in entries if e.bits is not None], [e.energy_pj for e in entries]


def int_add_pj(table: EnergyTable, bits: float) -> float:
    """Energy of one integer add of `bits` bits: linear in bits through the table points."""
    xs, ys = _by_bits(table.int_add)
    return interp_linear(xs, ys, bits)


def int_mult_pj(table: EnergyTable, a_bits: float, b_bits: float) -> float:
    """Energy of one a_bits x b_bits integer multiply: power law in a_bits * b_bits."""
    xs, ys = _by_bits(table.int_mult)
    return interp_loglog([x * x for x in xs], ys, a_bits * b_bits)


def fp_add_pj(table: EnergyTable, bits: float) -> float:
    """Energy of one floating-point add of `bits` bits: linear in bits through the table."""
    xs, ys = _by_bits(table.fp_add)
    return interp_linear(xs, ys, bits)


def fp_mult_pj(table: EnergyTable, bits: float) -> float:
    """Energy of one floating-point multiply of `bits` bits: power law in bits * bits."""
    xs, ys = _by_bits(table.fp_mult)
    return interp_loglog([x * x for x in xs], ys, bits * bits)


def int_mac_pj(table: EnergyTable, a_bits: float, b_bits: float, acc_bits: float = 32) -> float:
    """Energy of one integer MAC: multiply(a_bits, b_bits) + add(acc_bits)."""
    return int_mult_pj(table, a_bits, b_bits) + int_add_pj(table, acc_bits)


def fp_mac_pj(table: EnergyTable, bits: float = 32) -> float:
    """Energy of one floating-point MAC: fp multiply(bits) + fp add(bits)."""
    return fp_mult_pj(table, bits) + fp_add_pj(table, bits)


def fp32_mac_pj(table: EnergyTable) -> float:
    """Energy of one fp32 MAC: fp multiply 32 + fp add 32."""
    return fp_mac_pj(table, 32)


def sram_64b_pj(table: EnergyTable, size_bytes: float) -> float:
    """Energy of one 64-bit access to an SRAM of `size_bytes`: power law in size."""
    xs = [float(e.size_bytes) for e in table.sram_64b if e.size_bytes is not None]
    ys = [e.energy_pj for e in table.sram_64b]
    return interp_loglog(xs, ys, size_bytes)


def sram_word_pj(table: EnergyTable, size_bytes: float, word_bits: float = 64) -> float:
    """Energy of one `word_bits`-wide access to an SRAM of `size_bytes` (linear in word bits)."""
    return sram_64b_pj(table, size_bytes) * word_bits / DRAM_WORD_BITS


def sram_pj_per_byte(table: EnergyTable, size_bytes: float) -> float:
    """Access energy per byte moved to or from an SRAM of `size_bytes`."""
    return sram_64b_pj(table, size_bytes) / (DRAM_WORD_BITS / 8)


def dram_pj_per_bit(table: EnergyTable) -> float:
    """DRAM access energy per bit: the table's 64-bit access energy / 64."""
    return table.dram_64b.energy_pj / DRAM_WORD_BITS


def dram_pj_per_byte(table: EnergyTable) -> float:
    """DRAM access energy per byte."""
    return 8 * dram_pj_per_bit(table)
