"""Banked on-chip SRAM calibrated on CACTI at 45 nm (the committed tables in `hwmodels/memory/`).

A memory of capacity C in B banks of C/B bytes, accessed `w` bits at a time (docs/hardware.md §3):

- an access costs one bank's access energy E_bank(C/B, w) plus the wiring from the memory's port
  to that bank, which grows with the span of the whole memory:
  E = E_bank(C/B, w) + k_wire * w * sqrt(A_bank) * (sqrt(B) - 1), where A_bank is one bank's area
  (so the whole memory spans sqrt(B * A_bank)) and k_wire (pJ per bit per mm) is fitted to CACTI's
  own multi-bank runs in the table;
- leakage = B * leakage of one bank; area = B * area of one bank.

Bank quantities come from the table's single-bank rows: exact at a table point, else power-law
interpolation in bank size between the two neighbouring sizes (at each neighbouring word width)
and linear interpolation in word width. Outside the table (a bank smaller than CACTI can organise
or larger than 16 MiB, a word wider than 2048 bits) is an error, never an extrapolation.
"""

from __future__ import annotations

import bisect
import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

CellType = Literal["itrs-hp", "itrs-lop", "itrs-lstp"]
"""CACTI device types of the memory's cells and periphery."""

CELL_TYPES: tuple[str, ...] = ("itrs-hp", "itrs-lop", "itrs-lstp")
"""Every cell type the table holds."""

TABLE_FILES = ("cacti_45nm_sram.csv", "cacti_45nm_sram_16mib.csv")
"""The committed CACTI sweeps (tools/cacti_sweep.py wrote them; the second adds 16 MiB banks),
in `hwmodels/memory/`."""

ALLOWED_BANKS = ("banks so that each bank holds 64 B .. 16 MiB and at least 32 words; "
                 "word_bits 8 .. 2048")
"""What the CACTI table covers, for error messages."""

QUANTITIES = ("read_pj", "write_pj", "leakage_mw", "area_mm2")
"""Per-bank quantities interpolated from the table."""


@dataclass(frozen=True)
class BankCosts:
    """What one bank of a given size and word width costs (CACTI, interpolated)."""

    read_pj: float
    """Energy of one read access."""
    write_pj: float
    """Energy of one write access."""
    leakage_mw: float
    """Leakage power of the bank."""
    area_mm2: float
    """Area of the bank."""


@dataclass(frozen=True)
class CactiTable:
    """The CACTI sweep: single-bank points by (cells, size, word) and the fitted wiring term."""

    points: dict[tuple[str, int, int], BankCosts]
    """(cells, bank bytes, word bits) -> the bank's costs."""
    sizes: tuple[int, ...]
    """Bank sizes swept, ascending."""
    words: tuple[int, ...]
    """Word widths swept, ascending."""
    wire_pj_per_bit_mm: dict[str, float]
    """Fitted wiring energy k_wire per cell type, pJ per bit per mm."""
    header: tuple[str, ...]
    """The table's comment lines (CACTI version, command)."""


class OutsideTable(ValueError):
    """A bank the CACTI table does not cover (message says which bound)."""


@lru_cache(maxsize=1)
def _read_rows() -> tuple[list[dict[str, str]], tuple[str, ...]]:
    rows: list[dict[str, str]] = []
    header: list[str] = []
    for name in TABLE_FILES:
        text = (resources.files("hwmodels") / "memory" / name).read_text(encoding="utf-8")
        lines = text.splitlines()
        header += [line[2:] for line in lines if line.startswith("#")]
        rows += csv.DictReader(line for line in lines if not line.startswith("#"))
    return rows, tuple(header)


def _costs(row: dict[str, str]) -> BankCosts:
    return BankCosts(*(float(row[q]) for q in QUANTITIES))


