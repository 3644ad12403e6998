"""Run a sweep plan: train missing traces, simulate unfinished points, store each as it finishes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rctsim.errors import InputError
from rctsim.sweep.cache import TraceCache, Trainer, train_job, train_with_rctsim
from rctsim.sweep.executors import Executor
from rctsim.sweep.hardware import hardware_columns
from rctsim.sweep.plan import (
    Point,
    SweepPlan,
    TraceInfo,
    check_objectives,
    sweep_points,
    trace_info,
)
from rctsim.sweep.store import SweepStore, new_owner
from rctsim.sweep.table import store_row
from rctsim.sweep.work import PointOutcome, reuse_keys, reuse_order, simulate_job, split_jobs


@dataclass(frozen=True)
class SweepProgress:
    """A progress report: `done` of `total` in a stage."""

    stage: str
    """`train` or `simulate`."""
    done: int
    total: int


ProgressFn = Callable[[SweepProgress], None]


@dataclass(frozen=True)
class SweepOutcome:
    """What a run did."""

    points: tuple[Point, ...]
    resumed: int
    """Points already in the store, or finished meanwhile by another sweep on the same store."""
    computed: int
    """Points simulated by this run."""
    errors: int
    """Points (of all) the model rejected, stored with status `error`."""
    trained: int
    """Traces trained by this run (the others came from the cache)."""
    seconds: float
    """Wall time of the whole run (training included)."""
    simulate_seconds: float
    """Wall time of the simulation stage."""
    executor: str


def _noop(_: SweepProgress) -> None:
    return None


def prepare_traces(plan: SweepPlan, *, cache: TraceCache, executor: Executor,
                   trainer: Trainer = train_with_rctsim,
                   on_progress: ProgressFn = _noop) -> tuple[list[TraceInfo], int]:
    """Every policy point's trace (training the ones not cached); returns (infos, trained)."""
    given = [trace_info(p.trace, p.label) if p.trace is not None else None
             for p in plan.policies]
    check_objectives(plan, given)
    missing: dict[str, dict] = {}
    for p in plan.policies:
        if p.train is not None and not cache.has(p.train):
            missing.setdefault(str(cache.path(p.train)), p.train)
    todo = list(missing.values())
    if todo:
        on_progress(SweepProgress("train", 0, len(todo)))
        for done, (index, data) in enumerate(
                executor.run(train_job, [(trainer, s) for s in todo]), start=1):
            cache.put(todo[index], data)
            on_progress(SweepProgress("train", done, len(todo)))
    infos = [g if g is not None else trace_info(cache.path(p.train or {}), p.label)
             for g, p in zip(given, plan.policies, strict=True)]
    check_objectives(plan, infos)
    return infos, len(todo)


ROUND_MIN = 32
"""Fewest points a sweep leases at a time (it leases rounds, so concurrent sweeps share work)."""
JOB_SIZE = 16
"""Most points in one worker task (`split_jobs`)."""
WAIT_S = 0.5
"""Pause between looks at the store while another sweep holds every pending point."""


@dataclass(frozen=True)
class WorkOrder:
    """The order a sweep claims and cuts its points in: trace by trace, hardware points that
    share a ReplayCache machine key (differ only in DRAM timing) next to each other."""

    keys: tuple[str, ...]
    """Point keys in work order."""
    group: dict[str, tuple[int, str]]
    """Point key -> its reuse group: (its trace's position, the hardware's machine key)."""
    cluster: dict[str, tuple[int, str]]
    """Point key -> its group of groups: (its trace's position, the machine key less the
    dataflow)."""


def work_order(points: list[Point], traces: list[TraceInfo]) -> WorkOrder:
    """Points ordered trace by trace, then as `reuse_order` orders their hardware (machine keys
    computed once per hardware point)."""
    keys: dict[int, tuple[str, str]] = {}
    for p in points:
        if id(p.hardware) not in keys:
            keys[id(p.hardware)] = reuse_keys(p.hardware.spec)
    trace_pos = {id(t): i for i, t in enumerate(traces)}
    ranked = reuse_order([keys[id(p.hardware)] for p in points])
    rank = {points[j].key: r for r, j in enumerate(ranked)}
    ordered = sorted(points, key=lambda p: (trace_pos[id(p.trace)], rank[p.key]))
    return WorkOrder(tuple(p.key for p in ordered),
                     {p.key: (trace_pos[id(p.trace)], keys[id(p.hardware)][0]) for p in ordered},
                     {p.key: (trace_pos[id(p.trace)], keys[id(p.hardware)][1]) for p in ordered})


