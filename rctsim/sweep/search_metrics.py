"""How good a set of evaluated points is: the hypervolume of its front, and which axes matter.

Hypervolume is taken in a normalised, minimised space: each objective is negated when it is
maximised, then mapped linearly so that the ideal point of the reference rows' Pareto front is 0
and its nadir (the worst value of each objective among the front's points) is 1; the reference
point is 1.1 in every objective (`REFERENCE`). This is the usual convention for comparing
searches (normalise by the front's ideal and nadir, reference slightly beyond the nadir: Ishibuchi
et al., "How to specify a reference point in hypervolume calculation for fair performance
comparison", Evolutionary Computation 26(3), 2018): only the region near the front counts, so a
front that misses part of it loses a visible share. `scope="all"` normalises over every row
instead (the worst point of the whole space at 1), which counts the large, easily covered
region far from the front too. The volume is exact
(recursive slicing: sort by the last objective, sum slab thickness x the volume of the front
above it in one fewer dimension), fine for the fronts of a sweep (hundreds of points, 2-4
objectives).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rctsim.sweep.pareto import Objective, pareto_mask

REFERENCE = 1.1
"""Reference point of the normalised objectives: 10 % beyond the worst value of each, so the
front's extreme points still add volume."""

IMPORTANCE_BINS = 8
"""Bins (equal counts) a continuous axis is cut into for the importance measure."""


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """Volume dominated by `points` [n, k] (minimised) and bounded by `reference` [k]."""
    ref = np.asarray(reference, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    if not len(pts):
        return 0.0
    pts = pts[pareto_mask(pts, [False] * len(ref))]
    return _slice(pts, ref)


def _slice(pts: np.ndarray, ref: np.ndarray) -> float:
    k = pts.shape[1]
    if k == 1:
        return float(ref[0] - pts[:, 0].min())
    if k == 2:
        order = np.argsort(pts[:, 0], kind="stable")
        x, y = pts[order, 0], pts[order, 1]
        best = np.minimum.accumulate(y)
        widths = np.diff(np.append(x, ref[0]))
        return float(np.sum(widths * (ref[1] - best)))
    order = np.argsort(pts[:, -1], kind="stable")
    pts = pts[order]
    total = 0.0
    for i in range(len(pts)):
        top = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        thickness = top - pts[i, -1]
        if thickness > 0:
            above = pts[:i + 1, :-1]
            if k - 1 > 2:  # the 1- and 2-objective volumes take dominated points as they are
                above = above[pareto_mask(above, [False] * (k - 1))]
            total += thickness * _slice(above, ref[:-1])
    return total


def objective_matrix(rows: Sequence[dict[str, Any]], objectives: Sequence[Objective]
                     ) -> np.ndarray:
    """[n, k] objective values of rows, maximised ones negated (all minimised)."""
    sign = np.array([-1.0 if o.maximise else 1.0 for o in objectives])
    return np.array([[float(r[o.column]) for o in objectives] for r in rows],
                    dtype=np.float64).reshape(-1, len(objectives)) * sign


def usable(rows: Sequence[dict[str, Any]], objectives: Sequence[Objective]
           ) -> list[dict[str, Any]]:
    """The `ok` rows with a value for every objective."""
    return [r for r in rows if r.get("status") == "ok"
            and all(r.get(o.column) is not None for o in objectives)]


class Normaliser:
    """Maps objective values linearly per objective: the ideal point of the reference rows'
    front to 0 and its nadir to 1 (`scope="front"`), or the best and worst of all reference
    rows (`scope="all"`)."""

    def __init__(self, rows: Sequence[dict[str, Any]], objectives: Sequence[Objective],
                 scope: str = "front"):
        values = objective_matrix(usable(rows, objectives), objectives)
        if scope == "front" and len(values):
            values = values[pareto_mask(values, [False] * len(objectives))]
        elif scope not in ("front", "all"):
            raise ValueError(f"scope {scope!r}: front or all")
        self.objectives = tuple(objectives)
        self.low = values.min(axis=0) if len(values) else np.zeros(len(objectives))
        high = values.max(axis=0) if len(values) else np.ones(len(objectives))
        self.span = np.where(high > self.low, high - self.low, 1.0)

    def __call__(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """[n, k] normalised values of the usable rows."""
        return (objective_matrix(usable(rows, self.objectives), self.objectives)
                - self.low) / self.span

    def hypervolume(self, rows: Sequence[dict[str, Any]]) -> float:
        """Normalised hypervolume of the rows' front, reference 1.1 in every objective (points
        beyond it in some objective add nothing)."""
        return hypervolume(self(rows), [REFERENCE] * len(self.objectives))


def hypervolume_curve(rows: Sequence[dict[str, Any]], norm: Normaliser) -> list[float]:
    """Hypervolume after each of `rows` in order (error rows keep the previous value; so does a
    row that a front point already weakly dominates: it adds no volume, so the volume is not
    computed again)."""
    curve, front = [], np.empty((0, len(norm.objectives)))
    ref = [REFERENCE] * len(norm.objectives)
    value = 0.0
    for row in rows:
        new = norm([row])
        if len(new) and not np.any(np.all(front <= new[0], axis=1)):
            front = np.vstack([front, new])
            front = front[pareto_mask(front, [False] * front.shape[1])]
            value = hypervolume(front, ref)
        curve.append(value)
    return curve


def importance(rows: Sequence[dict[str, Any]], axes: Sequence[str], column: str,
               *, bins: int = IMPORTANCE_BINS) -> dict[str, float]:
    """Share of the variance of `column` each axis explains on its own (the correlation ratio
    eta² = between-group variance / total variance, grouping the rows by the axis's value;
    a numeric axis with more than `bins` distinct values is cut into `bins` equal-count bins;
    a point the axis does not apply to forms its own group). The column is taken as log10
    when all its values are positive (energies and times span decades). 0 when the column
    does not vary."""
    values, params = [], []
    for row in rows:
        if row.get("status") == "ok" and row.get(column) is not None:
            values.append(float(row[column]))
            params.append(row.get("params") or {})
    y = np.array(values, dtype=np.float64)
    if len(y) and np.all(y > 0):
        y = np.log10(y)
    total = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    out: dict[str, float] = {}
    for axis in axes:
        groups = _groups([p.get(axis) for p in params], bins)
        if total <= 0:
            out[axis] = 0.0
            continue
        between = sum(len(idx) * (y[idx].mean() - y.mean()) ** 2
                      for idx in groups.values())
        out[axis] = float(between / total)
    return out


def _groups(values: list[Any], bins: int) -> dict[Any, list[int]]:
    numeric = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    distinct = {str(v) for v in values}
    labels: list[Any]
    if len(numeric) == len(values) and len(distinct) > bins:
        edges = np.quantile(np.array(numeric, dtype=np.float64), np.linspace(0, 1, bins + 1))
        labels = [int(np.searchsorted(edges[1:-1], v, side="right")) for v in numeric]
    else:
        labels = [str(v) if v is not None else "(not applied)" for v in values]
    groups: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return groups
