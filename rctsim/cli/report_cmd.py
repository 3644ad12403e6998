"""`rctsim report`: an interactive HTML report of a saved run JSON or sweep store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rctsim.cli.app import app, check_outputs
from rctsim.errors import InputError

SQLITE_MAGIC = b"SQLite format 3\x00"
"""First 16 bytes of an SQLite file (a sweep store)."""


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError as err:
        raise InputError(str(path), "RESULT", f"cannot be read: {err.strerror or err}",
                         "a run JSON (rctsim run --json) or a sweep store (.db)") from None


@app.command()
def report(
    result: Annotated[Path, typer.Argument(
        help="A run JSON (rctsim run --json) or a sweep store (rctsim sweep --store).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="HTML file to write.")],
    trace: Annotated[str | None, typer.Option(
        "--trace", help="Run: the trace the run was made from, when its recorded name does "
        "not resolve (bit heatmap, accuracy curve).")] = None,
    baseline_trace: Annotated[str | None, typer.Option(
        "--baseline-trace", help="Run: the baseline's trace, when the baseline was a real "
        "trace (its accuracy curve).")] = None,
    hw: Annotated[str | None, typer.Option(
        "--hw", help="Run: the hardware file, when its name is not a bundled preset.")] = None,
    objective: Annotated[list[str] | None, typer.Option(
        help="Sweep: Pareto objective NAME[:min|max] (repeatable); default energy and "
        "latency.")] = None,
    sensitivity: Annotated[Path | None, typer.Option(
        "--sensitivity", help="Run: a sensitivity JSON (rctsim sensitivity --json) whose "
        "tornado charts are appended to the report.")] = None,
) -> None:
    """Write a self-contained interactive HTML report of a saved run or sweep."""
    check_outputs([(out, "--out")], inputs=(result, trace, baseline_trace, hw, sensitivity))
    if sensitivity is not None:
        from rctsim.report.tornado import write_run_report_with_tornado

        write_run_report_with_tornado(result, out, sensitivity, trace=trace,
                                      baseline_trace=baseline_trace, hw=hw)
        typer.echo(f"wrote {out}")
        return
    if not result.is_file():
        raise InputError(str(result), "RESULT", "no such file",
                         "a run JSON (rctsim run --json) or a sweep store (.db)")
    if _is_sqlite(result):
        from rctsim.report.sweep_report import write_store_report

        write_store_report(result, out, objectives=objective or None)
    else:
        from rctsim.report import read_run_json, write_run_report

        run = read_run_json(result)
        try:
            write_run_report(run, out, trace=trace, baseline_trace=baseline_trace,
                             hardware=hw, search_dir=result.parent)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            # read_run_json checks the keys; a value of the wrong type surfaces here
            raise InputError(str(result), "(values)", f"malformed run JSON: {err!r}",
                             "a run JSON written by rctsim run --json") from None
    typer.echo(f"wrote {out}")
