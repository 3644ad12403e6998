"""Terminal output of a sweep: the progress bar (done, rate, ETA), the summary, the front table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from rctsim.display import shown
from rctsim.sweep.plan import SweepPlan
from rctsim.sweep.runner import SweepOutcome, SweepProgress
from rctsim.sweep.search_space import TRACE_AXIS

_STAGES = {"train": ("training traces", "traces"), "simulate": ("simulating", "points"),
           "search": ("searching", "evaluations")}


class RateColumn(ProgressColumn):
    """Items per second over the last half minute (`now`: the closing summary gives the mean
    over the whole stage)."""

    def render(self, task: Task) -> Text:
        """`12.3 points/s`."""
        unit = task.fields.get("unit", "")
        speed = task.speed
        return Text(f"{speed:,.1f} {unit}/s now" if speed else f"- {unit}/s", style="cyan")


class SweepBar:
    """A rich progress bar per stage, fed by `SweepProgress` reports."""

    def __init__(self, console: Console, *, quiet: bool = False):
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=console,
                                 disable=quiet)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> SweepBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, report: SweepProgress) -> None:
        """Show one report (a stage's first report sets its starting point)."""
        if report.stage not in self.tasks:
            description, unit = _STAGES[report.stage]
            self.tasks[report.stage] = self.progress.add_task(
                description, total=report.total, completed=report.done, unit=unit)
        else:
            self.progress.update(self.tasks[report.stage], completed=report.done)


def print_summary(console: Console, plan: SweepPlan, outcome: SweepOutcome, *,
                  store: str, front_size: int, ok: int) -> None:
    """The closing lines: counts, time, rate, traces, store, front size."""
    rate = outcome.computed / outcome.simulate_seconds if outcome.simulate_seconds else 0.0
    trained = sum(1 for p in plan.policies if p.train is not None)
    objectives = ", ".join(str(o) for o in plan.objectives)
    lines = [
        f"[bold]sweep {shown(plan.name)}[/bold]: {len(outcome.points)} points "
        f"({len(plan.hardware)} hardware x {len(plan.policies)} policy points)",
        f"  simulated now {outcome.computed}, already in the store {outcome.resumed}, "
        f"rejected by the model {outcome.errors}",
        f"  {outcome.seconds:.1f} s on {outcome.executor}, "
        + (f"{rate:,.1f} points/s over the simulation stage (worker start-up included)"
           if outcome.computed else "nothing left to simulate"),
        f"  traces: {len(plan.policies) - trained} given, {trained} trained "
        f"({outcome.trained} now, {trained - outcome.trained} from the cache)",
        f"  store: {shown(store, 400)}",
        f"  Pareto front over {shown(objectives, 400)}: {front_size} of {ok} points",
    ]
    models = sorted({point.trace.model for point in outcome.points if point.trace is not None})
    if len(models) > 1:
        names = shown(", ".join(models), 200)
        lines.append(f"  note: the traces are of {len(models)} models ({names}); the front "
                     "compares their costs as if the models were interchangeable")
    for line in lines:
        console.print(line, soft_wrap=True)


def _fmt(column: str, value: Any, *, plain: bool = False) -> str:
    """A cell of the front table: objectives and metrics with units; an axis value as given,
    except a float (a continuous axis) to 4 significant digits (the store and CSV keep it
    whole)."""
    if value is None:
        return "-"
    if isinstance(value, float) and plain:
        return f"{value:.4g}"
    if plain or not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if column.endswith("_pj"):
        return _si(value * 1e-12, "J")
    if column.endswith("_s"):
        return _si(value, "s")
    if column.endswith("_bytes"):
        return _binary(value)
    return f"{value:.4g}"


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""),
                          (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def _binary(value: float) -> str:
    for scale, prefix in ((2**40, "Ti"), (2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki")):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}B"
    return f"{value:.4g} B"


HEADERS = {"trace_name": "trace"}
"""Front-table headers that differ from the store column."""

UNIT_SUFFIXES = ("_pj", "_s", "_bytes")
"""Store-column suffixes that name a unit; the front table prints such a value with its unit
(`447 mJ`), so its header drops the suffix (`energy`, not `energy_pj`)."""


def _header(column: str, plan: SweepPlan) -> str:
    if column in HEADERS:
        return HEADERS[column]
    if column not in plan.axes:
        for suffix in UNIT_SUFFIXES:
            if column.endswith(suffix) and len(column) > len(suffix):
                return column.removesuffix(suffix)
    return column


def front_table(plan: SweepPlan, rows: Sequence[dict[str, Any]], *, limit: int) -> Table:
    """The front as a table: axes, trace, objectives; sorted by the first objective. The
    trace's label shows once, headed `trace` (a search's `trace` axis holds the same label)."""
    first = plan.objectives[0]
    ordered = sorted(rows, key=lambda r: r[first.column], reverse=first.maximise)
    columns = ["point", *(a for a in plan.axes if a not in ("policy", TRACE_AXIS)),
               "trace_name", "policy", *dict.fromkeys(o.column for o in plan.objectives)]
    table = Table(title=f"Pareto front ({len(rows)} point{'' if len(rows) == 1 else 's'})")
    for column in columns:
        table.add_column(shown(_header(column, plan)),
                         justify="left" if column in ("trace_name", "policy") else "right")
    for row in ordered[:limit]:
        table.add_row(*(shown(_fmt(c, row.get(c), plain=c in plan.axes or c == "point"))
                        for c in columns))
    if len(ordered) > limit:
        table.caption = f"{len(ordered) - limit} more rows: write them with --pareto-csv"
    return table