def fit_wire(single: dict[tuple[str, int, int], BankCosts],
             banked: list[dict[str, str]], cells: str) -> float:
    """Least-squares k_wire through the origin: CACTI's multi-bank read energy minus one bank's
    (y) against w * sqrt(A_bank) * (sqrt(B) - 1) (x), over the table's multi-bank rows."""
    sxy = sxx = 0.0
    for row in banked:
        if row["cells"] != cells:
            continue
        banks, word = int(row["banks"]), int(row["word_bits"])
        bank = single.get((cells, int(row["size_bytes"]) // banks, word))
        if bank is None:
            continue
        x = word * math.sqrt(bank.area_mm2) * (math.sqrt(banks) - 1)
        y = float(row["read_pj"]) - bank.read_pj
        sxy += x * y
        sxx += x * x
    if sxx == 0:
        raise ValueError(f"the CACTI table has no multi-bank rows for {cells}")
    return sxy / sxx


def multibank_rows() -> list[dict[str, str]]:
    """The table's multi-bank rows: CACTI's own banked memories (what k_wire is fitted to)."""
    return [r for r in _read_rows()[0] if r["banks"] != "1"]


@lru_cache(maxsize=1)
def cacti_table() -> CactiTable:
    """The committed CACTI table, parsed once per process (it is package data, never edited)."""
    rows, header = _read_rows()
    single = {(r["cells"], int(r["size_bytes"]), int(r["word_bits"])): _costs(r)
              for r in rows if r["banks"] == "1"}
    banked = [r for r in rows if r["banks"] != "1"]
    wire = {cells: fit_wire(single, banked, cells) for cells in CELL_TYPES}
    return CactiTable(points=single, sizes=tuple(sorted({k[1] for k in single})),
                      words=tuple(sorted({k[2] for k in single})), wire_pj_per_bit_mm=wire,
                      header=header)


def _bracket(values: tuple[int, ...], x: float, what: str) -> tuple[int, int]:
    if x < values[0] or x > values[-1]:
        raise OutsideTable(f"{what} {x:g} is outside the CACTI table ({values[0]}..{values[-1]})")
    i = bisect.bisect_left(values, x)
    if values[i] == x:
        return values[i], values[i]
    return values[i - 1], values[i]


def _at_word(table: CactiTable, cells: str, size: float, word: int) -> BankCosts:
    lo, hi = _bracket(table.sizes, size, "bank size (bytes)")
    a, b = table.points.get((cells, lo, word)), table.points.get((cells, hi, word))
    if a is None or b is None:
        raise OutsideTable(f"CACTI cannot organise a {size:g}-byte bank with {word}-bit words "
                           f"(fewer than 32 rows)")
    if lo == hi:
        return a
    t = math.log(size / lo) / math.log(hi / lo)
    return BankCosts(*(getattr(a, q) * (getattr(b, q) / getattr(a, q)) ** t
                       if getattr(a, q) > 0 and getattr(b, q) > 0
                       else getattr(a, q) + (getattr(b, q) - getattr(a, q)) * t
                       for q in QUANTITIES))


def bank_costs(cells: str, bank_bytes: float, word_bits: int,
               table: CactiTable | None = None) -> BankCosts:
    """One bank's costs: exact at table points, else interpolated (module docstring).

    Raises `OutsideTable` for a bank or word the table does not cover.
    """
    table = table or cacti_table()
    lo, hi = _bracket(table.words, word_bits, "word width (bits)")
    a = _at_word(table, cells, bank_bytes, lo)
    if lo == hi:
        return a
    b = _at_word(table, cells, bank_bytes, hi)
    t = (word_bits - lo) / (hi - lo)
    return BankCosts(*(getattr(a, q) + (getattr(b, q) - getattr(a, q)) * t for q in QUANTITIES))


@dataclass(frozen=True)
class BankedSramCosts:
    """Costs of a whole banked memory (one instance)."""

    read_pj: float
    """Energy per word read: one bank's read plus the wiring to it."""
    write_pj: float
    """Energy per word written: one bank's write plus the wiring to it."""
    wire_pj: float
    """The wiring part of each access."""
    leakage_mw: float
    """Leakage of all banks."""
    area_mm2: float
    """Area of all banks."""


def banked_sram(cells: str, size_bytes: int, banks: int, word_bits: int,
                table: CactiTable | None = None) -> BankedSramCosts:
    """Access energy, leakage and area of a memory of `size_bytes` in `banks` banks."""
    table = table or cacti_table()
    bank = bank_costs(cells, size_bytes / banks, word_bits, table)
    wire = (table.wire_pj_per_bit_mm[cells] * word_bits * math.sqrt(bank.area_mm2)
            * (math.sqrt(banks) - 1))
    return BankedSramCosts(read_pj=bank.read_pj + wire, write_pj=bank.write_pj + wire,
                           wire_pj=wire, leakage_mw=banks * bank.leakage_mw,
                           area_mm2=banks * bank.area_mm2)
