"""Huge traces cost O(distinct phases): replay, run JSON, report and trace info (issue 14 item 1).

A trace whose bits toggle every iteration has as many phases as iterations but two distinct bit
patterns; its totals must equal those of the same two patterns run as two long phases (an
independent computation of the same sums), and every output stays bounded in size.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from rctsim.replay import MAX_PHASE_ENERGY_POINTS, phase_energy_series, simulate
from rctsim.report import build_run_report, figure_specs
from rctsim.report.trace_figures import MAX_COLUMNS, MAX_POINTS, cumulative_energy_j
from rctsim.trace import read_trace, trace_info, write_trace
from rctsim.trace.info import MAX_LISTED_PHASES
from rctsim.trace.model import Series, Trace
from tests.helpers import make_trace, mlp_layers

ITERATIONS = 2 * (MAX_PHASE_ENERGY_POINTS + 500)
A, B = (8, 8, 8, 32), (4, 8, 6, 32)


def toggling(iterations: int = ITERATIONS) -> Trace:
    """Bits A on even iterations, B on odd ones; a loss every iteration."""
    bits = np.array([A, B], dtype=np.uint8)[np.arange(iterations) % 2]
    bits = np.repeat(bits[:, None, :], 3, axis=1)
    tr = make_trace(mlp_layers(), iterations=iterations, starts=np.arange(iterations), bits=bits)
    it = np.arange(iterations)
    return Trace.build(header=tr.header, layers=tr.layers, phase_start=tr.phase_start,
                       phase_bits=tr.phase_bits, metrics={"loss": Series(it, 1.0 / (1 + it))})


def two_blocks(iterations: int = ITERATIONS) -> Trace:
    """The same two bit patterns, each for half the iterations, as two phases."""
    bits = np.repeat(np.array([A, B], dtype=np.uint8)[:, None, :], 3, axis=1)
    return make_trace(mlp_layers(), iterations=iterations, starts=(0, iterations // 2), bits=bits)


def _flat(values: dict, prefix: str = "") -> dict[str, float]:
    """Nested metric dicts (energy_pj.non_gemm.parts) as one level of dotted keys."""
    out: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_toggling_trace_totals_equal_two_long_phases():
    toggle = simulate("edge_npu", toggling(), baseline=None).policies["rct"]
    blocks = simulate("edge_npu", two_blocks(), baseline=None).policies["rct"]
    assert (toggle.phases, toggle.distinct_phases) == (ITERATIONS, 2)
    for field in ("energy_pj", "traffic_bytes", "macs", "cycles", "memory_bytes"):
        ours, ref = _flat(getattr(toggle, field)), _flat(getattr(blocks, field))
        assert ours == pytest.approx(ref, rel=1e-12), field
    # the JSON series is merged to its limit, and still sums to the total energy
    series = toggle.phase_energy
    assert len(series) == MAX_PHASE_ENERGY_POINTS
    assert sum(p["phases"] for p in series) == ITERATIONS
    assert series[0]["start"] == 0 and series[-1]["stop"] == ITERATIONS
    assert all(a["stop"] == b["start"] for a, b in zip(series, series[1:], strict=False))
    energy = sum(p["energy_pj_per_iteration"] * (p["stop"] - p["start"]) for p in series)
    assert energy == pytest.approx(toggle.energy_pj["total"], rel=1e-12)


def test_phase_energy_series_keeps_every_phase_up_to_the_limit():
    start, stop = np.array([0, 3, 4]), np.array([3, 4, 10])
    rates = np.array([1.0, 2.0, 5.0])
    full = phase_energy_series(start, stop, rates, limit=3)
    assert [p["energy_pj_per_iteration"] for p in full] == [1.0, 2.0, 5.0]
    assert all("phases" not in p for p in full)
    merged = phase_energy_series(start, stop, rates, limit=2)
    # linspace(0, 3, 3) cuts phases into [0] and [1, 2]: (2*1 + 5*6) / 7 per iteration
    assert [(p["start"], p["stop"], p["phases"]) for p in merged] == [(0, 3, 1), (3, 10, 2)]
    assert merged[1]["energy_pj_per_iteration"] == pytest.approx((2 * 1 + 5 * 6) / 7)


def test_huge_trace_file_roundtrip_and_digest(tmp_path):
    tr = toggling(20_000)
    path = tmp_path / "toggle.trace"
    write_trace(tr, path)
    back = read_trace(path)
    assert back == tr
    assert back.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    info = trace_info(path)
    assert info["sha256"] == back.file_sha256
    assert info["n_phases"] == 20_000 and len(info["phases"]) == MAX_LISTED_PHASES
    assert info["phases"][:2] == [{"start": 0, "stop": 1}, {"start": 1, "stop": 2}]
    assert info["phase_lengths"] == {"min": 1, "max": 1}
    assert info["layers"][0]["mean_bits"]["w"] == pytest.approx((8 + 4) / 2)
    assert len(json.dumps(info)) < 200_000


def test_report_of_a_toggling_run_is_bounded_and_exact():
    tr = toggling()
    result = simulate("edge_npu", tr, baseline="qat")
    html = build_run_report(result, trace=tr)
    figures = figure_specs(html)
    heat = figures["fig-bits"]["data"][0]
    assert len(heat["x"]) == MAX_COLUMNS + 1  # column edges
    # every column of the toggling trace averages A and B over an even number of iterations
    # (or one more A): its mean w lies in [4, 8]
    z = np.array(heat["z"], dtype=float)
    assert z.min() >= 4 and z.max() <= 8
    assert "the bit heatmap shows" in html
    curve = figures["fig-energy-accuracy"]["data"][0]
    assert len(curve["x"]) <= MAX_POINTS and curve["customdata"][-1] == ITERATIONS - 1
    # the last point is all the energy: exact however the phases were merged
    total_j = result.policies["rct"].energy_pj["total"] * 1e-12
    assert curve["x"][-1] == pytest.approx(total_j, rel=1e-9)


def test_cumulative_energy_matches_a_direct_sum():
    summary = {"phase_energy": [{"start": 0, "stop": 3, "energy_pj_per_iteration": 2.0},
                                {"start": 3, "stop": 5, "energy_pj_per_iteration": 7.0}],
               "energy_pj": {"total": 20.0}, "iterations": 5}
    series = Series(np.array([0, 2, 3, 4]), np.zeros(4))
    # after iteration i: i + 1 iterations; by hand: 2, 6, 6 + 7, 6 + 14
    got = cumulative_energy_j(summary, series)
    assert got == pytest.approx([2e-12, 6e-12, 13e-12, 20e-12])
