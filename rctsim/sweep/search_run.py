"""Budgeted multi-objective search over a sweep's axes (`rctsim sweep CONFIG --search`).

An optuna sampler (NSGA-II, multi-objective TPE, or uniform random) proposes points in batches
through its ask/tell interface; each batch is evaluated on the sweep's executor (local processes
or Dask) exactly as grid points are, every point stored in the same SQLite store (`points`) and
every evaluation in `search_evals` (search id, evaluation index, trial, axis values, reason).

Determinism and resume: the sampler is seeded; the search id hashes the space, objectives,
simulation options, method, seed and batch. A rerun with the same id replays the ask/tell loop:
a proposed point already evaluated (in this search, or as a `points` row of any sweep) is told
from the store, never simulated again, so the same seed and store give the same points and a
search killed at any moment finishes its budget on the next run.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rctsim import __version__
from rctsim.errors import InputError
from rctsim.replay import SimOptions
from rctsim.sweep.cache import TraceCache, Trainer, train_job, train_with_rctsim
from rctsim.sweep.config import SweepConfig
from rctsim.sweep.executors import Executor
from rctsim.sweep.pareto import Objective, parse_objective
from rctsim.sweep.plan import Point, SweepPlan, TraceInfo, point_key, trace_info
from rctsim.sweep.runner import SweepProgress
from rctsim.sweep.search_space import SearchSpace, search_space
from rctsim.sweep.store import SweepStore
from rctsim.sweep.table import store_row
from rctsim.sweep.work import simulate_job, split_jobs

METHODS = ("nsga2", "tpe", "random")
"""Search methods: optuna's NSGAIISampler, TPESampler (multi-objective) and RandomSampler."""
DEFAULT_BATCH = 16
"""Points asked of the sampler at a time (fixed, not the worker count, so a rerun on another
machine proposes the same points)."""
TRIALS_PER_EVALUATION = 10
"""A search stops after this many trials per budgeted evaluation (plus 100) even when the
budget is not spent: the sampler keeps proposing points already evaluated (a small space)."""
INFEASIBLE_VALUE = 1e300
"""Objective value told for an impossible point (with a constraint violation of 1, which is
what NSGA-II and TPE rank it by: behind every feasible point)."""
CONSTRAINT = "feasible"
"""The optuna constraint every trial carries: 0 for a point that simulated, 1 for one the
hardware schema, the trainer or the model rejected (NSGA-II's constrained domination and TPE's
constraint handling put it behind every feasible point)."""

ProgressFn = Callable[[SweepProgress], None]


@dataclass(frozen=True)
class SearchPlan:
    """A validated search: the space, and the sweep plan its points are stored under."""

    sweep: SweepPlan
    """Name, options, baseline, objectives, area, axes of the stored rows (no points)."""
    space: SearchSpace


@dataclass(frozen=True)
class Evaluation:
    """One distinct point of a search."""

    index: int
    """Evaluation index (0, 1, ...)."""
    trial: int
    """The sampler's trial number that first proposed it."""
    params: dict[str, Any]
    key: str | None
    """Its `points` row (None for an impossible point)."""
    status: str
    """`ok`, `error` (the model rejected it) or `infeasible` (the schema or trainer did)."""
    reason: str | None
    values: tuple[float, ...] | None
    """Objective values (None unless ok)."""


@dataclass(frozen=True)
class SearchOutcome:
    """What a search did."""

    search: str
    """The search id."""
    method: str
    seed: int
    evaluations: tuple[Evaluation, ...]
    """Every distinct point, in evaluation order."""
    simulated: int
    """Points this run simulated (the others came from the store)."""
    trained: int
    trials: int
    """Trials the sampler proposed (repeats of an evaluated point included)."""
    seconds: float
    executor: str


def plan_search(config: SweepConfig, *, source: str, base_dir: Path) -> SearchPlan:
    """Validate a config for a search (continuous ranges allowed); InputError on a problem."""
    objectives = tuple(parse_objective(source, f"objectives[{i}]", text)
                       for i, text in enumerate(config.objectives))
    if not objectives:
        raise InputError(source, "objectives", "no objective given", "one or more")
    space = search_space(config, source=source, base_dir=base_dir)
    baseline = None if config.simulation.baseline == "none" else config.simulation.baseline
    sweep = SweepPlan(name=config.name, source=source, hardware=(), policies=(),
                      options=SimOptions(workspace_fraction=config.simulation.workspace_fraction,
                                         keep_timeline=False, split_stalls=False),
                      baseline=baseline, objectives=objectives, area=config.area,
                      axes=space.names())
    if not space.axes:
        raise InputError(source, "hardware.axes", "nothing to search: no axis varies",
                         "one axis or more")
    return SearchPlan(sweep=sweep, space=space)


