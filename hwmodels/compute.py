"""Which compute unit runs elementwise work at a number format, and how fast.

PRE-MERGE FALLBACK (branch i10-nongemm): the compute-units engineer's version of this module
replaces it at merge with the same signature (`elementwise_unit(hw, fmt) -> UnitChoice`). Until
then the array's PEs serve as rows x cols SIMD lanes: one integer op per lane per cycle at any
supported integer width, floating point at `array.fp32_cycles_per_mac` cycles per op when the PEs
have an fp32 datapath (`array.fp32`). That is the assumption the update op already makes
(rctsim.counting).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hwmodels.schema import HardwareSpec
from rctsim.errors import InputError

FLOAT_FORMATS: tuple[str, ...] = ("fp16", "bf16", "fp32")
"""Floating-point formats a unit may be asked for."""


@dataclass(frozen=True)
class UnitChoice:
    """The unit that runs elementwise work at one format."""

    name: str
    """The unit's name in the hardware description (`array` for the PE array)."""
    lanes: int
    """Elements (primitive ops) processed per cycle at that format, after any cycles-per-op."""
    cycles_per_op: int
    """Cycles one lane needs per op at that format."""


def elementwise_unit(hw: HardwareSpec, fmt: str) -> UnitChoice:
    """The unit that runs elementwise ops at `fmt` (`int<bits>`, `fp16`, `bf16` or `fp32`)."""
    array = hw.array
    pes = array.rows * array.cols
    if fmt in FLOAT_FORMATS:
        if not array.fp32:
            raise InputError(hw.name, "array.fp32",
                             f"elementwise work at {fmt} needs a floating-point unit; units: "
                             "array (integer only)", "a unit with a floating-point datapath")
        per_op = array.fp32_cycles_per_mac
        return UnitChoice(name="array", lanes=max(1, pes // per_op), cycles_per_op=per_op)
    match = re.fullmatch(r"int(\d+)", fmt)
    if match is None:
        raise InputError(hw.name, "format", f"unknown number format {fmt!r}",
                         "int<bits>, fp16, bf16 or fp32")
    bits = int(match.group(1))
    widest = max(array.int_bits)
    if not 1 <= bits <= max(widest, 32):
        raise InputError(hw.name, "array.int_bits",
                         f"elementwise work at {fmt}: no unit does integers this wide; units: "
                         f"array (int up to {max(widest, 32)} bits)", f"int1..int{widest}")
    return UnitChoice(name="array", lanes=pes, cycles_per_op=1)
