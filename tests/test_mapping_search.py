"""The vectorised mapping search picks exactly what a plain loop over the same candidate tiles
and loop orders picks (least DRAM bytes, then fewest tiles, first found on ties), on random
GEMMs far larger than the brute-force test in test_engine_mapping.py can enumerate."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rctsim.mapping import ORDERS, GemmOperands, _candidates, choose_mapping


def _loop_search(ops: GemmOperands, workspace: float):
    """(order, tm, tn, tk, dram bytes, tiles) of the best candidate, one candidate at a time."""
    m, n, k = ops.m, ops.n, ops.k
    a_size = (ops.a_elems or m * k) * ops.a_bytes * ops.a_in_dram
    b_size = (ops.b_elems or k * n) * ops.b_bytes * ops.b_in_dram
    c_final = (ops.out_elems or m * n) * ops.out_bytes * ops.out_in_dram
    c_acc = m * n * ops.acc_bytes * ops.out_in_dram
    best = None
    for order in ORDERS:
        for tm, tn, tk in itertools.product(_candidates(m, ops.align_m).tolist(),
                                            _candidates(n, ops.align_n).tolist(),
                                            _candidates(k, 1).tolist()):
            buf = 2.0 * (tm * tk * ops.a_bytes * ops.a_in_dram
                         + tk * tn * ops.b_bytes * ops.b_in_dram
                         + tm * tn * ops.acc_bytes * ops.out_in_dram)
            if buf > workspace:
                continue
            fm, fn, fk = -(-m // tm), -(-n // tn), -(-k // tk)
            ra, rb, wc = {"out_stationary": (fn, fm, 1), "a_stationary": (1, fm, fk),
                          "b_stationary": (fn, 1, fk)}[order]
            total = ra * a_size + rb * b_size + (wc - 1) * c_acc + (wc - 1) * c_acc + c_final
            key = (total, fm * fn * fk)
            if best is None or key < best[0]:
                best = (key, order, tm, tn, tk)
    return best


def _random_gemm(rng: np.random.Generator) -> GemmOperands:
    m, n, k = (int(x) for x in np.exp(rng.uniform(0, math.log(20000), 3)).astype(int) + 1)
    return GemmOperands(
        m=m, n=n, k=k, a_bytes=float(rng.choice([0.5, 1, 2, 4])),
        b_bytes=float(rng.choice([0.5, 1, 2, 4])), out_bytes=float(rng.choice([1, 2, 4])),
        acc_bytes=float(rng.choice([2, 4])), a_in_dram=bool(rng.random() < 0.8),
        b_in_dram=bool(rng.random() < 0.8), out_in_dram=bool(rng.random() < 0.8),
        a_elems=int(m * k * rng.uniform(0.2, 1)) if rng.random() < 0.3 else None,
        align_m=int(rng.choice([1, 8, 16, 32])), align_n=int(rng.choice([1, 8, 16, 32])))


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_search_equals_the_loop(seed):
    rng = np.random.default_rng(seed)
    for _ in range(3):
        ops = _random_gemm(rng)
        workspace = float(np.exp(rng.uniform(math.log(256), math.log(8e6))))
        got = choose_mapping(ops, workspace)
        want = _loop_search(ops, workspace)
        if want is None:
            assert got is None
            continue
        (total, tiles), order, tm, tn, tk = want
        assert (got.order, got.tile_m, got.tile_n, got.tile_k, got.tiles) == \
               (order, tm, tn, tk, tiles)
        assert math.isclose(got.dram_read_bytes + got.dram_write_bytes, total, rel_tol=1e-12)
