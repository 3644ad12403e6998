"""The ledger: aggregate counters keyed by (layer, op, component, action, tensor, bits).

Every count the simulation makes lands here as one row with its quantity (MACs, bytes, seconds)
and its energy in pJ; totals and breakdowns are derived from the rows, except the total energy
of all rows, which is also kept as rows are added (`total()` with no filter is asked once per
simulated phase; it equals the sum over the rows up to rounding, 1e-15 relative per addition).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

KEY_FIELDS: tuple[str, ...] = ("layer", "op", "component", "action", "tensor", "bits")
"""The fields a ledger row is keyed by."""


@dataclass(frozen=True)
class Row:
    """One aggregated counter."""

    layer: str
    """Layer name (`*` for step-wide rows such as leakage)."""
    op: str
    """fwd, dgrad, wgrad, update (or `*`)."""
    component: str
    """array, vector, sram:<name>, dram, leakage."""
    action: str
    """mac, update_mac, read, write, leak."""
    tensor: str
    """Tensor class (rctsim.storage.TENSORS) or `-`."""
    bits: str
    """Operand formats, e.g. `int8xint8`, `fp32`."""
    quantity: float
    """MACs, bytes or seconds."""
    energy_pj: float


class Ledger:
    """Accumulates rows; adding the same key again sums quantities and energies."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, ...], list[float]] = defaultdict(_new_cell)
        self._energy = 0.0  # sum of every row's energy, kept as rows are added (`total()`)
        self._present: dict[int, set[str]] = {}  # key position -> values in the rows (a cache)
        self._sorted: list[Row] | None = None  # rows() until a row changes (a cache)

    def add(self, *, layer: str, op: str, component: str, action: str, tensor: str, bits: str,
            quantity: float, energy_pj: float) -> None:
        """Add one count."""
        self.add_key((layer, op, component, action, tensor, bits), quantity, energy_pj)

    def add_key(self, key: tuple[str, str, str, str, str, str], quantity: float,
                energy_pj: float) -> None:
        """`add` with the key given as a (layer, op, component, action, tensor, bits) tuple."""
        if quantity == 0 and energy_pj == 0:
            return
        cell = self._rows[key]
        if self._present:
            self._present = {}
        self._sorted = None
        cell[0] += quantity
        cell[1] += energy_pj
        self._energy += energy_pj

    def add_many(self, rows: list[tuple[tuple[str, ...], float, float]]) -> None:
        """`add_key(key, quantity, energy_pj)` for each row in order, in one call."""
        cells = self._rows
        energy = self._energy
        changed = False
        for key, quantity, energy_pj in rows:
            if quantity == 0 and energy_pj == 0:
                continue
            changed = True
            cell = cells.get(key)
            if cell is None:
                cells[key] = [0.0 + quantity, 0.0 + energy_pj]
            else:
                cell[0] += quantity
                cell[1] += energy_pj
            energy += energy_pj
        if changed:
            self._energy = energy
            if self._present:
                self._present = {}
            self._sorted = None

    def extend(self, other: Ledger, times: float = 1.0) -> None:
        """Add every row of `other`, multiplied by `times` (iterations of a phase)."""
        rows = self._rows
        if self._present:
            self._present = {}
        self._sorted = None
        for key, (q, e) in other._rows.items():
            cell = rows.get(key)
            if cell is None:
                rows[key] = [0.0 + q * times, 0.0 + e * times]
            else:
                cell[0] += q * times
                cell[1] += e * times
        self._energy += other._energy * times

    def copy(self) -> Ledger:
        """An independent ledger with the same rows, in the same order."""
        out = Ledger()
        out._rows = defaultdict(_new_cell, {key: cell[:] for key, cell in self._rows.items()})
        out._energy = self._energy
        return out

    def rows(self) -> list[Row]:
        """All rows, sorted by key."""
        if self._sorted is None:
            self._sorted = [Row(*key, quantity=q, energy_pj=e)
                            for key, (q, e) in sorted(self._rows.items())]
        return list(self._sorted)

    def total(self, field: str = "energy_pj", **where: str | tuple[str, ...]) -> float:
        """Sum of `quantity` or `energy_pj` over rows matching `where` (a value or a tuple)."""
        idx = 0 if field == "quantity" else 1
        if not where and idx == 1:
            return self._energy
        tests = self._tests(where)
        rows = self._rows.items()
        # the same rows added in the same (insertion) order as a plain scan; one filtered
        # field or two tested without a generator per row (summaries ask ~20 such totals)
        if len(tests) == 1:
            (p, a), = tests
            return sum([cell[idx] for key, cell in rows if key[p] in a], 0.0)
        if len(tests) == 2:
            (p, a), (q, b) = tests
            return sum([cell[idx] for key, cell in rows if key[p] in a and key[q] in b], 0.0)
        return sum((cell[idx] for key, cell in rows
                   if all(key[pos] in allowed for pos, allowed in tests)), 0.0)

    def breakdown(self, by: str, field: str = "energy_pj", **where) -> dict[str, float]:
        """Sums grouped by one key field."""
        idx, pos = (0 if field == "quantity" else 1), KEY_FIELDS.index(by)
        tests = self._tests(where)
        out: dict[str, float] = defaultdict(float)
        if not tests:
            for key, cell in self._rows.items():
                out[key[pos]] += cell[idx]
            return dict(out)
        for key, cell in self._rows.items():
            if all(key[p] in allowed for p, allowed in tests):
                out[key[pos]] += cell[idx]
        return dict(out)

    def _tests(self, where: dict) -> list[tuple[int, frozenset[str]]]:
        """Per filtered field: its position in the key and the values present in the rows
        that match the filter (each distinct value is matched once, not once per row)."""
        tests = []
        for f, want in where.items():
            pos = KEY_FIELDS.index(f)
            present = self._present.get(pos)
            if present is None:
                present = self._present[pos] = {key[pos] for key in self._rows}
            tests.append((pos, frozenset(v for v in present if _match(v, want))))
        return tests