def search_id(plan: SearchPlan, method: str, seed: int, batch: int) -> str:
    """sha256 of what a search's points depend on."""
    space = plan.space
    payload = {
        "axes": [[a.name, a.choices, a.span.model_dump() if a.span else None, a.when]
                 for a in space.axes],
        "base": space.builder.space.base, "train": space.policy_space.train,
        "traces": [str(p.trace) for p in space.given],
        "objectives": [str(o) for o in plan.sweep.objectives],
        "options": plan.sweep.options.model_dump(mode="json"), "baseline": plan.sweep.baseline,
        "method": method, "seed": seed, "batch": batch, "rctsim": __version__}
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canon(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def make_sampler(method: str, seed: int) -> Any:
    """The optuna sampler of a method, seeded (constraints come with each trial, `_tell`)."""
    import optuna

    if method == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if method == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise InputError("command line", "--search", f"unknown method {method!r}",
                     ", ".join(METHODS))


class _Evaluator:
    """Evaluates batches of new points: builds them, trains missing traces, reuses stored
    rows, simulates the rest on the executor, stores every row as it finishes."""

    def __init__(self, plan: SearchPlan, store: SweepStore, executor: Executor,
                 cache: TraceCache, trainer: Trainer):
        self.plan, self.store, self.executor = plan, store, executor
        self.cache, self.trainer = cache, trainer
        self.traces: dict[str, TraceInfo] = {}
        self.simulated = 0
        self.trained = 0

    def _trace(self, path: Path, label: str) -> TraceInfo:
        key = str(path)
        if key not in self.traces:
            info = trace_info(path, label)
            for objective in self.plan.sweep.objectives:
                if objective.column == "accuracy" and info.facts["accuracy"] is None:
                    raise InputError(self.plan.sweep.source, "objectives", f"{objective.name} "
                                     f"needs an accuracy, and trace {label!r} records no "
                                     "eval_acc", "traces from a training run (rctsim train), "
                                     "or another objective")
            self.traces[key] = info
        return self.traces[key]

    def run(self, items: list[tuple[int, dict[str, Any]]],
            record: Callable[[int, str | None, str, str | None], None]) -> None:
        """Evaluate (index, params) items; `record(index, key, status, reason)` for each, as
        soon as its row is in the store."""
        built: dict[int, Any] = {}
        for index, params in items:
            try:
                built[index] = self.plan.space.build(params)
            except InputError as err:
                record(index, None, "infeasible", f"{err.field}: {err.problem}")
        todo = {}
        for _, policy in built.values():
            if policy.train is not None and not self.cache.has(policy.train):
                todo.setdefault(str(self.cache.path(policy.train)), policy.train)
        if todo:
            settings = list(todo.values())
            for index, data in self.executor.run(train_job,
                                                 [(self.trainer, s) for s in settings]):
                self.cache.put(settings[index], data)
            self.trained += len(settings)
        points: dict[int, Point] = {}
        for index, (hardware, policy) in built.items():
            path = policy.trace if policy.trace is not None else self.cache.path(policy.train)
            trace = self._trace(path, policy.label)
            key = point_key(self.plan.sweep, hardware, trace, policy)
            points[index] = Point(index, key, hardware, policy, trace)
        found = self.store.rows(p.key for p in points.values())
        waiting: dict[str, list[int]] = {}
        for index, point in points.items():
            row = found.get(point.key)
            if row is not None:
                record(index, point.key, row["status"], row["error"])
            else:
                waiting.setdefault(point.key, []).append(index)
        if not waiting:
            return
        first = {key: points[indices[0]] for key, indices in waiting.items()}
        tasks = []
        for trace in {id(p.trace): p.trace for p in first.values()}.values():
            chunk = [(p.key, p.hardware.spec) for p in first.values() if p.trace is trace]
            ref = self.executor.share(trace.path)
            tasks += [(ref, job) for job in split_jobs(
                chunk, workers=self.executor.workers, options=self.plan.sweep.options,
                baseline=self.plan.sweep.baseline, max_size=16)]
        for _, outcomes in self.executor.run(simulate_job, tasks):
            self.store.insert_many([store_row(self.plan.sweep, first[o.key], o)
                                    for o in outcomes])
            for outcome in outcomes:
                self.simulated += 1
                for index in waiting[outcome.key]:
                    record(index, outcome.key, outcome.status, outcome.error)


def _values(row: dict[str, Any] | None, objectives: tuple[Objective, ...]
            ) -> tuple[float, ...] | None:
    if row is None or row["status"] != "ok":
        return None
    values = [row.get(o.column) for o in objectives]
    return None if any(v is None for v in values) else tuple(float(v) for v in values)


def run_search(plan: SearchPlan, *, store: SweepStore, executor: Executor, cache: TraceCache,
               budget: int, method: str = "nsga2", seed: int = 0, batch: int = DEFAULT_BATCH,
               trainer: Trainer = train_with_rctsim,
               on_progress: ProgressFn | None = None) -> SearchOutcome:
    """Search until `budget` distinct points are evaluated (or the space is exhausted)."""
    import optuna

    if budget < 1:
        raise InputError("command line", "--budget", f"{budget}", "1 or more")
    if batch < 1:
        raise InputError("command line", "--batch", f"{batch}", "1 or more")
    start = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objectives = plan.sweep.objectives
    sid = search_id(plan, method, seed, batch)
    store.add_search({"search": sid, "name": plan.sweep.name, "method": method, "seed": seed,
                      "batch": batch, "objectives": [str(o) for o in objectives],
                      "axes": list(plan.space.names()),
                      "started_at": datetime.now(UTC).isoformat(timespec="seconds")})
    recorded = {_canon(e["params"]): e for e in store.evals(sid)}
    study = optuna.create_study(
        directions=["maximize" if o.maximise else "minimize" for o in objectives],
        sampler=make_sampler(method, seed))
    evaluator = _Evaluator(plan, store, executor, cache, trainer)
    evaluations: dict[str, Evaluation] = {}
    size = plan.space.size
    limit = budget * TRIALS_PER_EVALUATION + 100
    trials = 0
    progress = on_progress or (lambda _: None)
    progress(SweepProgress("search", 0, budget))
    while (len(evaluations) < budget and trials < limit
           and (size is None or len(evaluations) < size)):
        asked = []
        fresh: dict[str, tuple[int, int, dict[str, Any]]] = {}
        for _ in range(min(batch, budget - len(evaluations))):
            trial = study.ask()
            params = plan.space.suggest(trial)
            canon = _canon(params)
            asked.append((trial, canon))
            if canon not in evaluations and canon not in fresh:
                fresh[canon] = (len(evaluations) + len(fresh), trial.number, params)
        trials += len(asked)
        results: dict[int, tuple[str | None, str, str | None]] = {}
        new = []
        for canon, (index, _, params) in fresh.items():
            old = recorded.get(canon)
            if old is not None:
                results[index] = (old["key"], old["status"], old["reason"])
            else:
                new.append((index, params))
        by_index = {index: (trial_no, params) for index, trial_no, params in fresh.values()}

        def record(index: int, key: str | None, status: str, reason: str | None, *,
                   results: dict = results, by_index: dict = by_index) -> None:
            results[index] = (key, status, reason)
            trial_no, params = by_index[index]
            store.add_eval({"search": sid, "idx": index, "trial": trial_no, "params": params,
                            "key": key, "status": status, "reason": reason,
                            "finished_at": datetime.now(UTC).isoformat(timespec="seconds")})
            progress(SweepProgress("search", len(evaluations) + len(results), budget))

        evaluator.run(new, record)
        rows = store.rows(k for k, _, _ in results.values() if k is not None)
        for canon, (index, trial_no, params) in fresh.items():
            key, status, reason = results[index]
            values = _values(rows.get(key) if key else None, objectives)
            if status == "ok" and values is None:
                status, reason = "error", "an objective has no value"
            evaluations[canon] = Evaluation(index, trial_no, params, key, status, reason, values)
        for trial, canon in asked:
            _tell(study, trial, evaluations[canon], objectives)
        progress(SweepProgress("search", len(evaluations), budget))
    ordered = tuple(sorted(evaluations.values(), key=lambda e: e.index))
    return SearchOutcome(search=sid, method=method, seed=seed, evaluations=ordered,
                         simulated=evaluator.simulated, trained=evaluator.trained,
                         trials=trials, seconds=time.perf_counter() - start,
                         executor=executor.description)


def _tell(study: Any, trial: Any, evaluation: Evaluation,
          objectives: tuple[Objective, ...]) -> None:
    if evaluation.values is not None:
        trial.set_constraint(CONSTRAINT, 0.0)
        study.tell(trial, list(evaluation.values))
        return
    trial.set_constraint(CONSTRAINT, 1.0)
    trial.set_user_attr("infeasible", evaluation.reason or evaluation.status)
    study.tell(trial, [-INFEASIBLE_VALUE if o.maximise else INFEASIBLE_VALUE
                       for o in objectives])


def search_rows(plan: SearchPlan, outcome: SearchOutcome, store: SweepStore
                ) -> list[dict[str, Any]]:
    """The table of a search: one row per evaluation in order (`point` = evaluation index),
    axes as their own columns; an impossible point has status `infeasible` and its reason."""
    from rctsim.sweep.store import COLUMN_NAMES

    found = store.rows(e.key for e in outcome.evaluations if e.key is not None)
    axes = [a for a in plan.sweep.axes if a not in COLUMN_NAMES]
    table = []
    for e in outcome.evaluations:
        flat: dict[str, Any] = {"point": e.index, **{a: e.params.get(a) for a in axes}}
        row = found.get(e.key) if e.key else None
        if row is not None:
            flat.update((k, v) for k, v in row.items() if k != "params")
        else:
            flat.update({"key": None, "status": "infeasible", "error": e.reason})
        flat["params"] = e.params
        flat["search_method"], flat["search_seed"] = outcome.method, outcome.seed
        table.append(flat)
    return table


def search(config: str | Path | dict[str, Any] | SweepConfig, *, budget: int,
           method: str = "nsga2", seed: int | None = None, batch: int = DEFAULT_BATCH,
           store: str | Path | None = None, executor: Executor | None = None,
           workers: int | None = None, dask: str | None = None,
           trace_cache: str | Path | None = None, trainer: Trainer = train_with_rctsim) -> Any:
    """Search a sweep config's space (a YAML file, a dict of the same keys, or a SweepConfig)
    with `budget` evaluations; return its points as `SweepResults` (rows in evaluation order,
    `.search` the `SearchOutcome`). `seed` defaults to the config's; the store to
    `default_store(config name)`; the executor to local processes (or `dask=`)."""
    from rctsim.sweep.cache import default_cache_dir
    from rctsim.sweep.config import sweep_settings
    from rctsim.sweep.executors import DaskExecutor, LocalExecutor
    from rctsim.sweep.results import SweepResults, default_store

    settings, source, base_dir = sweep_settings(config)
    plan = plan_search(settings, source=source, base_dir=base_dir)
    store_path = Path(store) if store is not None else default_store(plan.sweep.name)
    owned = executor is None
    runner = executor or (DaskExecutor(dask) if dask else LocalExecutor(workers))
    try:
        with SweepStore(store_path) as db:
            outcome = run_search(plan, store=db, executor=runner,
                                 cache=TraceCache(trace_cache or default_cache_dir()),
                                 budget=budget, method=method,
                                 seed=settings.seed if seed is None else seed, batch=batch,
                                 trainer=trainer)
            rows = search_rows(plan, outcome, db)
    finally:
        if owned:
            runner.close()
    return SweepResults(rows=tuple(rows), objectives=plan.sweep.objectives,
                        name=plan.sweep.name, store=str(store_path), axes=plan.sweep.axes,
                        search=outcome)


def evaluate_space(plan: SearchPlan, *, store: SweepStore, executor: Executor,
                   cache: TraceCache, trainer: Trainer = train_with_rctsim,
                   chunk: int = 256, on_progress: ProgressFn | None = None
                   ) -> list[dict[str, Any]]:
    """Brute force: every point of a finite space, evaluated (or found in the store) in
    chunks; returns one dict per point: `params`, `key`, `status`, `reason`."""
    points = plan.space.enumerate()
    evaluator = _Evaluator(plan, store, executor, cache, trainer)
    results: dict[int, dict[str, Any]] = {}
    progress = on_progress or (lambda _: None)

    def record(index: int, key: str | None, status: str, reason: str | None) -> None:
        results[index] = {"params": points[index], "key": key, "status": status,
                          "reason": reason}

    for start in range(0, len(points), chunk):
        evaluator.run([(i, points[i]) for i in range(start, min(start + chunk, len(points)))],
                      record)
        progress(SweepProgress("simulate", len(results), len(points)))
    return [results[i] for i in range(len(points))]
