"""Arithmetic area at 45 nm: Horowitz's published areas and the rule that fills the gaps.

M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, the table
of operation energy *and area* at 45 nm (the same table the `horowitz_45nm` energies come from):
8-bit add 36 µm², 16-bit add 67 µm², 32-bit add 137 µm², 8-bit multiply 282 µm², 32-bit multiply
3495 µm², 16-bit FP add 1360 µm², 32-bit FP add 4184 µm², 16-bit FP multiply 1640 µm², 32-bit FP
multiply 7700 µm². Between points the same rules as the energies apply (hwmodels.energy):
multipliers a power law in the product of operand bits, adders linear in bits.
"""

from __future__ import annotations

from hwmodels.energy import interp_linear, interp_loglog

INT_ADD_UM2 = {8: 36.0, 16: 67.0, 32: 137.0}
"""Integer adder area by bits (Horowitz ISSCC 2014, 45 nm)."""
INT_MULT_UM2 = {8: 282.0, 32: 3495.0}
"""Integer multiplier area by (square) operand bits (Horowitz ISSCC 2014, 45 nm)."""
FP_ADD_UM2 = {16: 1360.0, 32: 4184.0}
"""Floating-point adder area by bits (Horowitz ISSCC 2014, 45 nm)."""
FP_MULT_UM2 = {16: 1640.0, 32: 7700.0}
"""Floating-point multiplier area by bits (Horowitz ISSCC 2014, 45 nm)."""


def int_mac_um2(a_bits: int, b_bits: int, acc_bits: int = 32) -> float:
    """Area of an integer MAC at 45 nm: multiplier(a x b) + adder(acc)."""
    mult = interp_loglog([b * b for b in INT_MULT_UM2], list(INT_MULT_UM2.values()),
                         a_bits * b_bits)
    return mult + interp_linear(list(INT_ADD_UM2), list(INT_ADD_UM2.values()), acc_bits)


def fp_mac_um2(bits: int, acc_bits: int | None = None) -> float:
    """Area of a floating-point MAC at 45 nm: FP multiplier(bits) + FP adder(acc_bits)."""
    acc = acc_bits or bits
    mult = interp_loglog([b * b for b in FP_MULT_UM2], list(FP_MULT_UM2.values()), bits * bits)
    return mult + interp_linear(list(FP_ADD_UM2), list(FP_ADD_UM2.values()), acc)
