"""DRAM-level mapping of one GEMM: tile sizes and loop order that minimise DRAM traffic.

A GEMM `C[m,n] = A[m,k] · B[k,n]` whose operands live in DRAM is cut into tiles that fit the
on-chip workspace (double-buffered). Three loop orders are considered (docs/model.md §3):

- `out_stationary` (k innermost): A re-fetched ceil(n/tn) times, B ceil(m/tm) times, C written once;
- `a_stationary`   (n innermost): A fetched once, B ceil(m/tm) times, C partial sums written
  ceil(k/tk) times and read back ceil(k/tk) - 1 times;
- `b_stationary`   (m innermost): B fetched once, A ceil(n/tn) times, C as for a_stationary.

Operands already on chip cost no DRAM traffic and need no tile buffer. The search is exhaustive
over a small candidate set per dimension, vectorised with numpy (one broadcast grid per
GEMM) and memoised per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

ORDERS: tuple[str, ...] = ("out_stationary", "a_stationary", "b_stationary")
"""Loop orders, by what stays on chip across the innermost loop."""


@dataclass(frozen=True)
class Mapping:
    """The chosen tiling of one GEMM and the DRAM traffic it implies."""

    tile_m: int
    tile_n: int
    tile_k: int
    order: str
    """One of ORDERS."""
    a_fetches: int
    """Times operand A is read from DRAM in full (0 when A is on chip)."""
    b_fetches: int
    """Times operand B is read from DRAM in full (0 when B is on chip)."""
    out_writes: int
    """Times C is written to DRAM (partial sums then final; 0 when C stays on chip)."""
    out_reads: int
    """Times partial sums of C are read back from DRAM."""
    a_read_bytes: float
    """DRAM bytes of A read."""
    b_read_bytes: float
    """DRAM bytes of B read."""
    out_read_bytes: float
    """DRAM bytes of partial sums read back."""
    out_write_bytes: float
    """DRAM bytes of C written (partial sums, then the final result)."""
    tiles: int
    """Number of (m, n, k) tiles, i.e. DMA/compute pipeline steps."""
    buffer_bytes: float
    """Workspace the double-buffered tiles occupy."""

    @property
    def dram_read_bytes(self) -> float:
        """All DRAM bytes read."""
        return self.a_read_bytes + self.b_read_bytes + self.out_read_bytes

    @property
    def dram_write_bytes(self) -> float:
        """All DRAM bytes written."""
        return self.out_write_bytes


@dataclass(frozen=True)
class GemmOperands:
    """Sizes and homes of a GEMM's operands, as the mapper needs them."""

    m: int
    n: int
    k: int
    a_bytes: float
    """Bytes per element of A."""
    b_bytes: float
    out_bytes: float
    """Bytes per element of the final C."""
    acc_bytes: float
    """Bytes per element of a partial sum."""
    a_in_dram: bool
    b_in_dram: bool
    out_in_dram: bool
    a_elems: int | None = None
    """Elements of A as stored in DRAM, when not m*k (im2col: the layer's input tensor)."""
    b_elems: int | None = None
    """Elements of B as stored in DRAM, when not k*n (grouped conv: all groups' weights)."""
    out_elems: int | None = None
    """Elements of the final C as stored, when not m*n (conv dgrad: dX, not its im2col)."""
    align_m: int = 1
    """Smallest useful tile along m (the array side it is spread over)."""
    align_n: int = 1


def _candidates(dim: int, align: int) -> np.ndarray:
    """Tile sizes worth trying along one dimension (read-only; memoised by `_candidates_of`)."""
    return _candidates_of(int(dim), int(align))


@lru_cache(maxsize=4096)
def _candidates_of(dim: int, align: int) -> np.ndarray:
    lo = max(1, min(align, dim))
    pows = [lo * 2**i for i in range(40) if lo * 2**i < dim]
    parts = [-(-dim // j) for j in range(1, 17)]
    out = np.unique(np.array([lo, dim, *pows, *parts], dtype=np.int64).clip(lo, dim))
    out.flags.writeable = False
    return out


def choose_mapping(ops: GemmOperands, workspace_bytes: float) -> Mapping | None:
    """Best mapping (least DRAM bytes, then fewest tiles) or None when no tile fits.

    A pure function of its arguments, memoised per process (`MAPPING_MEMO` entries): the same
    GEMM meets the same workspace in every phase that leaves its layer alone and in every sweep
    point that shares the buffer size, and the answer is a frozen Mapping."""
    return _choose_mapping(ops, float(workspace_bytes))


MAPPING_MEMO = 16384
"""Most (GEMM, workspace) answers `choose_mapping` keeps per process (least recently used go)."""


@lru_cache(maxsize=MAPPING_MEMO)
def _choose_mapping(ops: GemmOperands, workspace_bytes: float) -> Mapping | None:
    """The search itself: every candidate (tile_m, tile_n, tile_k) as one broadcast numpy grid
    (axes m, n, k), all three loop orders; least DRAM bytes, then fewest tiles, then the first
    candidate in (order, m, n, k) order, as a plain loop over the same candidates picks."""
    m, n, k = ops.m, ops.n, ops.k
    tm = _candidates(m, ops.align_m)[:, None, None]
    tn = _candidates(n, ops.align_n)[None, :, None]
    tk = _candidates(k, 1)[None, None, :]
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
