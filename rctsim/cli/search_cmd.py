"""`rctsim sweep CONFIG --search METHOD --budget N`: the search half of `rctsim sweep`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from rctsim.cli.output import console as wide_console
from rctsim.display import shown
from rctsim.errors import InputError, RunFailure

if TYPE_CHECKING:
    from rctsim.sweep.config import SweepConfig


def run_search_cli(settings: SweepConfig, *, source: str, base_dir: Path, store_path: Path,
                   workers: int | None, dask: str | None, trace_cache: Path | None,
                   method: str, budget: int, batch: int, outputs: dict[str, Path | None],
                   show: int, quiet: bool) -> None:
    """Plan, search, store; print the summary and the front; write the files asked for."""
    from rctsim.cli.sweep_cmd import _remove_empty_store, _stored
    from rctsim.sweep import DaskExecutor, LocalExecutor, SweepStore, TraceCache, pareto_front
    from rctsim.sweep.cache import default_cache_dir
    from rctsim.sweep.console import SweepBar, front_table
    from rctsim.sweep.search_metrics import Normaliser
    from rctsim.sweep.search_run import METHODS, plan_search, run_search, search_rows
    from rctsim.sweep.table import table_columns, write_table

    if method not in METHODS:
        raise InputError("command line", "--search", f"unknown method {method!r}",
                         ", ".join(METHODS))
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise InputError("command line", "--search", "optuna is not installed",
                         "pip install 'rctsim[search]'") from None
    plan = plan_search(settings, source=source, base_dir=base_dir)
    executor = DaskExecutor(dask) if dask else LocalExecutor(workers)
    new_store = not store_path.exists()
    try:
        with SweepStore(store_path) as db, SweepBar(Console(stderr=True), quiet=quiet) as bar:
            outcome = run_search(plan, store=db,
                                 executor=executor,
                                 cache=TraceCache(trace_cache or default_cache_dir()),
                                 budget=budget, method=method, seed=settings.seed, batch=batch,
                                 on_progress=bar)
            rows = search_rows(plan, outcome, db)
    except InputError:
        if new_store:
            _remove_empty_store(store_path)
        raise
    except RunFailure as err:
        kept = _stored(store_path)
        raise RunFailure(err.what, err.problem, f"the store {store_path} keeps the {kept} "
                         "finished point(s); rerun the same command to resume") from None
    finally:
        executor.close()
    objectives = plan.sweep.objectives
    ok = [r for r in rows if r["status"] == "ok"]
    front = pareto_front(ok, objectives)
    columns = [*table_columns(plan.sweep), "search_method", "search_seed"]
    for key, chosen, front_only in (("csv", rows, False), ("json", rows, False),
                                    ("pareto_csv", front, True), ("pareto_json", front, True)):
        if outputs[key] is not None:
            write_table(str(outputs[key]), chosen, columns, plan=plan.sweep, front=front_only,
                        fmt="json" if key.endswith("json") else "csv")
    if outputs["html"] is not None:
        from rctsim.report.sweep_report import write_store_report

        write_store_report(store_path, outputs["html"],
                           objectives=[str(o) for o in objectives])
    piped = any(str(p) == "-" for p in outputs.values() if p is not None)
    out = wide_console(stderr=piped)
    infeasible = sum(1 for r in rows if r["status"] == "infeasible")
    errors = sum(1 for r in rows if r["status"] == "error")
    hv = Normaliser(ok, objectives).hypervolume(ok) if ok else 0.0
    size = (f", a space of {plan.space.size:,} points" if plan.space.size is not None
            else ", a continuous space")
    lines = [
        f"[bold]search {shown(plan.sweep.name)}[/bold]: {method}, seed {settings.seed}, "
        f"batch {batch}: {len(outcome.evaluations)} of {budget} evaluations{size} "
        f"({outcome.trials} trials)",
        f"  simulated now {outcome.simulated}, already in the store "
        f"{len(outcome.evaluations) - outcome.simulated - infeasible}, impossible "
        f"{infeasible}, rejected by the model {errors}",
        f"  {outcome.seconds:.1f} s on {outcome.executor}; traces trained now "
        f"{outcome.trained}",
        f"  store: {shown(str(store_path), 400)} (search {outcome.search[:12]})",
        f"  Pareto front over {shown(', '.join(map(str, objectives)), 400)}: {len(front)} of "
        f"{len(ok)} points; hypervolume {hv:.4f} (normalised by this front's ideal and "
        "nadir, reference 1.1)",
    ]
    for line in lines:
        out.print(line, soft_wrap=True)
    if show and front:
        out.print(front_table(plan.sweep, front, limit=show))
