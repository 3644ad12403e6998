"""The compiled step engine: rctsim/_engine.c (`engine_fast.run` in C, bit-identical) loaded
with ctypes.

The library is built at install as an optional extension (setup.py); where no C compiler was
there it is absent, `available()` is False and the replay uses the Python engine
(rctsim/engine_fast.py), which gives the same results.

A step's ops are converted once into flat arrays (`Ops`: per-chunk DRAM bytes, chunk counts,
the RAW waits as offsets and indices, a number per distinct label), and its per-chunk compute
cycles once per global-buffer bandwidth (`cycles`); `step` then runs what
`engine.simulate_step` asks in one call into the library (the pass, its zero-latency twin where
the stall split needs it, each op's wait split by cause, the timeline sorted and joined) at any
DRAM bandwidth and latency. `run` takes and returns exactly what `engine_fast.run` does (for
tests: the raw pass, its timeline as tuples in the order made).
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.machinery
import warnings
from array import array
from functools import cache
from itertools import accumulate, chain
from operator import attrgetter, truediv
from pathlib import Path
from typing import NamedTuple

import numpy as np

ABI = 2
"""The interface version rctsim/_engine.c must report (`rct_engine_abi`): a library built from
another version of the file is not used."""

_LANES = ("dma", "compute")
_chunks, _label, _after = attrgetter("chunks"), attrgetter("label"), attrgetter("after")
_read, _write = attrgetter("dram_read_bytes"), attrgetter("dram_write_bytes")

LOG_ROOM = 1 << 16
"""Most timeline intervals room is made for before the first call (a longer timeline is asked
for again at the size that call reports)."""


@cache
def _library() -> ctypes.CDLL | None:
    """The built library beside this module (`load`), looked for once per process."""
    return load(Path(__file__).resolve().parent)


def load(here: Path) -> ctypes.CDLL | None:
    """The library built in folder `here`, or None when it is not there or stale: built from
    another interface version, or (where the C source is beside it, as in a checkout) from
    another text of `_engine.c` than the one there now; a stale library is named in a warning
    and the Python engine, which gives the same results, is used."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_engine{suffix}"
        if not path.is_file():
            continue
        try:
            lib = ctypes.CDLL(str(path))
            lib.rct_engine_abi.restype = ctypes.c_int
            lib.rct_engine_abi.argtypes = []
            stale = (f"interface {lib.rct_engine_abi()}, not {ABI}"
                     if lib.rct_engine_abi() != ABI else _source_mismatch(lib, here))
            if stale:
                warnings.warn(f"rctsim: not using the compiled step engine {path.name} "
                              f"({stale}); the Python engine gives the same results, more "
                              "slowly; rebuild it with `pip install -e .`", RuntimeWarning,
                              stacklevel=2)
                continue
            fn = lib.rct_engine_step
        except (OSError, AttributeError):
            continue
        p, i64, dbl, ci = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_int
        fn.restype = ci
        fn.argtypes = [i64, p, p, p, dbl, p, p, p, dbl, ci, ci, i64, i64, ci, p,
                       p, p, p, p, p, i64, p, p, p, p]
        return lib
    return None


def source_digest(folder: Path) -> str | None:
    """sha256 of `folder/_engine.c`, or None where the source is not there (an installed wheel)."""
    source = folder / "_engine.c"
    return hashlib.sha256(source.read_bytes()).hexdigest() if source.is_file() else None


def _source_mismatch(lib: ctypes.CDLL, folder: Path) -> str | None:
    """Why the library was not built from the `_engine.c` in `folder`, or None when it was (or
    when there is no source to compare with)."""
    digest = source_digest(folder)
    if digest is None:
        return None
    try:
        lib.rct_engine_source.restype = ctypes.c_char_p
        lib.rct_engine_source.argtypes = []
        built = (lib.rct_engine_source() or b"").decode("ascii", "replace")
    except AttributeError:
        built = ""
    if built == digest:
        return None
    return "built from an older _engine.c" if built else "built without a source digest"


def available() -> bool:
    """Whether the compiled engine was built and loads."""
    return _library() is not None


def _addr(buf: array) -> int:
    return buf.buffer_info()[0]


class Ops:
    """A step's ops as the C loop takes them, whatever the rates: one conversion serves every
    run of the step (with the DRAM latency and its zero-latency twin, at any DRAM bandwidth)."""

    __slots__ = ("labels", "n_ops", "total_chunks", "arrays", "addrs", "chunks", "_timeline")

    def __init__(self, work) -> None:
        n_ops = self.n_ops = len(work)
        self.labels = list(map(_label, work))
        chunks = self.chunks = [c if c > 1 else 1 for c in map(_chunks, work)]  # max(1, chunks)
        reads = list(map(_read, work))
        # engine_fast.run's `per` before the division by the DRAM bandwidth (done in C):
        # `w.dram_read_bytes / n / bw` is (w.dram_read_bytes / n) / bw
        rn = array("d", map(truediv, reads, chunks))
        wn = array("d", map(truediv, map(_write, work), chunks))
        raw = [a if (a and r > 0) else () for a, r in zip(map(_after, work), reads, strict=True)]
        off = array("q", accumulate(map(len, raw), initial=0))
        idx = list(chain.from_iterable(raw))
        if idx and (min(idx) < 0 or max(idx) >= n_ops):  # as Python indexes a list
            idx = [range(n_ops)[i] for i in idx]
        dep = array("q", idx or [0])
        cnt = array("q", chunks or [0])
        self.total_chunks = sum(chunks)
        self.arrays = [rn, wn, cnt, off, dep]  # kept alive while their addresses are used
        self.addrs = tuple(_addr(a) for a in self.arrays)
        self._timeline: tuple[int, list[tuple[str, str]]] | None = None

    def __reduce__(self):
        raise TypeError("engine_c.Ops holds the addresses of its arrays: not picklable "
                        "(pickle the ops, or an engine.StepWork)")

    def timeline(self) -> tuple[int, list[tuple[str, str]]]:
        """What the timeline needs (made when first asked): the address of a number per op,
        equal for ops of equal labels (`engine._merge` joins intervals of one label), and the
        (lane, label) of each timeline code `2 * op + lane` (lane 0 dma, 1 compute)."""
        if self._timeline is None:
            first: dict = {}
            ids = array("q", [first.setdefault(label, len(first)) for label in self.labels]
                        or [0])
            self.arrays.append(ids)
            self._timeline = (_addr(ids),
                              [(lane, label) for label in self.labels for lane in _LANES])
        return self._timeline


