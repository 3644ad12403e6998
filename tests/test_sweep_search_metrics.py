"""Hypervolume against closed forms, and the axis-importance measure against a hand case."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rctsim.sweep.pareto import Objective
from rctsim.sweep.search_metrics import (
    REFERENCE,
    Normaliser,
    hypervolume,
    hypervolume_curve,
    importance,
)


@pytest.mark.parametrize("m", [1, 2, 5, 40])
def test_hypervolume_of_a_linear_front_in_2d(m):
    """Points (i/m, 1 - i/m), reference (1, 1): the staircase below the line x + y = 1 has
    area sum_{i<m} (1/m)(i/m) = (m - 1) / (2m)."""
    front = np.array([[i / m, 1 - i / m] for i in range(m + 1)])
    assert hypervolume(front, [1.0, 1.0]) == pytest.approx((m - 1) / (2 * m))


def test_hypervolume_hand_staircase_and_dominated_points():
    """{(1,3), (2,2), (3,1)} with reference (4,4): 1x1 + 1x2 + 1x3 = 6; a dominated point and
    a point beyond the reference add nothing."""
    front = np.array([[1, 3], [2, 2], [3, 1]], dtype=float)
    assert hypervolume(front, [4, 4]) == pytest.approx(6.0)
    more = np.vstack([front, [[2.5, 2.5], [5, 0.5], [3, 3]]])
    assert hypervolume(more, [4, 4]) == pytest.approx(6.0)
    assert hypervolume(np.empty((0, 2)), [4, 4]) == 0.0


def test_hypervolume_3d_boxes_by_inclusion_exclusion():
    """Two boxes from (1,2,3) and (2,1,2) to (4,4,4): 3*2*1 + 2*3*2 - 2*2*1 = 14."""
    pts = np.array([[1, 2, 3], [2, 1, 2]], dtype=float)
    assert hypervolume(pts, [4, 4, 4]) == pytest.approx(14.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(*(st.integers(0, 5),) * 3), min_size=1, max_size=8))
def test_hypervolume_3d_equals_counting_unit_cells(points):
    """On integer points with reference (6,6,6): the volume is the number of unit cells
    [x,x+1]x[y,y+1]x[z,z+1] some point dominates (a second, independent computation)."""
    pts = np.array(points, dtype=float)
    cells = sum(1 for c in itertools.product(range(6), repeat=3)
                if any(all(p[k] <= c[k] for k in range(3)) for p in points))
    assert hypervolume(pts, [6, 6, 6]) == pytest.approx(cells)


def test_normalised_curve_ends_at_the_whole_front():
    """Normalisation maps the front's ideal to 0 and its nadir to 1 (or, with scope all, the
    best and worst of every row); a maximised objective is negated; the curve only grows."""
    objectives = (Objective("energy", "energy_pj", False), Objective("acc", "accuracy", True))
    rows = [{"status": "ok", "energy_pj": e, "accuracy": a}
            for e, a in ((10.0, 0.5), (30.0, 0.9), (20.0, 0.7), (40.0, 0.4))]
    # front: the first three; energy 10..30, -accuracy -0.9..-0.5 -> (0, 1), (1, 0), (.5, .5)
    front = 0.5 * (1.1 - 1) + 0.5 * (1.1 - 0.5) + (1.1 - 1) * 1.1
    norm = Normaliser(rows, objectives)
    assert norm.hypervolume(rows) == pytest.approx(front)
    # over all rows: energy 10..40, -accuracy -0.9..-0.4 -> (0, .8), (2/3, 0), (1/3, .4)
    every = (1.1 - 0) * (1.1 - 0.8) + (1.1 - 1 / 3) * (0.8 - 0.4) + (1.1 - 2 / 3) * 0.4
    assert Normaliser(rows, objectives, scope="all").hypervolume(rows) == pytest.approx(every)
    curve = hypervolume_curve([*rows, {"status": "error"}], norm)
    assert curve == sorted(curve) and curve[-1] == pytest.approx(front)
    best = [{"status": "ok", "energy_pj": 10.0, "accuracy": 0.9}]
    assert norm.hypervolume(best) == pytest.approx(REFERENCE ** 2)


@pytest.mark.parametrize("seed", range(3))
def test_curve_equals_the_hypervolume_of_every_prefix(seed):
    """The curve skips points a front point weakly dominates (duplicates included); every value
    still equals the hypervolume of the rows evaluated so far, computed from scratch."""
    rng = np.random.default_rng(seed)
    objectives = tuple(Objective(n, n, False) for n in ("a", "b", "c"))
    grid = rng.integers(0, 6, size=(80, 3)).astype(float)  # many ties and repeats
    rows = [{"status": "ok", "a": x, "b": y, "c": z} for x, y, z in grid]
    norm = Normaliser(rows, objectives)
    curve = hypervolume_curve(rows, norm)
    assert curve == [pytest.approx(norm.hypervolume(rows[:i + 1]), rel=1e-12)
                     for i in range(len(rows))]


def test_importance_of_an_additive_hand_case():
    """log10 y = a + 2b on the full grid a in {0,1}, b in {0,1,2}: var(a) = 1/4,
    var(2b) = 4 * 2/3 = 8/3, independent, so eta²(a) = (1/4)/(1/4 + 8/3) and eta²(b) the rest;
    an axis that does not matter gets 0."""
    rows = [{"status": "ok", "energy_pj": 10.0 ** (a + 2 * b), "params": {"a": a, "b": b,
                                                                          "c": "same"}}
            for a in (0, 1) for b in (0, 1, 2)]
    shares = importance(rows, ["a", "b", "c"], "energy_pj")
    total = 0.25 + 8 / 3
    assert shares["a"] == pytest.approx(0.25 / total)
    assert shares["b"] == pytest.approx((8 / 3) / total)
    assert shares["c"] == pytest.approx(0.0)


def test_importance_bins_a_continuous_axis():
    """y depends on x only through x > 0.5: with 8 equal-count bins over 64 distinct values
    the bins separate the two halves exactly, so x explains all of it."""
    xs = np.linspace(0.01, 0.99, 64)
    rows = [{"status": "ok", "latency_s": 2.0 if x > 0.5 else 1.0, "params": {"x": float(x)}}
            for x in xs]
    assert importance(rows, ["x"], "latency_s")["x"] == pytest.approx(1.0)