def _new_cell() -> list[float]:
    """[quantity, energy] of a new row (a module function: a ledger pickles)."""
    return [0.0, 0.0]


def _match(value: str, want: str | tuple[str, ...]) -> bool:
    if isinstance(want, tuple):
        return value in want or any(value.startswith(w[:-1]) for w in want if w.endswith("*"))
    return value == want or (want.endswith("*") and value.startswith(want[:-1]))


class Query:
    """Several totals and breakdowns of a ledger answered in one pass over its rows.

    Each answer adds the same cells in the same (insertion) order as `Ledger.total` and
    `Ledger.breakdown` do, so the numbers are the same to the last bit. Which answers a row
    feeds depends only on its key; that is worked out once per key and kept (at most
    `MAX_KEYS` keys, then forgotten and worked out again), so a query asked of many ledgers
    with the same keys (the phases of a run, the points of a sweep) tests each key once.
    """

    MAX_KEYS = 1 << 16

    def __init__(self, totals: Sequence[tuple[str, dict]],
                 breakdowns: Sequence[tuple[str, str, dict]] = ()) -> None:
        """`totals`: (field, where) pairs as `Ledger.total` takes them; `breakdowns`:
        (by, field, where) triples as `Ledger.breakdown` takes them."""
        self._totals = [(0 if f == "quantity" else 1, dict(w)) for f, w in totals]
        self._breakdowns = [(KEY_FIELDS.index(by), 0 if f == "quantity" else 1, dict(w))
                            for by, f, w in breakdowns]
        for _, where in self._totals + [(i, w) for _, i, w in self._breakdowns]:
            for name in where:
                KEY_FIELDS.index(name)  # ValueError on an unknown field, as total() raises
        self._classes: dict[tuple[str, ...], tuple[tuple, tuple]] = {}

    def _classify(self, key: tuple[str, ...]) -> tuple[tuple, tuple]:
        def ok(where: dict) -> bool:
            return all(_match(key[KEY_FIELDS.index(f)], v) for f, v in where.items())

        totals = tuple((j, idx) for j, (idx, where) in enumerate(self._totals) if ok(where))
        groups = tuple((j, key[pos], idx) for j, (pos, idx, where) in enumerate(self._breakdowns)
                       if ok(where))
        return totals, groups

    def run(self, ledger: Ledger, start: tuple | None = None
            ) -> tuple[list[float], list[dict[str, float]]]:
        """(the totals, the breakdowns), in the order they were given.

        `start`: `state()` of a ledger whose rows are the first rows of this one, unchanged
        (this ledger is that one with rows added under new keys): the pass goes on from there
        over the added rows only, so the sums are the ones a whole pass gives."""
        if start is None:
            acc = [0.0] * len(self._totals)
            outs: list[dict[str, float]] = [{} for _ in self._breakdowns]
            rows = ledger._rows.items()
        else:
            done, acc, outs = start
            acc, outs = list(acc), [dict(out) for out in outs]
            rows = itertools.islice(ledger._rows.items(), done, None)
        classes = self._classes
        if len(classes) > self.MAX_KEYS:
            classes.clear()
        for key, cell in rows:
            got = classes.get(key)
            if got is None:
                got = classes[key] = self._classify(key)
            totals, groups = got
            for j, idx in totals:
                acc[j] += cell[idx]
            for j, name, idx in groups:  # the group's name: the key's value at its field
                out = outs[j]
                out[name] = out.get(name, 0.0) + cell[idx]
        return acc, outs

    def state(self, ledger: Ledger) -> tuple:
        """The pass over `ledger` as `run(start=...)` takes it up."""
        return (len(ledger._rows), *self.run(ledger))
