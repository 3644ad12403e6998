"""Discrete-event timing of one training step.

Three actors share one clock (in array cycles): a DMA engine that owns the DRAM channel, the
compute array, and a pair of tile buffers between them (double buffering). Each op is cut into
pipeline chunks that follow its mapping tiles and are never larger than one of the two buffers
(`chunk_count`); the DMA engine loads chunk i+1 while the array computes chunk i; a chunk's
results are written back over the same channel, and its buffer is free again only once they are
out. Every DRAM read waits the DRAM access latency before its data moves (requests are
pipelined: the latency of a read overlaps the data of the transfer before it on the channel;
write-backs are posted to the memory controller and wait only for the channel); an
op whose input was written to DRAM by an earlier op reads it only after that write is out (RAW);
the array computes a chunk in `max(compute, SRAM bytes / SRAM bandwidth)` cycles.

A steady run of identical chunks is not simulated chunk by chunk: once the whole state of the
pipeline (channel, buffers, loader, pending writes) repeats from one chunk of an op to the next,
the rest of that op's chunks repeat it exactly, and they are accounted in closed form (`period`
cycles each) instead of being replayed (docs/model.md §4).

Output: compute, stall and total cycles, the stall split by cause (DRAM bandwidth, SRAM
bandwidth, DRAM latency) per op and in total, and a per-op timeline.

Three engines compute it, with bit-identical results: the event loop of rctsim/engine_fast.py
(`_run`, `engine="fast"`), the same loop in C (rctsim/_engine.c through rctsim/engine_c.py,
`engine="c"`; built at install where a C compiler is there) and the SimPy processes below
(`_run_simpy`, `engine="simpy"`), the reference the other two are tested against: the same
events in the same order. The default (`engine="auto"`, `default_engine()`) is the C engine
where it was built, the Python one otherwise. On the C engine one call into the library does
the whole step (`_simulate_c`: both runs, the stall split, the timeline sorted and joined as
`_merge` does); a caller that simulates one step again at other DRAM timing keeps its ops in a
`StepWork`, so that their conversions are made once.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, sub, truediv

import simpy

from rctsim import engine_c, engine_fast

BUFFERS = 2
"""Tile buffers between DMA and compute (double buffering)."""

ENGINES = ("auto", "c", "fast", "python", "simpy")
"""The step engine names `simulate_step` takes: "auto" (the default: `default_engine()`), "c"
(rctsim/_engine.c), "fast" or its alias "python" (rctsim/engine_fast.py) and "simpy" (the
reference the others are tested against)."""

MAX_PERIOD = 3
"""Longest repeating pattern (in chunks) looked for in a steady run: the pipeline settles into
a pattern of one chunk, or of two when loads and write-backs alternate on the channel."""

_compute, _sram = attrgetter("compute_cycles"), attrgetter("sram_bytes")


def chunk_count(tiles: int, read_bytes: float, write_bytes: float, buffer_bytes: float) -> int:
    """Pipeline chunks of one op: its mapping tiles, or more when a tile's share of the op's
    DRAM reads or writes would not fit one of the two buffers (`buffer_bytes` each)."""
    n = max(1, int(tiles))
    if buffer_bytes > 0:
        n = max(n, math.ceil(read_bytes / buffer_bytes), math.ceil(write_bytes / buffer_bytes))
    return n


@dataclass(frozen=True)
class OpWork:
    """What the engine needs of one op."""

    label: str
    compute_cycles: float
    """Stall-free array cycles of the whole op."""
    dram_read_bytes: float
    dram_write_bytes: float
    chunks: int
    """Pipeline chunks (`chunk_count`); the op's work is spread evenly over them."""
    sram_bytes: float = 0.0
    """Global-buffer bytes the op reads and writes (array operands and the DMA side)."""
    after: tuple[int, ...] = ()
    """Indices (in the step's op list) of earlier ops whose DRAM writes this op reads: its
    first DRAM read waits until all their writes are out."""


@dataclass(frozen=True)
class Interval:
    """One busy interval on a lane of the timeline."""

    lane: str
    """`dma` or `compute`."""
    label: str
    start: float
    end: float


