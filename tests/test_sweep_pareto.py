"""Pareto fronts: equal to a brute-force dominance check; objectives parsed with their senses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rctsim.errors import InputError
from rctsim.sweep.pareto import pareto_front, pareto_mask, parse_objective


def brute_force(values: np.ndarray, maximise: list[bool]) -> np.ndarray:
    """Row i is on the front iff no row j is as good everywhere and better somewhere."""
    n = len(values)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            better_or_equal = all((values[j, c] >= values[i, c]) if up else
                                  (values[j, c] <= values[i, c]) for c, up in enumerate(maximise))
            strictly = any((values[j, c] > values[i, c]) if up else
                           (values[j, c] < values[i, c]) for c, up in enumerate(maximise))
            if j != i and better_or_equal and strictly:
                keep[i] = False
                break
    return keep


@st.composite
def problems(draw):
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 40))
    small = draw(st.booleans())  # small integers: many ties and duplicates
    elements = (st.integers(0, 3).map(float) if small else
                st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
    values = draw(arrays(np.float64, (n, k), elements=elements))
    maximise = draw(st.lists(st.booleans(), min_size=k, max_size=k))
    return values, maximise


@settings(max_examples=300, deadline=None)
@given(problems())
def test_front_equals_brute_force(problem):
    """The fast front equals the definition on random data, ties and duplicates included."""
    values, maximise = problem
    assert np.array_equal(pareto_mask(values, maximise), brute_force(values, maximise))


def test_front_of_a_known_set():
    """Minimise energy, maximise accuracy: the dominated and the tied are told apart."""
    rows = [{"id": 0, "energy_pj": 1.0, "accuracy": 0.5},
            {"id": 1, "energy_pj": 2.0, "accuracy": 0.9},
            {"id": 2, "energy_pj": 2.0, "accuracy": 0.8},   # dominated by 1
            {"id": 3, "energy_pj": 1.0, "accuracy": 0.5},   # equal to 0: both stay
            {"id": 4, "energy_pj": 3.0, "accuracy": None},  # no accuracy: left out
            {"id": 5, "energy_pj": 0.5, "accuracy": 0.1}]
    objectives = [parse_objective("s", "objectives[0]", "energy"),
                  parse_objective("s", "objectives[1]", "accuracy")]
    assert [r["id"] for r in pareto_front(rows, objectives)] == [0, 1, 3, 5]
    flipped = [parse_objective("s", "o", "energy:max"), parse_objective("s", "o", "accuracy")]
    assert [r["id"] for r in pareto_front(rows, flipped)] == [1]


def test_objective_names_and_senses():
    """Aliases map to columns with their default sense; a column name minimises by default."""
    assert (parse_objective("s", "o", "accuracy").column,
            parse_objective("s", "o", "accuracy").maximise) == ("accuracy", True)
    assert parse_objective("s", "o", "area").column == "area_mm2"
    assert parse_objective("s", "o", "sram_area").column == "sram_area_mm2"
    assert parse_objective("s", "o", "dram_traffic_bytes:max").maximise
    assert not parse_objective("s", "o", "peak_memory").maximise
    with pytest.raises(InputError, match="unknown objective 'speed'"):
        parse_objective("s", "objectives[0]", "speed")
    with pytest.raises(InputError, match="sense 'least'"):
        parse_objective("s", "objectives[0]", "energy:least")
