"""The sweep report: the Pareto front, every point in parallel coordinates, energy vs SRAM.

Built from sweep rows: those of a running sweep (`rctsim.sweep.sweep_table`), or every row of a
saved store (`read_store_rows`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from rctsim.atomic import write_atomic
from rctsim.errors import InputError
from rctsim.report.page import FigureBlock, code, render_page
from rctsim.report.sweep_figures import (
    energy_sram_figure,
    hypervolume_figure,
    importance_figure,
    parallel_figure,
    pareto_figure,
)
from rctsim.sweep.pareto import Objective, pareto_front, parse_objective
from rctsim.sweep.store import SweepStore

SWEEP_FIGURES = ("fig-pareto", "fig-parallel", "fig-energy-sram")
"""Element ids of the figures of a sweep report, in page order."""
SEARCH_FIGURES = ("fig-hypervolume", "fig-importance")
"""Element ids of the figures a report of a store with searches adds after those."""
DEFAULT_OBJECTIVES = ("energy", "latency")
"""Objectives of a store's report when none are given (a store does not record them)."""
LISTED = 12
"""Distinct traces or hardware listed in the inputs before `and N more`."""


def read_store_rows(path: str | Path) -> list[dict[str, Any]]:
    """Every row of a sweep store, in the order they were stored (JSON columns decoded)."""
    try:
        with sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True) as conn:
            keys = [k for (k,) in conn.execute("SELECT key FROM points ORDER BY rowid")]
    except sqlite3.DatabaseError as err:
        raise InputError(str(path), "points", f"not a sweep store: {err}",
                         "an SQLite file written by rctsim sweep") from None
    with SweepStore(path) as store:
        found = store.rows(keys)
    return [found[k] for k in keys]


def _distinct(rows: Sequence[dict[str, Any]], name: str, digest: str) -> str:
    pairs = list(dict.fromkeys((str(r.get(name)), str(r.get(digest))) for r in rows))
    shown = [f"{escape(n)} {code(d[:16])}" for n, d in pairs[:LISTED]]
    more = f"; and {len(pairs) - LISTED} more" if len(pairs) > LISTED else ""
    return "; ".join(shown) + more


def _input_rows(rows: Sequence[dict[str, Any]], *, name: str, source: str,
                objectives: Sequence[Objective], ok: int, front: int) -> list[tuple[str, str]]:
    return [
        ("Sweep", escape(f"{name} — {source}")),
        ("Points", escape(f"{len(rows)} stored, {ok} ok, {len(rows) - ok} error; "
                          f"{front} on the front")),
        ("Objectives", escape(", ".join(str(o) for o in objectives))),
        ("Hardware (sha256)", _distinct(rows, "hw_name", "hw_sha256")),
        ("Traces (sha256)", _distinct(rows, "trace_name", "trace_sha256")),
        ("Baseline", escape(", ".join(sorted({str(r.get("baseline") or "none")
                                               for r in rows})))),
        ("Points made by", escape(", ".join(f"rctsim {v}" for v in
                                            sorted({str(r.get("rctsim_version"))
                                                    for r in rows})))),
    ]


def search_blocks(rows: Sequence[dict[str, Any]], searches: Sequence[dict[str, Any]],
                  objectives: Sequence[Objective]) -> list[FigureBlock]:
    """The hypervolume and axis-importance figures of a store's searches (`searches`: each
    with `label`, `axes` and its `evals` in order, from `read_searches`)."""
    from rctsim.sweep.search_metrics import Normaliser, hypervolume_curve, importance

    ok = [r for r in rows if r.get("status") == "ok"]
    by_key = {r["key"]: r for r in rows}
    norm = Normaliser(ok, objectives)
    curves = {s["label"]: hypervolume_curve([by_key.get(e["key"], {}) for e in s["evals"]],
                                            norm) for s in searches}
    axes = list(dict.fromkeys(a for s in searches for a in s["axes"]))
    with_trace = [r | {"params": (r.get("params") or {}) | {"trace": r.get("trace_name")}}
                  for r in ok]
    shares = {o.column: importance(with_trace, axes, o.column) for o in objectives}
    return [
        FigureBlock("fig-hypervolume", hypervolume_figure(curves),
                    "Hypervolume of the Pareto front found after N evaluations, per search "
                    "(method, seed). Objectives are normalised by the ideal (0) and nadir (1) "
                    "of the front of every ok point in the store (maximised ones negated) and "
                    "the reference point is 1.1 in each, so the curves of all searches in the "
                    "store compare; 1.1^k (k objectives) is a front that reaches the ideal."),
        FigureBlock("fig-importance", importance_figure(shares),
                    "For each objective, the share of its variance over the store's ok points "
                    "that each axis explains alone (eta²: between-group / total variance, "
                    "grouping points by the axis value; continuous axes in 8 equal-count bins; "
                    "objectives as log10 when positive). A large bar: that axis moves the "
                    "objective most; interactions are not split out."),
    ]