@dataclass(frozen=True)
class OpTiming:
    """Cycles of one op: its compute and the stall charged to it, by cause."""

    compute: float
    """Stall-free array cycles."""
    sram_bandwidth: float
    """Extra array cycles because the global buffer feeds operands slower than the array uses
    them: max(0, SRAM bytes / SRAM bandwidth - compute)."""
    dram_bandwidth: float
    """Cycles the array waits for this op's data, less the latency share."""
    dram_latency: float
    """Of the array's wait for this op's data, the cycles that zero DRAM latency would save."""

    @property
    def stall(self) -> float:
        """All stall cycles of the op."""
        return self.sram_bandwidth + self.dram_bandwidth + self.dram_latency


class OpTimings(Sequence):
    """The per-op timings of a step (`StepTiming.ops`) from the compiled engine: the OpTiming
    objects are made when first read (the replay of a sweep point reads none: it keeps them
    for `PolicyResult.op_cycles`, summed only when asked for). It equals, hashes, prints and
    pickles as the tuple of those objects."""

    __slots__ = ("_columns", "_ops")

    def __init__(self, compute: Sequence[float], sram: Sequence[float],
                 dram_bandwidth: Sequence[float], dram_latency: Sequence[float]) -> None:
        self._columns = (compute, sram, dram_bandwidth, dram_latency)
        self._ops: tuple[OpTiming, ...] | None = None

    def _made(self) -> tuple[OpTiming, ...]:
        if self._ops is None:
            # positional, in field order: compute, sram_bandwidth, dram_bandwidth, dram_latency
            self._ops = _bare(OpTiming, [
                {"compute": c, "sram_bandwidth": s, "dram_bandwidth": b, "dram_latency": a}
                for c, s, b, a in zip(*self._columns, strict=True)])
            self._columns = ()
        return self._ops

    def __len__(self) -> int:
        return len(self._ops) if self._ops is not None else len(self._columns[0])

    def __getitem__(self, i):
        return self._made()[i]

    def __iter__(self):
        return iter(self._made())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, OpTimings):
            other = other._made()
        return self._made() == other

    def __hash__(self) -> int:
        return hash(self._made())

    def __repr__(self) -> str:
        return repr(self._made())

    def __reduce__(self):
        return (tuple, (self._made(),))


@dataclass(frozen=True)
class StepTiming:
    """Cycles of one simulated step."""

    compute_cycles: float
    stall_cycles: float
    total_cycles: float
    dram_busy_cycles: float
    timeline: tuple[Interval, ...]
    stall_dram_bandwidth: float = 0.0
    """Stall cycles waiting for DRAM data moving at the channel's bandwidth."""
    stall_sram_bandwidth: float = 0.0
    """Stall cycles of operand feed limited by the global buffer's bandwidth."""
    stall_dram_latency: float = 0.0
    """Stall cycles due to the DRAM access latency."""
    ops: Sequence[OpTiming] = ()
    """Per op, in the order given (a tuple, or OpTimings from the compiled engine)."""
    simulated_chunks: int = 0
    """Chunks replayed event by event (the rest were accounted in closed form)."""


@dataclass
class _Run:
    total: float
    idle: list[float]
    dram_busy: float
    timeline: list[Interval]
    simulated: int


def default_engine() -> str:
    """The engine `simulate_step` uses by default: "c" where the compiled engine was built and
    loads, "fast" (the Python event loop) otherwise."""
    return "c" if engine_c.available() else "fast"


