"""DRAM-level mapping of one GEMM: tile sizes and loop order that minimise DRAM traffic.

A GEMM `C[m,n] = A[m,k] · B[k,n]` whose operands live in DRAM is cut into tiles that fit the
on-chip workspace (double-buffered). Three loop orders are considered (docs/model.md §3):

- `out_stationary` (k innermost): A re-fetched ceil(n/tn) times, B ceil(m/tm) times, C written once;
- `a_stationary`   (n innermost): A fetched once, B ceil(m/tm) times, C partial sums written
  ceil(k/tk) times and read back ceil(k/tk) - 1 times;
- `b_stationary`   (m innermost): B fetched once, A ceil(n/tn) times, C as for a_stationary.

Operands already on chip cost no DRAM traffic and need no tile buffer. The answer is that of an
exhaustive search over a small candidate set per dimension (`_grid_search`, one broadcast numpy
grid); `_pruned_search` finds the same Mapping from far fewer candidates (why: its docstring), and
answers are memoised per process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

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


class _Axis(NamedTuple):
    """The candidate tile sizes along one dimension and, for the pruned search, the leading
    ones: the smallest size of each tile count ceil(dim / size). Arrays are read-only; those
    `_by_fitting` are indexed by how many leading sizes fit (0..len)."""

    sizes: np.ndarray
    """Tile sizes worth trying, ascending (int64): every candidate."""
    leads: tuple[int, ...]
    """The leading sizes, ascending."""
    lead_counts: tuple[int, ...]
    """Their tile counts (strictly decreasing)."""
    lead_f: np.ndarray
    """`leads` as float64 (exact: sizes stay below 2**53)."""
    lead_col: np.ndarray
    """`leads` as a float64 column."""
    counts: np.ndarray
    """`lead_counts` (int64)."""
    counts_col: np.ndarray
    """`lead_counts` as an int64 column."""
    counts_f: np.ndarray
    """`lead_counts` as float64 (exact; int64 x float64 converts the int first, so the
    products are the grid's)."""
    counts_col_f: np.ndarray
    """`counts_f` as a column."""
    next_by_fitting: np.ndarray
    """The first leading size that does not fit (float64; inf when all fit)."""
    extra_by_fitting: np.ndarray
    """Count of the largest leading size that fits, less one (float64; 0 when none fits)."""
    penalty_by_fitting: np.ndarray
    """inf when none fits, else 0.0."""


def _candidates(dim: int, align: int) -> np.ndarray:
    """Tile sizes worth trying along one dimension (read-only; memoised by `_candidates_of`)."""
    return _candidates_of(int(dim), int(align)).sizes


@lru_cache(maxsize=4096)
def _candidates_of(dim: int, align: int) -> _Axis:
    lo = max(1, min(align, dim))
    if dim < 1:  # [lo, dim, ...] clipped to [1, dim] is dim alone
        ints = [dim]
    else:  # lo * 2**i < dim for i < 40, ceil(dim / j) for j <= 16, clipped to [lo, dim]
        pows, v = [], lo
        while v < dim and len(pows) < 40:
            pows.append(v)
            v *= 2
        ints = sorted({lo, dim, *pows, *(p for j in range(1, 17) if (p := -(-dim // j)) > lo)})
    leads, lead_counts = [], []
    for v in ints if dim > 0 else ():
        count = -(-dim // v)
        if not lead_counts or count != lead_counts[-1]:
            leads.append(v)
            lead_counts.append(count)
    size = len(leads)
    floats = np.array([*leads, math.inf, *lead_counts, 0.0, *(c - 1 for c in lead_counts),
                       math.inf, *[0.0] * size], dtype=np.float64)
    sizes, counts = np.array(ints, dtype=np.int64), np.array(lead_counts, dtype=np.int64)
    for a in (floats, sizes, counts):
        a.flags.writeable = False
    counts_f = floats[size + 1:2 * size + 1]
    return _Axis(sizes, tuple(leads), tuple(lead_counts), floats[:size], floats[:size, None],
                 counts, counts[:, None], counts_f, counts_f[:, None], floats[:size + 1],
                 floats[2 * size + 1:3 * size + 2], floats[3 * size + 2:])


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
    """The search itself: least DRAM bytes, then fewest tiles, then the first candidate
    (tile_m, tile_n, tile_k) in (order, m, n, k) order, as a plain loop over every candidate of
    every loop order picks. `_pruned_search` on the inputs a counted GEMM has; `_grid_search`
    (the exhaustive grid) on anything else."""
    if _in_domain(ops, workspace_bytes):
        return _pruned_search(ops, workspace_bytes)
    return _grid_search(ops, workspace_bytes)


_EXACT_INT = 2**53
"""Integers below this are exact in float64: the pruning's error bound assumes tile products
and element counts stay below it."""

_WIDEST = 64.0
"""Largest byte width the pruned search takes (8 is the widest a trace has)."""

_NARROWEST = 2.0**-20
"""Smallest non-zero byte width it takes (a trace's is 1/8): no product of widths and sizes
comes near float64's subnormal range, where the relative error bound of `_MARGIN` fails."""


def _in_domain(ops: GemmOperands, workspace_bytes: float) -> bool:
    """True where `_pruned_search`'s argument holds: int dimensions >= 1 whose pairwise products
    are exact in float64, float byte widths 0 or in [_NARROWEST, _WIDEST], int element counts in
    [0, _EXACT_INT), a float workspace that is a number (`choose_mapping` passes a float)."""
    dims = (ops.m, ops.n, ops.k)
    if not all(isinstance(d, int) and d >= 1 for d in dims) \
            or not isinstance(workspace_bytes, float) or workspace_bytes != workspace_bytes:
        return False
    if max(ops.m * ops.n, ops.n * ops.k, ops.m * ops.k) >= _EXACT_INT:
        return False
    for w in (ops.a_bytes, ops.b_bytes, ops.out_bytes, ops.acc_bytes):
        if not isinstance(w, float) or not (w == 0 or _NARROWEST <= w <= _WIDEST):
            return False
    return all(e is None or (isinstance(e, int) and 0 <= e < _EXACT_INT)
               for e in (ops.a_elems, ops.b_elems, ops.out_elems))


_MARGIN = 1e-9
"""Relative band around the workspace inside which a tile's fit is checked with the exact
expression; outside it an estimate that is off by far less (a few float64 roundings) decides."""

def _pruned_search(ops: GemmOperands, workspace_bytes: float) -> Mapping | None:
    """The same Mapping as `_grid_search`, from the leading sizes of each axis and one tile_k
    per (tile_m, tile_n).

    Why it is the same (inside `_in_domain`: non-negative widths, exact integer products):
    - a tile's workspace is non-decreasing in each tile size (non-negative terms; float64
      rounding is monotone), and DRAM bytes (every order) and the tile count are non-decreasing
      in each tile count ceil(d / size);
    - so of two sizes with the same count the smaller fits wherever the larger does, costs the
      same bytes and tiles with its best tile_k and comes first: only the leading (smallest)
      size of each count can be chosen, on every axis;
    - the tile_k that fit a (tile_m, tile_n) are a prefix of the ascending sizes, and the
      largest of them has the smallest count: it beats or ties every other tile_k of that
      (tile_m, tile_n), and among leading sizes no other has its count;
    - ties left (least bytes, then fewest tiles) go to the first in (order, m, n) order, as in
      the grid.
    The prefix length comes from a real-number estimate; a candidate within `_MARGIN` of the
    workspace is decided with the grid's own expression. Every sum is the grid's, term by
    term, in its order."""
    ax_m = _candidates_of(ops.m, int(ops.align_m))
    ax_n = _candidates_of(ops.n, int(ops.align_n))
    ax_k = _candidates_of(ops.k, 1)
    # a tile's bytes per element of each operand: x * True = x, x * False = 0.0
    a_w = ops.a_bytes if ops.a_in_dram else 0.0
    b_w = ops.b_bytes if ops.b_in_dram else 0.0
    c_w = ops.acc_bytes if ops.out_in_dram else 0.0
    tm, tn = ax_m.lead_col, ax_n.lead_f
    if a_w or b_w:
        fixed = tm * (tn * c_w)
        slope = tm * a_w + tn * b_w
        half = 0.5 * workspace_bytes
        fitting = ax_k.lead_f.searchsorted((half * (1 - _MARGIN) - fixed) / slope, "right")
        edge = (ax_k.next_by_fitting[fitting] <= (half * (1 + _MARGIN) - fixed) / slope
                ).nonzero()
        if edge[0].size:  # decided with the grid's expression, one candidate at a time
            ms, ns, ks = ax_m.leads, ax_n.leads, ax_k.leads
            for im, i_n, j in zip(*edge, fitting[edge].tolist(), strict=True):
                t_m, t_n = ms[im], ns[i_n]
                while j < len(ks) and 2.0 * (t_m * ks[j] * a_w + ks[j] * t_n * b_w
                                             + t_m * t_n * c_w) <= workspace_bytes:
                    j += 1
                fitting[im, i_n] = j
    else:  # the tile needs the same workspace whatever tile_k is
        fitting = np.where(2.0 * (tm * tn * c_w) <= workspace_bytes, len(ax_k.leads), 0)
    m, n, k = ops.m, ops.n, ops.k
    a_size = (ops.a_elems or m * k) * ops.a_bytes * ops.a_in_dram
    b_size = (ops.b_elems or k * n) * ops.b_bytes * ops.b_in_dram
    c_final = (ops.out_elems or m * n) * ops.out_bytes * ops.out_in_dram
    c_acc = m * n * ops.acc_bytes * ops.out_in_dram
    # The grid's sums term by term: reads = ra*a + rb*b + (wc-1)*c_acc, writes = (wc-1)*c_acc
    # + c_final, total = reads + writes; out_stationary's (wc-1)*c_acc is 0 (x + 0 = x).
    # What does not fit gets + inf, what fits + 0.0 (x + 0.0 = x). Axes (order, m, n).
    penalty = ax_k.penalty_by_fitting[fitting]
    fk_extra = ax_k.extra_by_fitting[fitting]
    fn_a = ax_n.counts_f * a_size
    fm_b = ax_m.counts_col_f * b_size
    partial = fk_extra * c_acc + penalty
    partial_out = partial + c_final
    totals = np.empty((3, *fitting.shape))
    np.add(fn_a + fm_b, penalty + (0 * c_acc + c_final), out=totals[0])
    np.add((a_size + fm_b) + partial, partial_out, out=totals[1])
    np.add((fn_a + b_size) + partial, partial_out, out=totals[2])
    flat = totals.ravel()
    low = flat.min()
    if low == math.inf:
        return None
    tied = (flat == low).nonzero()[0]
    plane, width = fitting.size, fitting.shape[1]
    if tied.size > _FEW:
        fk = fk_extra.ravel()[tied % plane].astype(np.int64) + 1
        flat_tiles = (ax_m.counts_col * ax_n.counts).ravel()[tied % plane] * fk
        tied = tied[flat_tiles == flat_tiles.min()][:1]
    best = None
    for i in tied.tolist():
        o, rest = divmod(i, plane)
        im, i_n = divmod(rest, width)
        n_tiles = ax_m.lead_counts[im] * ax_n.lead_counts[i_n] * (int(fk_extra[im, i_n]) + 1)
        if best is None or n_tiles < best[0]:
            best = (n_tiles, o, im, i_n)
    n_tiles, o, im, i_n = best
    t_k = ax_k.leads[int(fitting[im, i_n]) - 1]
    return _mapping(ops, o, ax_m.leads[im], ax_n.leads[i_n], t_k, n_tiles)


_FEW = 8
"""Ties on DRAM bytes up to this many are broken in Python; more with numpy."""


def _buffer(ops: GemmOperands, t_m: int, t_n: int, t_k: int) -> float:
    """Workspace of one double-buffered tile, as the grid computes it (Python ints and float
    widths give the grid's int64 and float64 results inside `_in_domain`)."""
    return 2.0 * (t_m * t_k * ops.a_bytes * ops.a_in_dram + t_k * t_n * ops.b_bytes * ops.b_in_dram
                  + t_m * t_n * ops.acc_bytes * ops.out_in_dram)


def _mapping(ops: GemmOperands, o: int, t_m: int, t_n: int, t_k: int, n_tiles: int) -> Mapping:
    """The Mapping of one chosen candidate (loop order ORDERS[o]), its traffic as the grid
    computes it."""
    m, n, k = ops.m, ops.n, ops.k
    fm, fn, fk = -(-m // t_m), -(-n // t_n), -(-k // t_k)
    ra, rb, wc = ((fn, fm, 1), (1, fm, fk), (fn, 1, fk))[o]
    a_size = (ops.a_elems or m * k) * ops.a_bytes * ops.a_in_dram
    b_size = (ops.b_elems or k * n) * ops.b_bytes * ops.b_in_dram
    c_final = (ops.out_elems or m * n) * ops.out_bytes * ops.out_in_dram
    c_acc = m * n * ops.acc_bytes * ops.out_in_dram
    return Mapping(
        tile_m=t_m, tile_n=t_n, tile_k=t_k, order=ORDERS[o],
        a_fetches=ra * ops.a_in_dram, b_fetches=rb * ops.b_in_dram,
        out_writes=wc * ops.out_in_dram, out_reads=(wc - 1) * ops.out_in_dram,
        a_read_bytes=float(ra * a_size), b_read_bytes=float(rb * b_size),
        out_read_bytes=float((wc - 1) * c_acc), out_write_bytes=float((wc - 1) * c_acc + c_final),
        tiles=n_tiles, buffer_bytes=float(_buffer(ops, t_m, t_n, t_k)),
    )


def _grid_search(ops: GemmOperands, workspace_bytes: float) -> Mapping | None:
    """Every candidate (tile_m, tile_n, tile_k) as one broadcast numpy grid (axes m, n, k), all
    three loop orders; the search for inputs outside `_in_domain`."""
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
