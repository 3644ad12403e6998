"""Sweeps from Python: run one, or load a saved store, and look at its points.

    import rctsim.sweep
    points = rctsim.sweep.run("studies/sweep_example.yaml")   # store: ./edge_npu_sram_x_policy.db
    points = rctsim.sweep.load("edge_npu_sram_x_policy.db")   # later, from the store alone
    points.to_dataframe()                                      # pandas, one row per point
    points.front()                                             # the Pareto-front rows
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from rctsim.errors import InputError
from rctsim.sweep.config import SweepConfig, sweep_settings
from rctsim.sweep.pareto import Objective, pareto_front, parse_objective

DEFAULT_OBJECTIVES = ("energy", "latency")
"""Objectives of a loaded store when none are given (a store does not record them)."""
SHOWN = ("point", "trace_name", "policy", "sram_bytes", "dataflow", "energy_pj", "latency_s",
         "param_memory_bytes", "accuracy")
"""Columns of the HTML view of a sweep (those present)."""


@dataclass(frozen=True)
class SweepResults:
    """The points of a sweep: every stored row, and the objectives of its Pareto front."""

    rows: tuple[dict[str, Any], ...]
    """One dict per point (the store's columns; `params` holds the axis values)."""
    objectives: tuple[Objective, ...]
    """The objectives the front is taken over."""
    name: str
    """The sweep's name (or the store's file name)."""
    store: str
    """The store file the rows are in."""
    axes: tuple[str, ...] = field(default=())
    """Names of the axes that varied."""
    search: Any = None
    """The `SearchOutcome` of `rctsim.sweep.search` (None for a grid sweep or a loaded store)."""

    def __len__(self) -> int:
        return len(self.rows)

    def ok(self) -> list[dict[str, Any]]:
        """The rows that simulated without error."""
        return [r for r in self.rows if r.get("status") == "ok"]

    def front(self) -> list[dict[str, Any]]:
        """The rows on the Pareto front of the objectives."""
        return pareto_front(self.ok(), self.objectives)

    def to_dataframe(self):
        """Every point as a pandas DataFrame, axis values (`params`) as their own columns and
        an `on_front` column. Needs pandas: `pip install 'rctsim[pandas]'`."""
        from rctsim.result import require_pandas

        pd = require_pandas("SweepResults.to_dataframe()")
        front = {r["key"] for r in self.front()}
        flat = []
        for row in self.rows:
            params = row.get("params") or {}
            item = {k: v for k, v in params.items() if k not in row}
            item.update((k, v) for k, v in row.items() if k != "params")
            item["on_front"] = row["key"] in front
            flat.append(item)
        return pd.DataFrame(flat)

    def report(self, path: str | Path) -> None:
        """Write the interactive HTML sweep report (as `rctsim sweep --html`)."""
        from rctsim.report.sweep_report import read_searches, write_sweep_report

        searches = [] if self.search is None else [
            s for s in read_searches(self.store) if s["search"] == self.search.search]
        write_sweep_report(list(self.rows), path, objectives=self.objectives, name=self.name,
                           source=self.store, axes=self.axes, searches=searches)

    def __repr__(self) -> str:
        return (f"SweepResults({self.name}: {len(self.rows)} points, {len(self.ok())} ok, "
                f"{len(self.front())} on the front of {', '.join(map(str, self.objectives))})")

    def _repr_html_(self) -> str:
        front = self.front()
        columns = [c for c in SHOWN if any(c in r for r in front)]
        head = "".join(f"<th>{escape(c)}</th>" for c in columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(_cell(r.get(c)))}</td>" for c in columns)
                       + "</tr>" for r in front[:20])
        more = f"<p>and {len(front) - 20} more on the front</p>" if len(front) > 20 else ""
        return (f"<p><b>{escape(repr(self))}</b></p><p>Pareto front:</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _objectives(objectives: Sequence[str | Objective]) -> tuple[Objective, ...]:
    return tuple(o if isinstance(o, Objective) else parse_objective("objectives", "objectives", o)
                 for o in objectives)


def load(store: str | Path, objectives: Sequence[str | Objective] = DEFAULT_OBJECTIVES
         ) -> SweepResults:
    """Every point of a saved sweep store (`rctsim sweep` or `rctsim.sweep.run` wrote it)."""
    from rctsim.report.sweep_report import read_store_rows

    if not Path(store).is_file():
        raise InputError(str(store), "store", "no such file", "a sweep store (.db) file")
    rows = read_store_rows(store)
    return SweepResults(rows=tuple(rows), objectives=_objectives(objectives),
                        name=Path(store).stem, store=str(store))


def default_store(name: str) -> Path:
    """Where a sweep's store goes unless told: `NAME.db` in the current directory (never
    beside the config, which may lie in the source tree or the installed package)."""
    return Path.cwd() / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('.') or 'sweep'}.db"


def run(config: str | Path | dict[str, Any] | SweepConfig, *, store: str | Path | None = None,
        workers: int | None = None, dask: str | None = None,
        trace_cache: str | Path | None = None) -> SweepResults:
    """Run (or resume) a sweep from a YAML file, a dict of the same keys, or a SweepConfig;
    return its points. The store defaults to `default_store(config name)`."""
    from rctsim.sweep.cache import TraceCache, default_cache_dir
    from rctsim.sweep.executors import DaskExecutor, LocalExecutor
    from rctsim.sweep.plan import plan_sweep
    from rctsim.sweep.runner import run_sweep
    from rctsim.sweep.store import SweepStore
    from rctsim.sweep.table import sweep_table

    settings, source, base_dir = sweep_settings(config)
    plan = plan_sweep(settings, source=source, base_dir=base_dir)
    store_path = Path(store) if store is not None else default_store(plan.name)
    executor = DaskExecutor(dask) if dask else LocalExecutor(workers)
    try:
        with SweepStore(store_path) as db:
            outcome = run_sweep(plan, store=db, executor=executor,
                                cache=TraceCache(trace_cache or default_cache_dir()))
            rows = sweep_table(plan, outcome.points, db)
    finally:
        executor.close()
    return SweepResults(rows=tuple(rows), objectives=tuple(plan.objectives), name=plan.name,
                        store=str(store_path), axes=tuple(plan.axes))