class StepWork(Sequence):
    """A step's ops (`OpWork`, in schedule order), kept to be simulated again: what
    `simulate_step` derives from the ops alone (their sums, the compiled engine's arrays) or
    from the ops and the global-buffer bandwidth (each op's array cycles `eff` and SRAM stall,
    the compiled engine's per-chunk cycles) is computed on the first call that needs it and
    reused by every later call, at any DRAM bandwidth and latency. A sequence of its ops (what
    `simulate_step` takes as a list); the results are those of the list, bit for bit
    (tests/test_engine_fast.py). The replay of a distinct phase keeps one (its work does not
    change with DRAM timing, which sweeps vary)."""

    __slots__ = ("ops", "_whole", "_c_ops", "_by_sram")

    MAX_RATES = 16
    """Global-buffer bandwidths kept at once (a sweep varies a few; more start again)."""

    def __init__(self, work) -> None:
        self.ops: tuple[OpWork, ...] = tuple(work)
        self._whole: tuple[float, bool] | None = None
        self._c_ops: engine_c.Ops | None = None
        self._by_sram: dict = {}

    def __len__(self) -> int:
        return len(self.ops)

    def __getitem__(self, i):
        return self.ops[i]

    def __iter__(self):
        return iter(self.ops)

    def __reduce__(self):
        """Pickled (or copied) as its ops alone: the conversions hold memory addresses."""
        return (StepWork, (self.ops,))

    def whole(self) -> tuple[float, bool]:
        """(the ops' compute cycles summed, whether any op reads or writes DRAM)."""
        got = self._whole
        if got is None:
            work = self.ops
            got = self._whole = (
                float(sum(w.compute_cycles for w in work)),
                any(w.dram_read_bytes > 0 or w.dram_write_bytes > 0 for w in work))
        return got

    def c_ops(self) -> engine_c.Ops:
        """The ops as the compiled engine takes them (`engine_c.Ops`)."""
        if self._c_ops is None:
            self._c_ops = engine_c.Ops(self.ops)
        return self._c_ops

    def at_sram(self, sram_bytes_per_cycle: float) -> _AtSram:
        """What depends on the global buffer's bandwidth, for `sram_bytes_per_cycle`."""
        by = self._by_sram
        got = by.get(sram_bytes_per_cycle)
        if got is None:
            if len(by) >= self.MAX_RATES:
                by.clear()
            got = by[sram_bytes_per_cycle] = _AtSram(self.ops, sram_bytes_per_cycle)
        return got


class _AtSram:
    """A step's ops at one global-buffer bandwidth (`StepWork.at_sram`): each op's array
    cycles, the OpTiming fields that do not depend on DRAM (compute, SRAM stall) and the SRAM
    stalls' sum, and the per-chunk cycles of the C engine (made when first asked)."""

    __slots__ = ("eff", "compute", "sram", "sram_total", "_cy")

    def __init__(self, work: tuple[OpWork, ...], sram_bytes_per_cycle: float) -> None:
        # `max(w.compute_cycles, w.sram_bytes / sram_bytes_per_cycle)`, `float(w.compute_cycles)`
        # and `float(e - w.compute_cycles)` of simulate_step, op by op
        computes = list(map(_compute, work))
        self.eff = list(map(max, computes, map(truediv, map(_sram, work),
                                               repeat(sram_bytes_per_cycle))))
        self.compute = list(map(float, computes))
        self.sram = list(map(float, map(sub, self.eff, computes)))
        self.sram_total = sum(self.sram)
        self._cy = None

    def cycles(self, ops: engine_c.Ops):
        """The C engine's per-chunk compute cycles (`engine_c.cycles`)."""
        if self._cy is None:
            self._cy = engine_c.cycles(ops, self.eff)
        return self._cy


