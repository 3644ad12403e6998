"""`rctsim sensitivity`: every headline saving as each modelling assumption is varied alone."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rctsim.cli.app import app, check_outputs
from rctsim.cli.output import console, is_stdout, write_output
from rctsim.errors import InputError
from rctsim.replay import SimOptions
from rctsim.sensitivity_run import execute, parse_assumption_args, plan, to_csv, to_json
from rctsim.summary import SAVING_NAMES
from rctsim.units import percent


@app.command("sensitivity")
def sensitivity_cmd(
    hw: Annotated[str, typer.Option("--hw", help="Hardware preset name or YAML file.")]
    = "edge_npu",
    trace: Annotated[str, typer.Option("--trace", help="Bundled trace name or .trace file.")]
    = "resnet",
    baseline: Annotated[str, typer.Option(
        "--baseline", help="One named baseline (qat, qat-fp16, ..., name:key=value).")] = "qat",
    assumption: Annotated[list[str] | None, typer.Option(
        "--assumption", help="Vary only this assumption (repeatable): NAME, or "
        "NAME=S1,S2,... for chosen settings; default every assumption over its documented "
        "range (docs/model.md, Assumptions).")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write the sensitivity JSON here; -: standard output.")] = None,
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", help="Write the rows (assumption, setting, metric, value) as CSV here.")]
    = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Write a self-contained HTML page with a tornado chart per metric.")]
    = None,
    workspace_fraction: Annotated[float, typer.Option(
        help="The default workspace fraction the assumptions vary from.")] = 0.25,
) -> None:
    """Vary each modelling assumption over its range; report every saving at each setting."""
    outputs = [(json_out, "--json"), (csv_out, "--csv"), (html_out, "--html")]
    check_outputs(outputs, inputs=(trace, hw))
    if not 0 < workspace_fraction < 1:
        raise InputError("command line", "--workspace-fraction", f"{workspace_fraction}",
                         "a number strictly between 0 and 1")
    chosen = parse_assumption_args(assumption) if assumption else None
    start = time.perf_counter()
    checked = plan(hw, trace, baseline, chosen,  # every input refused before progress shows
                   options=SimOptions(workspace_fraction=workspace_fraction))
    err = console(stderr=True)
    bar = Progress(TextColumn("sensitivity"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("settings {task.description}"), TimeRemainingColumn(),
                   console=err, transient=True, disable=not err.is_terminal)
    task = bar.add_task("", total=None)

    def progress(label: str, done: int, total: int) -> None:
        bar.update(task, completed=done, total=total, description=label)
        if not err.is_terminal and done and (done == total or done % 10 == 0):
            print(f"sensitivity: {done}/{total} settings ({label})", file=sys.stderr)

    with bar:
        sens = execute(checked, progress)
    if json_out:
        write_output(json_out, to_json(sens))
    if csv_out:
        write_output(csv_out, to_csv(sens))
    if html_out:
        from rctsim.report.tornado import sensitivity_html
        write_output(html_out, sensitivity_html(sens))
    piped = any(is_stdout(p) for p, _ in outputs)
    out = console(stderr=piped)
    out.print(range_table(sens))
    out.print(f"{counted(len(sens['assumptions']), 'assumption')}, "
              f"{counted(setting_count(sens), 'setting')}, "
              f"{counted(sens['policy_runs'], 'policy run')} in "
              f"{time.perf_counter() - start:.1f} s")


def counted(n: int, noun: str) -> str:
    """`1 assumption`, `3 assumptions`."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def setting_count(sens: dict) -> int:
    """Distinct (assumption, setting) pairs of the rows: the count progress reaches."""
    return len({(r["assumption"], r["setting"]) for r in sens["rows"]})


ALIASES = {"gemm_energy": "gemm_arith_energy"}
"""Metrics that repeat another under an older name (the run JSON keeps `gemm_energy` as the
compatibility alias of `gemm_arith_energy`): the table shows the metric once."""


def range_table(sens: dict) -> Table:
    """Per metric (an alias shown once): the default saving and the lowest and highest over all
    settings, or `unchanged` where every setting gives the default's value."""
    table = Table(title=f"Savings of {sens['policy']} against {sens['baseline']} "
                        f"({sens['trace']} on {sens['hw']}) as each assumption varies")
    for col in ("saving", "default", "lowest (assumption = setting)",
                "highest (assumption = setting)"):
        table.add_column(col, justify="left" if col == "saving" else "right")
    for metric in sens["metrics"]:
        if ALIASES.get(metric) in sens["metrics"]:
            continue
        rows = [r for r in sens["rows"] if r["metric"] == metric and r["value"] is not None]
        if not rows:
            table.add_row(SAVING_NAMES.get(metric, metric), percent(sens["default"][metric]),
                          "n/a", "n/a")
            continue
        low = min(rows, key=lambda r: r["value"])
        high = max(rows, key=lambda r: r["value"])
        if low["value"] == high["value"] == sens["default"][metric]:  # no setting moves it
            table.add_row(SAVING_NAMES.get(metric, metric), percent(sens["default"][metric]),
                          "unchanged", "unchanged")
            continue
        table.add_row(SAVING_NAMES.get(metric, metric), percent(sens["default"][metric]),
                      f"{percent(low['value'])} ({low['assumption']} = {low['setting']})",
                      f"{percent(high['value'])} ({high['assumption']} = {high['setting']})")
    return table
