"""Store rows of points and the sweep table: one row per point, exported as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from rctsim import __version__
from rctsim.atomic import write_atomic
from rctsim.sweep.hardware import hardware_columns
from rctsim.sweep.pareto import Objective
from rctsim.sweep.plan import Point, SweepPlan
from rctsim.sweep.store import COLUMN_NAMES, TIMING_COLUMNS, SweepStore
from rctsim.sweep.work import PointOutcome

SWEEP_JSON_VERSION = 1
"""Version of the sweep JSON export (docs/sweeps.md)."""


def store_row(plan: SweepPlan, point: Point, outcome: PointOutcome, *,
              hardware: dict[str, Any] | None = None) -> dict[str, Any]:
    """The complete store row of a finished point. `hardware`: its hardware's columns
    (`hardware_columns`), where the caller keeps them for the points of one hardware."""
    trace = point.trace
    row: dict[str, Any] = {
        "key": point.key, "status": outcome.status, "error": outcome.error,
        "params": point.hardware.params | point.policy.params,
        "trace_name": point.policy.label, "trace_sha256": trace.sha256, "model": trace.model,
        "policy": trace.policy, "iterations": trace.iterations,
        "policy_params": trace.policy_params, "train_settings": point.policy.train,
        "hw_sha256": point.hardware.digest, "baseline": plan.baseline,
        "options": plan.options.model_dump(mode="json"), "rctsim_version": __version__,
        "elapsed_s": outcome.elapsed_s,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    row.update(hardware if hardware is not None
               else hardware_columns(point.hardware.spec, plan.area))
    if outcome.status == "ok":
        row.update(outcome.metrics)
        row.update(trace.facts)
    return row


def table_columns(plan: SweepPlan) -> list[str]:
    """Table columns: the axes (unless a store column of that name holds their effective value,
    like `dataflow`), then every store column except the params JSON."""
    return ["point", *(a for a in plan.axes if a not in COLUMN_NAMES),
            *(c for c in COLUMN_NAMES if c != "params")]


def sweep_table(plan: SweepPlan, points: Sequence[Point], store: SweepStore
                ) -> list[dict[str, Any]]:
    """The rows of `points` found in the store, in plan order, axes as their own columns.

    Axis values and the trace label are this plan's (a stored row may have been reached
    through other axes or another name of the same trace by an earlier sweep)."""
    found = store.rows(p.key for p in points)
    table = []
    for point in points:
        row = found.get(point.key)
        if row is None:
            continue
        params = point.hardware.params | point.policy.params
        flat = {"point": point.index,
                **{a: params.get(a) for a in plan.axes if a not in COLUMN_NAMES}}
        flat.update((k, v) for k, v in row.items() if k != "params")
        flat["trace_name"] = point.policy.label
        table.append(flat)
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str],
           cell: Callable[[Any], str] | None = None) -> str:
    """CSV text of the rows, each value written by `cell` (default: floats exactly, JSON cells
    for mappings)."""
    cell = cell or _cell
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return buf.getvalue()


def to_json(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, plan: SweepPlan,
            front: bool) -> str:
    """JSON text: the sweep's description and its rows."""
    doc = {"sweep_json_version": SWEEP_JSON_VERSION, "producer": f"rctsim {__version__}",
           "name": plan.name, "objectives": [_objective(o) for o in plan.objectives],
           "pareto_front": front, "columns": list(columns),
           "rows": [{c: row.get(c) for c in columns} for row in rows]}
    return json.dumps(doc, indent=2, allow_nan=False)


def _objective(o: Objective) -> dict[str, Any]:
    return {"name": o.name, "column": o.column, "sense": "max" if o.maximise else "min"}


def write_table(path: str, rows: Sequence[dict[str, Any]], columns: Sequence[str], *,
                plan: SweepPlan, front: bool = False, fmt: str | None = None) -> None:
    """Write rows as CSV or JSON (`fmt`, else chosen by the file name's ending) atomically, or
    to standard output for `-`."""
    fmt = fmt or ("json" if str(path).endswith(".json") else "csv")
    text = to_json(rows, columns, plan=plan, front=front) if fmt == "json" else to_csv(rows,
                                                                                      columns)
    write_atomic(path, text)


def comparable(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without the timing columns (what two runs of a sweep must agree on)."""
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS} for row in rows]