def simulate_step(work: list[OpWork] | StepWork, *, dram_bytes_per_cycle: float,
                  sram_bytes_per_cycle: float = math.inf, latency_cycles: float = 0.0,
                  keep_timeline: bool = False, merge: bool = True,
                  split_latency: bool = True, engine: str = "auto") -> StepTiming:
    """Run the step's ops through DMA and compute; return its timing.

    `work`: the ops in schedule order, a list or a `StepWork` (kept by a caller that simulates
    the same step again, at another DRAM bandwidth or latency: what depends only on the ops and
    the global-buffer bandwidth is then computed once).
    `latency_cycles`: DRAM access latency of each read (write-backs are posted).
    `merge=False` replays every chunk (the closed form for steady runs is then not used; for
    tests). `split_latency=False` skips the zero-latency run that splits a wait between DRAM
    bandwidth and DRAM latency (the whole wait is then DRAM bandwidth; totals unchanged).
    `engine`: "auto" (the default: `default_engine()`), "c" (rctsim/_engine.c; an error where
    it was not built), "fast" or "python" (rctsim/engine_fast.py) or "simpy" (the reference
    the others are tested against); all give bit-identical results.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "auto":
        engine = default_engine()
    if engine == "c" and not engine_c.available():
        raise ValueError("engine='c': the compiled step engine was not built (it is built at "
                         "install where a C compiler is there: pip install -e .)")
    step = work if isinstance(work, StepWork) else StepWork(work)
    if engine == "c":
        return _simulate_c(step, dram_bytes_per_cycle, sram_bytes_per_cycle, latency_cycles,
                           keep_timeline, merge, split_latency)
    work = step.ops
    eff = step.at_sram(sram_bytes_per_cycle).eff
    _run_one = _run_simpy if engine == "simpy" else _run
    run = _run_one(work, eff, dram_bytes_per_cycle, latency_cycles, keep_timeline, merge)
    has_dram = any(w.dram_read_bytes > 0 or w.dram_write_bytes > 0 for w in work)
    idle0 = run.idle
    if split_latency and latency_cycles > 0 and has_dram and any(run.idle):
        idle0 = _run_one(work, eff, dram_bytes_per_cycle, 0.0, False, merge).idle
    ops = []
    for w, e, wait, wait0 in zip(work, eff, run.idle, idle0, strict=True):
        wait = max(0.0, wait)
        lat = min(wait, max(0.0, wait - wait0))
        # positional, in field order: compute, sram_bandwidth, dram_bandwidth, dram_latency
        ops.append(OpTiming(float(w.compute_cycles), float(e - w.compute_cycles),
                            float(wait - lat), float(lat)))
    compute_total = float(sum(w.compute_cycles for w in work))
    total = float(run.total)
    return StepTiming(
        compute_cycles=compute_total, stall_cycles=max(0.0, total - compute_total),
        total_cycles=total, dram_busy_cycles=run.dram_busy,
        timeline=tuple(_merge(run.timeline)) if keep_timeline else (),
        stall_dram_bandwidth=sum(o.dram_bandwidth for o in ops),
        stall_sram_bandwidth=sum(o.sram_bandwidth for o in ops),
        stall_dram_latency=sum(o.dram_latency for o in ops),
        ops=tuple(ops), simulated_chunks=run.simulated)


def _simulate_c(step: StepWork, bw: float, sram: float, latency: float, keep: bool,
                merge: bool, split_latency: bool) -> StepTiming:
    """`simulate_step` on the compiled engine: one call into the library runs the step, its
    zero-latency twin where the split needs it, splits each op's wait (the Python path's
    `max`/`min` expressions, in C) and sorts and joins the timeline (`_merge`'s order and
    rule); here only the per-op timings and the timeline's Interval objects are made
    (`_bare`)."""
    compute_total, has_dram = step.whole()
    ops = step.c_ops()
    fixed = step.at_sram(sram)
    got = engine_c.step(ops, fixed.cycles(ops), bw, latency, keep, merge,
                        bool(split_latency and latency > 0 and has_dram), BUFFERS, MAX_PERIOD)
    dram_bw, dram_lat = got.dram_bandwidth, got.dram_latency
    per_op = OpTimings(fixed.compute, fixed.sram, dram_bw, dram_lat)
    timeline: tuple[Interval, ...] = ()
    if keep:
        timeline = _intervals(*got.log) if got.joined else tuple(
            _merge([Interval(*iv) for iv in got.log]))
    total = float(got.total)
    return StepTiming(
        compute_cycles=compute_total, stall_cycles=max(0.0, total - compute_total),
        total_cycles=total, dram_busy_cycles=got.busy, timeline=timeline,
        stall_dram_bandwidth=sum(dram_bw), stall_sram_bandwidth=fixed.sram_total,
        stall_dram_latency=sum(dram_lat), ops=per_op, simulated_chunks=got.simulated)


def _intervals(pairs: list[tuple[str, str]], starts: list[float],
               ends: list[float]) -> tuple[Interval, ...]:
    """`Interval(lane, label, start, end)` for each (lane, label) pair, start and end.
    `_bare`'s objects."""
    return _bare(Interval, [{"lane": a, "label": b, "start": c, "end": d}
                            for (a, b), c, d in zip(pairs, starts, ends, strict=True)])