def read_searches(path: str | Path) -> list[dict[str, Any]]:
    """The searches recorded in a store, each with a `label` and its `evals` in order."""
    with SweepStore(path) as store:
        searches = store.searches()
        for s in searches:
            s["label"] = f"{s['method']} seed {s['seed']}"
            s["evals"] = store.evals(s["search"])
    return [s for s in searches if s["evals"]]


def sweep_report_html(rows: Sequence[dict[str, Any]], *, objectives: Sequence[Objective],
                      name: str, source: str, axes: Sequence[str] = (),
                      searches: Sequence[dict[str, Any]] = ()) -> str:
    """The sweep report page of sweep rows (error rows are counted, not plotted)."""
    ok = [r for r in rows if r.get("status") == "ok"]
    front = pareto_front(ok, objectives)
    notes = []
    if len(ok) < len(rows):
        notes.append(f"{len(rows) - len(ok)} points failed (status error) and are left out of "
                     "the figures.")
    if len(objectives) > 2:
        notes.append("More than two objectives: the front plot shows the first two; a front "
                     "point may look dominated there, and is not in all objectives.")
    blocks = [
        FigureBlock("fig-pareto", pareto_figure(ok, front, objectives, axes),
                    "Every ok point, coloured by its policy; outlined points are on the Pareto "
                    "front of all objectives, faint ones off it. Hover a point for its "
                    "parameters."),
        FigureBlock("fig-parallel", parallel_figure(ok, front, objectives, axes),
                    "Each line is a point, coloured by its policy (key below the plot): its "
                    "varying parameters, objectives and metrics. Categorical axes are numbered "
                    "(tick labels name them)."),
        FigureBlock("fig-energy-sram", energy_sram_figure(ok),
                    "Total energy of the run against the global buffer size, per trace in its "
                    "policy's colour; other axes vary within a size, the line follows the "
                    "best."),
    ]
    if searches and ok:
        blocks += search_blocks(rows, searches, objectives)
    inputs = _input_rows(rows, name=name, source=source, objectives=objectives, ok=len(ok),
                         front=len(front))
    if searches:
        inputs.append(("Searches", escape("; ".join(
            f"{s['label']}: {len(s['evals'])} evaluations" for s in searches))))
    return render_page(title=f"rctsim sweep report: {name}", kind="sweep", inputs=inputs,
                       summary_html="", figures=blocks, notes=notes)


def write_sweep_report(rows: Sequence[dict[str, Any]], path: str | Path, *,
                       objectives: Sequence[Objective], name: str, source: str,
                       axes: Sequence[str] = (),
                       searches: Sequence[dict[str, Any]] = ()) -> None:
    """Write the sweep report of `rows` to `path` atomically (`rctsim sweep --html`)."""
    write_atomic(path, sweep_report_html(rows, objectives=objectives, name=name, source=source,
                                         axes=axes, searches=searches))


def write_store_report(store: str | Path, path: str | Path, *,
                       objectives: Sequence[str] | None = None) -> None:
    """Write the report of every point of a saved store (`rctsim report STORE -o FILE`)."""
    rows = read_store_rows(store)
    if not rows:
        raise InputError(str(store), "points", "the store holds no point",
                         "a store a sweep has written to")
    searches = read_searches(store)
    if objectives is None and searches:  # a search records its objectives
        objectives = searches[-1]["objectives"]
    parsed = [parse_objective("command line", "--objective", text)
              for text in (objectives or DEFAULT_OBJECTIVES)]
    write_sweep_report(rows, path, objectives=parsed, name=Path(store).stem, source=str(store),
                       searches=searches)