def _tasks(plan: SweepPlan, todo: list[Point], traces: list[TraceInfo],
           executor: Executor, order: WorkOrder) -> list[tuple]:
    """Worker tasks for `todo` (in work order): per trace, the points cut into jobs along
    their reuse groups."""
    tasks = []
    for trace in traces:
        mine = [p for p in todo if p.trace is trace]
        if mine:
            ref = executor.share(trace.path)
            tasks += [(ref, job) for job in split_jobs(
                [(p.key, p.hardware.spec) for p in mine], workers=executor.workers,
                options=plan.options, baseline=plan.baseline, max_size=JOB_SIZE,
                groups=[order.group[p.key] for p in mine],
                clusters=[order.cluster[p.key] for p in mine])]
    return tasks


def run_sweep(plan: SweepPlan, *, store: SweepStore, executor: Executor, cache: TraceCache,
              trainer: Trainer = train_with_rctsim,
              on_progress: ProgressFn = _noop) -> SweepOutcome:
    """Train, then simulate every point the store lacks; one committed row per point.

    Local workers are started first, so they import the simulator while traces are prepared.
    Points are leased from the store in rounds (`SweepStore.claim`) of whole reuse groups, so
    sweeps running at the same time on one store never simulate a point twice: each takes the
    points no one holds, then waits for the ones another sweep is simulating. An executor that
    `streams` asks for the next round's tasks while the last ones of this round still run (no
    worker waits between rounds); another gets one round at a time."""
    start = time.perf_counter()
    getattr(executor, "start", _nothing)()
    streams = getattr(executor, "streams", False)
    traces, trained = prepare_traces(plan, cache=cache, executor=executor, trainer=trainer,
                                     on_progress=on_progress)
    points = sweep_points(plan, traces)
    by_key = {p.key: p for p in points}
    order = work_order(points, traces)
    owner = new_owner()
    done = len(store.finished(by_key))
    computed = 0
    sim_start = time.perf_counter()
    on_progress(SweepProgress("simulate", done, len(points)))
    round_size = max(ROUND_MIN, 4 * executor.workers * JOB_SIZE)
    taken: set[str] = set()  # claimed by this run, in the executor's hands
    columns: dict[int, dict] = {}  # hardware columns by hardware point (its SRAM area: a model)

    def claim() -> tuple[list[str], list[str], int]:
        """(the next round, the points pending before it, how many points have a row)."""
        finished = store.finished(order.keys)
        pending = [k for k in order.keys if k not in finished and k not in taken]
        claimed = store.claim(pending, owner, limit=round_size, group=order.group.__getitem__)
        taken.update(claimed)
        return claimed, pending, len(finished)

    def rounds(claimed: list[str]) -> Iterator[tuple]:
        """The tasks of `claimed`, then (streaming) of each next round claimed when asked."""
        while claimed:
            yield from _tasks(plan, [by_key[k] for k in claimed], traces, executor, order)
            if not streams:
                return
            claimed = claim()[0]

    def row(point: Point, outcome: PointOutcome) -> dict:
        hw = columns.get(id(point.hardware))
        if hw is None:
            hw = columns[id(point.hardware)] = hardware_columns(point.hardware.spec, plan.area)
        return store_row(plan, point, outcome, hardware=hw)

    try:
        while True:
            taken.clear()  # every point of the last rounds has its row now
            claimed, pending, done = claim()
            if not pending:
                break
            if not claimed:  # every pending point is leased by another live sweep: wait
                on_progress(SweepProgress("simulate", done, len(points)))
                time.sleep(WAIT_S)
                continue
            for _, outcomes in executor.run(simulate_job, rounds(claimed)):
                store.insert_many([row(by_key[o.key], o) for o in outcomes])
                computed += len(outcomes)
                done += len(outcomes)
                store.renew(owner)
                on_progress(SweepProgress("simulate", min(done, len(points)), len(points)))
    finally:
        with contextlib.suppress(InputError):  # a damaged store already said so
            store.release(owner)
    errors = len(store.failed(p.key for p in points))
    return SweepOutcome(points=tuple(points), resumed=len(points) - computed, computed=computed,
                        errors=errors, trained=trained, seconds=time.perf_counter() - start,
                        simulate_seconds=time.perf_counter() - sim_start,
                        executor=executor.description)


def _nothing() -> None:
    return None