def _bare(cls: type, fields: list[dict]) -> tuple:
    """Instances of the frozen dataclass `cls` with these attribute dicts: what
    `cls(**fields)` makes, made faster (its `__init__` sets each field through
    `object.__setattr__`, most of the cost of a timeline; here each instance is made bare and
    given its whole dict at once). tests/test_engine_fast.py checks equality, hash, `vars`,
    repr and pickling against objects `cls(...)` made."""
    out = tuple(map(object.__new__, repeat(cls, len(fields))))
    deque(map(object.__setattr__, out, repeat("__dict__"), fields), 0)
    return out


def _run(work: list[OpWork], eff: list[float], bw: float, latency: float, keep: bool,
         merge: bool) -> _Run:
    """One pass of the default engine (rctsim/engine_fast.py): `_run_simpy`'s events in
    `_run_simpy`'s order without SimPy, bit-identical to it (tests/test_engine_fast.py)."""
    total, idle, busy, log, simulated = engine_fast.run(work, eff, bw, latency, keep, merge,
                                                        BUFFERS, MAX_PERIOD)
    return _Run(total=total, idle=idle, dram_busy=busy,
                timeline=[Interval(*iv) for iv in log], simulated=simulated)


def _run_simpy(work: list[OpWork], eff: list[float], bw: float, latency: float, keep: bool,
               merge: bool) -> _Run:
    """One event-driven pass in SimPy (the reference engine). Times inside SimPy exclude the
    cycles of merged steady runs; `skipped` adds them back (every event after a merge is
    shifted by the same amount).

    The loop keeps its state in local variables of the two processes (not a dict) and takes
    an item straight off a queue when one is there: the same events in the same order as
    main c0e2661's loop (tests/engine_reference.py), with less work around each.
    tests/test_engine_fast.py checks that `_run` gives bit-identical results."""
    env = simpy.Environment()
    timeout = env.timeout
    slots = _Queue(env, [None] * BUFFERS)
    ready = _Queue(env)
    slot_items, ready_items = slots.items, ready.items
    n_ops = len(work)
    unloaded = [max(1, w.chunks) for w in work]
    uncomputed = list(unloaded)
    per = [(w.dram_read_bytes / n / bw, e / n, w.dram_write_bytes / n / bw)
           for w, e, n in zip(work, eff, unloaded, strict=True)]
    done = [env.event() for _ in work]
    idle = [0.0] * n_ops
    log: list[Interval] = []
    free = busy = skipped = ld_until = last_end = 0.0
    ld_op, ld_mode, simulated = 0, "", 0
    releases: deque[float] = deque()

    def release(_event) -> None:
        releases.popleft()
        slots.put(None)

    def loader():
        nonlocal free, busy, ld_op, ld_mode, ld_until
        for j, w in enumerate(work):
            ld_op = j
            if w.after and w.dram_read_bytes > 0:
                waits = [done[i] for i in w.after if not done[i].triggered]
                if waits:
                    ld_mode = "raw"
                    yield env.all_of(waits)
            read = per[j][0]
            while unloaded[j] > 0:
                unloaded[j] -= 1
                ld_mode = "slot"
                if slot_items:
                    slot_items.popleft()
                else:
                    yield slots.get()
                if read > 0:
                    now = env.now
                    start = max(now + latency, free)  # FIFO by request time
                    end = start + read
                    free = end
                    busy += read
                    ld_mode, ld_until = "xfer", end
                    if keep:
                        log.append(Interval("dma", w.label, start + skipped, end + skipped))
                    yield timeout(end - now)
                ld_mode = "put"
                ready.put(j)
            ld_mode = "next"
        ld_op = n_ops

    def compute():
        nonlocal free, busy, skipped, last_end, simulated
        hist: deque[tuple] = deque(maxlen=MAX_PERIOD)  # (start, signature, unloaded) of op `cur`
        cur = -1
        while True:
            j = ready_items.popleft() if ready_items else (yield ready.get())
            start = env.now
            if start > last_end:
                idle[j] += start - last_end
            read, cycles, write = per[j]
            if j != cur:
                cur = j
                hist.clear()
            if merge and unloaded[j] > 0:
                sig = (ld_op, ld_mode, len(slot_items), len(ready_items), len(releases),
                       max(0.0, free - start), max(0.0, ld_until - start),
                       *[t - start for t in releases])
                tol = 1e-9 * max(1.0, start)
                left = unloaded[j]
                for p in range(1, len(hist) + 1):
                    t_p, sig_p, left_p = hist[-p]
                    if left_p == left + p and _same(sig, sig_p, tol):
                        span = start - t_p  # p chunks take `span` cycles, over and over
                        m = left // p * p
                        unloaded[j] -= m
                        uncomputed[j] -= m
                        skip = m // p * span
                        skipped += skip
                        busy += m * (read + write)
                        idle[j] += max(0.0, skip - m * cycles)
                        if keep:
                            t0 = start + skipped - skip
                            log.append(Interval("compute", work[j].label, t0, t0 + m * cycles))
                            log.append(Interval("dma", work[j].label, t0,
                                                t0 + m * (read + write)))
                        hist.clear()
                        break
                else:
                    hist.append((start, sig, left))
            simulated += 1
            yield timeout(cycles)
            now = last_end = env.now
            if keep and cycles > 0:
                log.append(Interval("compute", work[j].label, start + skipped, now + skipped))
            uncomputed[j] -= 1
            if write > 0:
                wstart = now if now > free else free
                end = wstart + write
                free = end
                busy += write
                if keep:
                    log.append(Interval("dma", work[j].label, wstart + skipped, end + skipped))
                releases.append(end)
                timeout(end - now).callbacks.append(release)
            else:
                end = now
                slots.put(None)
            if uncomputed[j] == 0:
                if end > now:
                    timeout(end - now).callbacks.append(lambda _e, d=done[j]: d.succeed())
                else:
                    done[j].succeed()

    env.process(loader())
    env.process(compute())
    env.run()
    total = env.now + skipped
    if n_ops:  # the final write-back after the last compute is the last op's drain
        idle[-1] += max(0.0, env.now - last_end)
    return _Run(total=total, idle=idle, dram_busy=busy, timeline=log, simulated=simulated)


