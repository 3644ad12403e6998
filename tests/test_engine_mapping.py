"""The SimPy step timing and the DRAM mapper against closed forms and brute force."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rctsim.engine import OpWork, simulate_step
from rctsim.mapping import GemmOperands, choose_mapping


def test_no_memory_traffic_means_no_stall():
    work = [OpWork("a", 100, 0, 0, 4), OpWork("b", 50, 0, 0, 1)]
    t = simulate_step(work, dram_bytes_per_cycle=8)
    assert t.total_cycles == 150 and t.stall_cycles == 0


def test_single_chunk_is_load_compute_store_in_series():
    """One op, one chunk: nothing to overlap with, so the times add."""
    t = simulate_step([OpWork("a", 100, 800, 400, 1)], dram_bytes_per_cycle=8)
    assert t.total_cycles == pytest.approx(800 / 8 + 100 + 400 / 8)
    assert t.dram_busy_cycles == pytest.approx(150)


def test_double_buffering_hides_loads_behind_compute():
    """Two ops of equal load and compute: the second load overlaps the first compute."""
    work = [OpWork("a", 100, 800, 0, 1), OpWork("b", 100, 800, 0, 1)]
    t = simulate_step(work, dram_bytes_per_cycle=8)
    assert t.total_cycles == pytest.approx(100 + 100 + 100)  # load a, (compute a | load b), b


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 4000), st.integers(0, 4000),
                          st.integers(1, 4)), min_size=1, max_size=8),
       st.sampled_from([1.0, 4.0, 16.0]))
def test_step_is_between_its_bounds(ops, bw):
    """max(compute, dram) <= total <= compute + dram (full overlap .. no overlap)."""
    work = [OpWork(str(i), c, r, w, n) for i, (c, r, w, n) in enumerate(ops)]
    t = simulate_step(work, dram_bytes_per_cycle=bw)
    compute = sum(c for c, *_ in ops)
    dram = sum(r + w for _, r, w, _ in ops) / bw
    assert max(compute, dram) - 1e-6 <= t.total_cycles <= compute + dram + 1e-6
    assert t.compute_cycles == compute


def _brute(ops: GemmOperands, workspace: float) -> float:
    """Least DRAM bytes over EVERY tile size and the three loop orders."""
    best = None
    for tm, tn, tk in itertools.product(range(1, ops.m + 1), range(1, ops.n + 1),
                                        range(1, ops.k + 1)):
        buf = 2 * (tm * tk * ops.a_bytes * ops.a_in_dram + tk * tn * ops.b_bytes * ops.b_in_dram
                   + tm * tn * ops.acc_bytes * ops.out_in_dram)
        if buf > workspace:
            continue
        fm, fn, fk = -(-ops.m // tm), -(-ops.n // tn), -(-ops.k // tk)
        a = ops.m * ops.k * ops.a_bytes * ops.a_in_dram
        b = ops.k * ops.n * ops.b_bytes * ops.b_in_dram
        c = ops.m * ops.n * ops.out_in_dram
        for ra, rb, wc in ((fn, fm, 1), (1, fm, fk), (fn, 1, fk)):
            total = (ra * a + rb * b + 2 * (wc - 1) * c * ops.acc_bytes + c * ops.out_bytes)
            best = total if best is None else min(best, total)
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12),
       st.booleans(), st.booleans(), st.booleans(), st.integers(8, 2000))
def test_mapper_finds_the_brute_force_optimum(m, n, k, a_dram, b_dram, c_dram, workspace):
    ops = GemmOperands(m=m, n=n, k=k, a_bytes=1, b_bytes=1, out_bytes=1, acc_bytes=4,
                       a_in_dram=a_dram, b_in_dram=b_dram, out_in_dram=c_dram)
    mapping = choose_mapping(ops, workspace)
    best = _brute(ops, workspace)
    if best is None:
        assert mapping is None
    else:
        assert mapping is not None
        assert mapping.dram_read_bytes + mapping.dram_write_bytes == pytest.approx(best)
        assert mapping.buffer_bytes <= workspace


def test_on_chip_operands_cost_no_dram():
    ops = GemmOperands(m=64, n=64, k=64, a_bytes=1, b_bytes=1, out_bytes=1, acc_bytes=4,
                       a_in_dram=False, b_in_dram=False, out_in_dram=False)
    mapping = choose_mapping(ops, 0)
    assert mapping.dram_read_bytes == mapping.dram_write_bytes == 0
