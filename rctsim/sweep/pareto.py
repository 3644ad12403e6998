"""Pareto fronts over user-chosen objectives, each minimised or maximised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rctsim.errors import InputError
from rctsim.sweep.metrics import METRIC_COLUMNS

ALIASES: dict[str, tuple[str, str]] = {
    "energy": ("energy_pj", "min"),
    "latency": ("latency_s", "min"),
    "param_memory": ("param_memory_bytes", "min"),
    "peak_memory": ("peak_memory_bytes", "min"),
    "accuracy": ("accuracy", "max"),
    "sram": ("sram_bytes", "min"),
    "area": ("area_mm2", "min"),
    "sram_area": ("sram_area_mm2", "min"),
}
"""Objective name -> (column, default sense)."""

OBJECTIVE_COLUMNS: tuple[str, ...] = (*METRIC_COLUMNS, "sram_bytes", "sram_total_bytes",
                                      "sram_area_mm2")
"""Columns any objective may name directly."""


@dataclass(frozen=True)
class Objective:
    """One objective: a column and whether larger is better."""

    name: str
    """As the user wrote it (`energy`)."""
    column: str
    """The store column (`energy_pj`)."""
    maximise: bool
    """True: larger is better."""

    def __str__(self) -> str:
        return f"{self.name}:{'max' if self.maximise else 'min'}"


def parse_objective(source: str, field: str, text: str) -> Objective:
    """`NAME`, `NAME:min` or `NAME:max` with NAME an alias or a metric column."""
    name, _, sense = str(text).partition(":")
    name = name.strip()
    if name in ALIASES:
        column, default = ALIASES[name]
    elif name in OBJECTIVE_COLUMNS:
        column, default = name, "min"
    else:
        raise InputError(source, field, f"unknown objective {name!r}",
                         ", ".join([*ALIASES, *OBJECTIVE_COLUMNS]))
    sense = sense.strip() or default
    if sense not in ("min", "max"):
        raise InputError(source, field, f"{text!r}: sense {sense!r}", "min or max")
    return Objective(name=name, column=column, maximise=sense == "max")


def pareto_mask(values: np.ndarray, maximise: Sequence[bool]) -> np.ndarray:
    """bool [n]: rows of `values` [n, k] that no other row dominates.

    Row a dominates row b when it is at least as good in every objective and better in one.
    Rows are visited in lexicographic order of their (minimised) objectives, so a row can only
    be dominated by one visited before it, and checking against the front found so far is
    enough (a dominated dominator is itself dominated by a front row).
    """
    v = np.asarray(values, dtype=np.float64) * np.where(maximise, -1.0, 1.0)
    mask = np.zeros(len(v), dtype=bool)
    front: list[int] = []
    for i in np.lexsort(v.T[::-1]) if len(v) else ():
        if front:
            f = v[front]
            if np.any(np.all(f <= v[i], axis=1) & np.any(f < v[i], axis=1)):
                continue
        front.append(int(i))
        mask[i] = True
    return mask


def pareto_front(rows: list[dict[str, Any]], objectives: Sequence[Objective]
                 ) -> list[dict[str, Any]]:
    """The rows on the front, in input order; rows missing an objective value are left out."""
    usable = [r for r in rows if all(r.get(o.column) is not None for o in objectives)]
    if not usable:
        return []
    values = np.array([[float(r[o.column]) for o in objectives] for r in usable])
    mask = pareto_mask(values, [o.maximise for o in objectives])
    return [r for r, keep in zip(usable, mask, strict=True) if keep]