def _same(a: tuple, b: tuple, tol: float) -> bool:
    """Two pipeline signatures alike: the same counts and modes, times within `tol`."""
    if len(a) != len(b) or a[:5] != b[:5]:
        return False
    for x, y in zip(a[5:], b[5:], strict=True):
        if abs(x - y) > tol:
            return False
    return True


class _Queue:
    """A FIFO with at most one waiting consumer: the tile buffers (free slots) and the chunks
    ready for the array (a lighter simpy.Store for the one process that takes from it)."""

    def __init__(self, env: simpy.Environment, items: list | None = None) -> None:
        self.env = env
        self.items: deque = deque(items or ())
        self.waiter: simpy.Event | None = None

    def put(self, item) -> None:
        """Add an item, or hand it straight to the waiting consumer."""
        if self.waiter is not None:
            waiter, self.waiter = self.waiter, None
            waiter.succeed(item)
        else:
            self.items.append(item)

    def get(self) -> simpy.Event:
        """An event that fires with the next item."""
        event = self.env.event()
        if self.items:
            event.succeed(self.items.popleft())
        else:
            self.waiter = event
        return event


def _merge(log: list[Interval]) -> list[Interval]:
    """Join back-to-back intervals of the same op on the same lane."""
    out: list[Interval] = []
    for iv in sorted(log, key=lambda x: (x.lane, x.start)):
        last = out[-1] if out else None
        if last and last.lane == iv.lane and last.label == iv.label and iv.start - last.end < 1e-9:
            out[-1] = Interval(iv.lane, iv.label, last.start, iv.end)
        else:
            out.append(iv)
    return out