def cycles(ops: Ops, eff: list[float]) -> array:
    """Per-chunk compute cycles of each op (engine_fast's `e / n`) for `step`."""
    return array("d", map(truediv, eff, ops.chunks)) if ops.n_ops else array("d", [0.0])


class StepOut(NamedTuple):
    """What `step` returns."""

    total: float
    busy: float
    """DRAM busy cycles."""
    simulated: int
    idle: list[float]
    """Each op's wait in the pass at the DRAM latency."""
    dram_bandwidth: list[float] | None
    """Each op's wait less its latency share (None where the split was not asked for)."""
    dram_latency: list[float] | None
    log: tuple | None
    """The timeline (where kept): joined, as three lists ((lane, label) pairs, starts, ends),
    or not joined (the C side leaves a log with a NaN start to `engine._merge`, or was not
    asked to join), as a list of (lane, label, start, end) tuples in the order made (`joined`
    says which)."""
    joined: bool


def step(ops: Ops, cy: array, bw: float, latency: float, keep: bool, merge: bool,
         split: bool, buffers: int, max_period: int, per_op: bool = True,
         join: bool = True) -> StepOut:
    """One call into the library: the pass at `latency` (timeline while `keep`), with
    `per_op` each op's wait split into DRAM bandwidth and latency (a zero-latency pass where
    `split` and some op waited), with `join` the timeline sorted and joined (`engine._merge`)."""
    lib = _library()
    if lib is None:
        raise RuntimeError("the compiled step engine (rctsim/_engine.c) is not built")
    n_ops = ops.n_ops
    if n_ops and bw == 0:
        # the ZeroDivisionError `w.dram_read_bytes / n / bw` raises for a Python number (a
        # numpy zero gives inf or NaN there, as in the library)
        _ = 0.0 / bw
    size = 8 * max(1, n_ops)
    res = array("d", bytes(3 * size))  # idle, dram bandwidth, dram latency
    base = _addr(res)
    out = array("d", [0.0, 0.0])
    counts = array("q", [0, 0, -1])  # chunks replayed, intervals made, intervals joined
    # timeline room: a load, a compute and a write-back per chunk replayed, two per merge;
    # a replayed chunk or a merge covers one chunk at least, so 3 + 2 per chunk is a bound
    # (capped at LOG_ROOM: a longer one is asked for again at the size the first call reports)
    cap = min(5 * ops.total_chunks + 8, LOG_ROOM) if keep else 0
    rn, wn, cnt, off, dep = ops.addrs
    ids, pairs_of = ops.timeline() if keep else (None, None)
    while True:
        if keep:  # not zeroed: the library writes what it reports
            lanes, op_ix = np.empty(cap, np.uint8), np.empty(cap, np.int64)
            starts, ends = np.empty(cap), np.empty(cap)
            logs = [a.ctypes.data for a in (lanes, op_ix, starts, ends)]
        else:
            logs = [None] * 4
        rc = lib.rct_engine_step(n_ops, rn, _addr(cy), wn, bw, cnt, off, dep, latency,
                                 bool(keep), bool(merge), buffers, max_period, bool(split),
                                 ids if join else None, _addr(out), base,
                                 base + size if per_op else None,
                                 base + 2 * size if per_op else None, _addr(counts), cap,
                                 *logs)
        if rc == -1:
            raise ValueError("Negative delay: an op's cycles or bytes are negative")
        if rc == -2:
            raise MemoryError("the compiled step engine ran out of memory")
        if rc != 0:
            raise RuntimeError(f"the compiled step engine failed ({rc})")
        if counts[1] <= cap:
            break
        cap = counts[1]
    log, joined = None, False
    if keep:
        made = counts[2]
        joined = made >= 0
        if not joined:
            made = counts[1]
        codes = (op_ix[:made] * 2 + lanes[:made]).tolist()
        pairs = list(map(pairs_of.__getitem__, codes))
        starts, ends = starts[:made].tolist(), ends[:made].tolist()
        log = ((pairs, starts, ends) if joined else
               [(a, b, c, d) for (a, b), c, d in zip(pairs, starts, ends, strict=True)])
    idle = res[:n_ops].tolist()
    if per_op:
        return StepOut(out[0], out[1], counts[0], idle, res[n_ops:2 * n_ops].tolist(),
                       res[2 * n_ops:3 * n_ops].tolist(), log, joined)
    return StepOut(out[0], out[1], counts[0], idle, None, None, log, joined)


def run(work: list, eff: list[float], bw: float, latency: float, keep: bool, merge: bool,
        buffers: int, max_period: int) -> tuple[float, list[float], float, list[tuple], int]:
    """`engine_fast.run` in C: the same arguments, the same results bit for bit."""
    ops = Ops(work)
    got = step(ops, cycles(ops, eff), bw, latency, keep, merge, False, buffers, max_period,
               per_op=False, join=False)
    return got.total, got.idle, got.busy, got.log or [], got.simulated
