"""The mapping search picks exactly what a plain loop over the same candidate tiles and loop
orders picks (least DRAM bytes, then fewest tiles, first found on ties), on random GEMMs far
larger than the brute-force test in test_engine_mapping.py can enumerate; and the pruned search
returns the very Mapping (every field) the exhaustive grid search of main at 0af9091 returned,
on thousands of random GEMMs and workspaces placed on, around and far from the edge of a fit."""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np
import pytest

from rctsim.mapping import (
    ORDERS,
    GemmOperands,
    Mapping,
    _candidates,
    _choose_mapping,
    _grid_search,
    _in_domain,
    _pruned_search,
    choose_mapping,
)


# The search as it was before the pruned one (main at 0af9091), copied verbatim with its own
# candidate list, as the reference the pruned search must equal field for field.
@lru_cache(maxsize=4096)
def _ref_candidates(dim: int, align: int) -> np.ndarray:
    lo = max(1, min(align, dim))
    pows = [lo * 2**i for i in range(40) if lo * 2**i < dim]
    parts = [-(-dim // j) for j in range(1, 17)]
    out = np.unique(np.array([lo, dim, *pows, *parts], dtype=np.int64).clip(lo, dim))
    out.flags.writeable = False
    return out


def reference_search(ops: GemmOperands, workspace_bytes: float) -> Mapping | None:
    """The search itself: every candidate (tile_m, tile_n, tile_k) as one broadcast numpy grid
    (axes m, n, k), all three loop orders; least DRAM bytes, then fewest tiles, then the first
    candidate in (order, m, n, k) order, as a plain loop over the same candidates picks."""
    m, n, k = ops.m, ops.n, ops.k
    tm = _ref_candidates(m, ops.align_m)[:, None, None]
    tn = _ref_candidates(n, ops.align_n)[None, :, None]
    tk = _ref_candidates(k, 1)[None, None, :]
    buf = 2.0 * (tm * tk * ops.a_bytes * ops.a_in_dram + tk * tn * ops.b_bytes * ops.b_in_dram
                 + tm * tn * ops.acc_bytes * ops.out_in_dram)
    fits = buf <= workspace_bytes
    if not fits.any():
        return None
    fm, fn, fk = -(-m // tm), -(-n // tn), -(-k // tk)
    a_size = (ops.a_elems or m * k) * ops.a_bytes * ops.a_in_dram
    b_size = (ops.b_elems or k * n) * ops.b_bytes * ops.b_in_dram
    c_final = (ops.out_elems or m * n) * ops.out_bytes * ops.out_in_dram
    c_acc = m * n * ops.acc_bytes * ops.out_in_dram
    one = np.ones((1, 1, 1), dtype=np.int64)
    plans = {  # order: (a_fetches, b_fetches, out_writes)
        "out_stationary": (fn, fm, one),
        "a_stationary": (one, fm, fk),
        "b_stationary": (fn, one, fk),
    }
    shape = fits.shape
    tiles = np.broadcast_to(fm * fn * fk, shape)
    best: tuple | None = None
    for order, (ra, rb, wc) in plans.items():
        reads = ra * a_size + rb * b_size + (wc - 1) * c_acc
        writes = (wc - 1) * c_acc + c_final
        total = np.where(fits, np.broadcast_to(reads + writes, shape), np.inf)
        low = total.min()
        if best is not None and low > best[0][0]:
            continue
        tied = np.flatnonzero(total == low)
        i = int(tied[np.argmin(tiles.ravel()[tied])])
        key = (float(low), int(tiles.ravel()[i]))
        if best is None or key < best[0]:
            best = (key, order, np.unravel_index(i, shape))
    (_, n_tiles), order, (im, i_n, ik) = best
    ra, rb, wc = (int(np.broadcast_to(x, shape)[im, i_n, ik]) for x in plans[order])
    t_m, t_n, t_k = int(tm[im, 0, 0]), int(tn[0, i_n, 0]), int(tk[0, 0, ik])
    reads = ra * a_size + rb * b_size + (wc - 1) * c_acc
    return Mapping(
        tile_m=t_m, tile_n=t_n, tile_k=t_k, order=order,
        a_fetches=ra * ops.a_in_dram, b_fetches=rb * ops.b_in_dram,
        out_writes=wc * ops.out_in_dram, out_reads=(wc - 1) * ops.out_in_dram,
        a_read_bytes=float(ra * a_size), b_read_bytes=float(rb * b_size),
        out_read_bytes=float((wc - 1) * c_acc), out_write_bytes=float((wc - 1) * c_acc + c_final),
        tiles=n_tiles, buffer_bytes=float(buf[im, i_n, ik]),
    )




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


_DIMS = (1, 2, 3, 7, 8, 9, 16, 49, 64, 96, 100, 128, 196, 256, 384, 512, 576, 768, 784, 1000,
         1024, 1152, 2048, 3136, 4096, 12544, 25088, 100352, 401408, 1 << 20, 3_000_017)
"""Dimensions met in CNN/transformer GEMMs (batch x spatial, channels, k x k x C), tiny and
huge ones, primes."""


def _dim(rng: np.random.Generator) -> int:
    pick = rng.random()
    if pick < 0.45:
        return int(rng.choice(_DIMS))
    if pick < 0.6:
        return int(rng.integers(1, 9))
    return int(np.exp(rng.uniform(0, math.log(3e6)))) + 1


def _width(rng: np.random.Generator):
    pick = rng.random()
    if pick < 0.5:
        return int(rng.integers(1, 33)) / 8  # bits / 8: the widths a trace gives
    if pick < 0.7:
        return float(rng.choice([0.5, 1.0, 2.0, 4.0, 8.0]))
    if pick < 0.8:
        return int(rng.choice([1, 2, 4]))  # an int width: left to the grid
    if pick < 0.85:
        return 0.0
    return float(rng.uniform(0.01, 8))


def _random_operands(rng: np.random.Generator) -> GemmOperands:
    m, n, k = _dim(rng), _dim(rng), _dim(rng)
    while max(m * n, n * k, m * k) >= 2**53:
        m = max(1, m // 1000)
    return GemmOperands(
        m=m, n=n, k=k, a_bytes=_width(rng), b_bytes=_width(rng), out_bytes=_width(rng),
        acc_bytes=_width(rng), a_in_dram=bool(rng.random() < 0.75),
        b_in_dram=bool(rng.random() < 0.75), out_in_dram=bool(rng.random() < 0.75),
        a_elems=int(m * k * rng.uniform(0.05, 2)) if rng.random() < 0.3 else None,
        b_elems=int(k * n * rng.uniform(0.5, 4)) if rng.random() < 0.2 else None,
        out_elems=int(m * n * rng.uniform(0.05, 2)) if rng.random() < 0.2 else None,
        align_m=int(rng.choice([0, 1, 4, 8, 16, 32, 64, 128, 256])),
        align_n=int(rng.choice([0, 1, 4, 8, 16, 32, 64, 128, 256])))


def _buffer_of(ops: GemmOperands, tm: int, tn: int, tk: int) -> float:
    """A candidate tile's double-buffered workspace, as the grid computes it."""
    tm, tn, tk = np.int64(tm), np.int64(tn), np.int64(tk)
    return float(2.0 * (tm * tk * ops.a_bytes * ops.a_in_dram
                        + tk * tn * ops.b_bytes * ops.b_in_dram
                        + tm * tn * ops.acc_bytes * ops.out_in_dram))


def _random_workspace(rng: np.random.Generator, ops: GemmOperands) -> float:
    """Nothing fits / a candidate's exact buffer, one ulp or one byte either side / everything
    fits / anywhere in between."""
    cands = [_ref_candidates(ops.m, ops.align_m), _ref_candidates(ops.n, ops.align_n),
             _ref_candidates(ops.k, 1)]
    smallest = _buffer_of(ops, *(int(c[0]) for c in cands))
    largest = _buffer_of(ops, *(int(c[-1]) for c in cands))
    edge = _buffer_of(ops, *(int(rng.choice(c)) for c in cands))
    pick = rng.integers(0, 9)
    if pick == 0:
        return float(np.nextafter(smallest, -np.inf)) if smallest > 0 else -1.0
    if pick == 1:
        return smallest
    if pick == 2:
        return edge
    if pick == 3:
        return float(np.nextafter(edge, np.inf))
    if pick == 4:
        return float(np.nextafter(edge, -np.inf))
    if pick == 5:
        return edge + float(rng.choice([-1.0, 1.0, -0.5, 0.5]))
    if pick == 6:
        return largest * float(rng.choice([1.0, 2.0, 1e6]))
    if pick == 7:
        return float(rng.choice([0.0, np.inf, 1.0]))
    return float(np.exp(rng.uniform(math.log(max(smallest, 1.0)) - 1,
                                     math.log(max(largest, 2.0)) + 1)))


def test_candidate_sizes_are_the_references():
    """The candidate list (now built in Python) is the reference's np.unique of the clipped
    list, for tiny, odd, huge and degenerate dimensions and alignments."""
    dims = [*range(-2, 130), 196, 3136, 12544, 10**6, 2**45, 2**45 + 1, 3**30]
    for dim in dims:
        for align in (-4, 0, 1, 3, 16, 64, 1000, 2**40):
            assert _candidates(dim, align).tolist() == _ref_candidates(dim, align).tolist()


@pytest.mark.parametrize("seed", range(20))
def test_pruned_search_returns_the_grid_searchs_mapping(seed):
    """200 random GEMMs x workspaces per seed: the whole Mapping is equal (or both None), from
    the pruned search and from the dispatch (which leaves an int width to the grid)."""
    rng = np.random.default_rng(1000 + seed)
    for _ in range(200):
        ops = _random_operands(rng)
        workspace = _random_workspace(rng, ops)
        want = reference_search(ops, workspace)
        float_widths = all(isinstance(w, float) for w in
                           (ops.a_bytes, ops.b_bytes, ops.out_bytes, ops.acc_bytes))
        assert _in_domain(ops, workspace) == float_widths
        if float_widths:
            assert _pruned_search(ops, workspace) == want, (ops, workspace)
        assert _choose_mapping.__wrapped__(ops, workspace) == want, (ops, workspace)


def test_the_edge_cases_are_met():
    """The random set covers no-fit, exact-fit and all-fit workspaces and each loop order."""
    rng = np.random.default_rng(1000)
    outcomes = set()
    for _ in range(600):
        ops = _random_operands(rng)
        workspace = _random_workspace(rng, ops)
        got = reference_search(ops, workspace)
        outcomes.add("none" if got is None else got.order)
        if got is not None and got.buffer_bytes == workspace:
            outcomes.add("exact fit")
    assert outcomes == {"none", "exact fit", *ORDERS}


@pytest.mark.parametrize("ops, workspace", [
    (GemmOperands(64, 64, 64, 100.0, 1.0, 1.0, 4.0, True, True, True), 1e6),  # width > 64
    (GemmOperands(64, 64, 64, 1.0, float("nan"), 1.0, 4.0, True, True, True), 1e6),
    (GemmOperands(np.int64(96), 64, 64, 1.0, 1.0, 1.0, 4.0, True, True, True), 1e5),
    (GemmOperands(64, 64, 64, 1.0, 1.0, 1.0, 4.0, True, True, True), float("nan")),
    (GemmOperands(64, 64, 64, 1e-300, 1.0, 1.0, 4.0, True, True, True), 1e5),  # near subnormal
    (GemmOperands(64, 64, 64, 1, 2, 1, 4, True, True, True), 1e5),  # int widths
])
def test_inputs_outside_the_pruned_domain_take_the_grid(ops, workspace):
    assert not _in_domain(ops, workspace)
    assert _choose_mapping.__wrapped__(ops, workspace) == _grid_search(ops, workspace)
    if workspace == workspace and ops.b_bytes == ops.b_bytes:
        assert _grid_search(ops, workspace) == reference_search(ops, workspace)
