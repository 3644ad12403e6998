"""The compiled step engine: rctsim/_engine.c (`engine_fast.run` in C, bit-identical) loaded
with ctypes.

The library is built at install as an optional extension (setup.py); where no C compiler was
there it is absent, `available()` is False and the replay uses the Python engine
(rctsim/engine_fast.py), which gives the same results. `run` takes and returns exactly what
`engine_fast.run` does: it hands the C loop flat arrays (per-chunk read, compute and write
cycles, chunk counts, the RAW waits as offsets and indices) and turns its output back into the
idle list and the timeline tuples with the ops' labels.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.machinery
import warnings
from array import array
from functools import cache
from operator import attrgetter
from pathlib import Path

ABI = 1
"""The interface version rctsim/_engine.c must report (`rct_engine_abi`): a library built from
another version of the file is not used."""

_LANES = ("dma", "compute")
_chunks = attrgetter("chunks")

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
            fn = lib.rct_engine_run
        except (OSError, AttributeError):
            continue
        p, i64, dbl, ci = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double, ctypes.c_int
        fn.restype = ci
        fn.argtypes = [i64, p, p, p, p, p, p, dbl, ci, ci, i64, i64,
                       p, p, p, i64, p, p, p, p, p]
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


class Prepared:
    """A step's ops as the C loop takes them (`prepare`): one conversion serves both runs of a
    step (with the DRAM latency and its zero-latency twin)."""

    __slots__ = ("work", "n_ops", "total_chunks", "arrays", "addrs")

    def __init__(self, work: list, eff: list[float], bw: float) -> None:
        self.work = work
        n_ops = self.n_ops = len(work)
        chunks = [c if c > 1 else 1 for c in map(_chunks, work)]  # max(1, w.chunks)
        # engine_fast.run's `per`, computed by the same Python expressions
        rd = array("d", [w.dram_read_bytes / n / bw for w, n in zip(work, chunks, strict=True)])
        cy = array("d", [e / n for e, n in zip(eff, chunks, strict=True)])
        wr = array("d", [w.dram_write_bytes / n / bw for w, n in zip(work, chunks, strict=True)])
        off = array("q", [0])
        idx: list[int] = []
        for w in work:
            if w.after and w.dram_read_bytes > 0:
                idx.extend(w.after)
            off.append(len(idx))
        if idx and (min(idx) < 0 or max(idx) >= n_ops):  # as Python indexes a list
            idx = [range(n_ops)[i] for i in idx]
        dep = array("q", idx or [0])
        cnt = array("q", chunks or [0])
        self.total_chunks = sum(chunks)
        self.arrays = (rd, cy, wr, cnt, off, dep)  # kept alive while their addresses are used
        self.addrs = tuple(_addr(a) for a in self.arrays)


def prepare(work: list, eff: list[float], bw: float) -> Prepared:
    """Convert a step's ops (`engine_fast.run`'s first three arguments) for `run_prepared`."""
    return Prepared(work, eff, bw)


def run(work: list, eff: list[float], bw: float, latency: float, keep: bool, merge: bool,
        buffers: int, max_period: int) -> tuple[float, list[float], float, list[tuple], int]:
    """`engine_fast.run` in C: the same arguments, the same results bit for bit."""
    return run_prepared(Prepared(work, eff, bw), latency, keep, merge, buffers, max_period)


def run_prepared(step: Prepared, latency: float, keep: bool, merge: bool, buffers: int,
                 max_period: int) -> tuple[float, list[float], float, list[tuple], int]:
    """`run` on a prepared step."""
    lib = _library()
    if lib is None:
        raise RuntimeError("the compiled step engine (rctsim/_engine.c) is not built")
    n_ops = step.n_ops
    idle = array("d", bytes(8 * max(1, n_ops)))
    out = array("d", [0.0, 0.0])
    counts = array("q", [0, 0])  # chunks replayed, timeline intervals made
    # timeline room: a load, a compute and a write-back per chunk replayed, two per merge;
    # a replayed chunk or a merge covers one chunk at least, so 3 + 2 per chunk is a bound
    # (capped at LOG_ROOM: a longer one is asked for again at the size the first call reports)
    cap = min(5 * step.total_chunks + 8, LOG_ROOM) if keep else 0
    while True:
        lanes = array("B", bytes(max(1, cap)))
        ops = array("q", bytes(8 * max(1, cap)))
        starts = array("d", bytes(8 * max(1, cap)))
        ends = array("d", bytes(8 * max(1, cap)))
        base = counts.buffer_info()[0]
        rc = lib.rct_engine_run(n_ops, *step.addrs, float(latency), int(bool(keep)),
                                int(bool(merge)), int(buffers), int(max_period), _addr(out),
                                _addr(idle), base, cap, _addr(lanes), _addr(ops), _addr(starts),
                                _addr(ends), base + counts.itemsize)
        if rc == -1:
            raise ValueError("Negative delay: an op's cycles or bytes are negative")
        if rc == -2:
            raise MemoryError("the compiled step engine ran out of memory")
        if rc != 0:
            raise RuntimeError(f"the compiled step engine failed ({rc})")
        if counts[1] <= cap:
            break
        for buf in (idle, out):  # the next call starts from zero again
            buf[:] = array("d", bytes(8 * len(buf)))
        cap = counts[1]
    log: list[tuple] = []
    if counts[1]:
        labels = [w.label for w in step.work]
        log = [(_LANES[lanes[k]], labels[ops[k]], starts[k], ends[k]) for k in range(counts[1])]
    idle_list = idle.tolist()
    if not n_ops:
        idle_list = []
    return out[0], idle_list, out[1], log, counts[0]
