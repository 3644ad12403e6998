"""Energy of one elementwise primitive op (add, multiply, compare) at a number format.

Every number comes from the energy table through the scaling rules of `hwmodels.energy`:

- add: integer add of `bits` (`int_add_pj`) or floating-point add (`fp_add_pj`);
- multiply: integer `bits x bits` multiply (`int_mult_pj`) or floating-point multiply
  (`fp_mult_pj`);
- compare (and select): an integer add of the same width. Assumption: a comparator is a
  subtractor whose sign bit is kept; a floating-point compare is an integer compare of the
  sign-magnitude bit patterns (IEEE 754 orders them so), hence also an integer add of `bits`.
- random bits: `rctsim.nongemm.random_bit_ops` counts xorshift32 steps; each is priced as a
  32-bit integer add (assumption: a 32-bit shift-xor costs no more than a 32-bit add).
"""

from __future__ import annotations

from hwmodels import energy
from hwmodels.schema import EnergyTable

RNG_WORD_BITS = 32
"""Width of the random-number generator's word (xorshift32)."""


def op_energy_pj(table: EnergyTable, op: str, bits: int, is_float: bool) -> float:
    """Energy in pJ of one `op` (`add`, `mul` or `cmp`) at `bits` (float or integer)."""
    if op == "add":
        return energy.fp_add_pj(table, bits) if is_float else energy.int_add_pj(table, bits)
    if op == "mul":
        return energy.fp_mult_pj(table, bits) if is_float else energy.int_mult_pj(table, bits,
                                                                                     bits)
    if op == "cmp":
        return energy.int_add_pj(table, bits)
    raise ValueError(f"unknown elementwise op {op!r}")


def rng_op_pj(table: EnergyTable) -> float:
    """Energy in pJ of one shift-xor step of the random-number generator (a 32-bit add)."""
    return energy.int_add_pj(table, RNG_WORD_BITS)


class ElementwiseEnergy:
    """`op_energy_pj` and `rng_op_pj` of one energy table, each answer computed once (a machine
    prices the same few (op, bits, float) triples for every op of every phase)."""

    def __init__(self, table: EnergyTable) -> None:
        self.table = table
        self._memo: dict[tuple, float] = {}

    def op_pj(self, op: str, bits: int, is_float: bool) -> float:
        """`op_energy_pj(table, op, bits, is_float)`."""
        key = (op, bits, is_float)
        pj = self._memo.get(key)
        if pj is None:
            pj = self._memo[key] = op_energy_pj(self.table, op, bits, is_float)
        return pj

    def rng_pj(self) -> float:
        """`rng_op_pj(table)`."""
        pj = self._memo.get(("rng",))
        if pj is None:
            pj = self._memo[("rng",)] = rng_op_pj(self.table)
        return pj
