"""Run a sweep plan: train missing traces, simulate unfinished points, store each as it finishes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rctsim.sweep.cache import TraceCache, Trainer, train_job, train_with_rctsim
from rctsim.sweep.executors import Executor
from rctsim.sweep.plan import (
    Point,
    SweepPlan,
    TraceInfo,
    check_objectives,
    sweep_points,
    trace_info,
)
from rctsim.sweep.store import SweepStore
from rctsim.sweep.table import store_row
from rctsim.sweep.work import simulate_job, split_jobs


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
    """Points already in the store."""
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


def run_sweep(plan: SweepPlan, *, store: SweepStore, executor: Executor, cache: TraceCache,
              trainer: Trainer = train_with_rctsim,
              on_progress: ProgressFn = _noop) -> SweepOutcome:
    """Train, then simulate every point the store lacks; one committed row per point."""
    start = time.perf_counter()
    traces, trained = prepare_traces(plan, cache=cache, executor=executor, trainer=trainer,
                                     on_progress=on_progress)
    points = sweep_points(plan, traces)
    finished = store.finished(p.key for p in points)
    todo = [p for p in points if p.key not in finished]
    by_key = {p.key: p for p in todo}
    tasks = []
    for trace in traces:
        items = [(p.key, p.hardware.spec) for p in todo if p.trace is trace]
        if items:
            ref = executor.share(trace.path)
            tasks += [(ref, job) for job in split_jobs(
                items, workers=executor.workers, options=plan.options,
                baseline=plan.baseline)]
    done = len(finished)
    sim_start = time.perf_counter()
    on_progress(SweepProgress("simulate", done, len(points)))
    for _, outcomes in executor.run(simulate_job, tasks):
        for outcome in outcomes:
            store.insert(store_row(plan, by_key[outcome.key], outcome))
            done += 1
        on_progress(SweepProgress("simulate", done, len(points)))
    rows = store.rows(p.key for p in points)
    errors = sum(1 for r in rows.values() if r["status"] != "ok")
    return SweepOutcome(points=tuple(points), resumed=len(finished), computed=len(todo),
                        errors=errors, trained=trained, seconds=time.perf_counter() - start,
                        simulate_seconds=time.perf_counter() - sim_start,
                        executor=executor.description)
