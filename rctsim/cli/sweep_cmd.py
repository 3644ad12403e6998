"""`rctsim sweep`: a Pareto sweep over hardware and bitwidth policies (docs/sweeps.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from rctsim.cli.app import app, check_outputs
from rctsim.cli.output import console as wide_console
from rctsim.errors import InputError, RunFailure

if TYPE_CHECKING:
    from rctsim.sweep.config import SweepConfig

RANGE_HELP = "; or a YAML range such as '{start: 32, stop: 512, factor: 2}'"


def _list_help(what: str) -> str:
    return f"{what}, comma-separated{RANGE_HELP}."





@app.command()
def sweep(
    config: Annotated[Path | None, typer.Argument(help="Sweep YAML file (docs/sweeps.md).")]
    = None,
    store: Annotated[Path | None, typer.Option(
        help="SQLite results store; a rerun skips finished points. Default: NAME.db in the "
        "current directory (NAME: the sweep's name).")] = None,
    hw: Annotated[str | None, typer.Option("--hw", help="Base hardware preset or YAML.")]
    = None,
    sram_kb: Annotated[str | None, typer.Option(help=_list_help("Global buffer KB"))] = None,
    array: Annotated[str | None, typer.Option(help="Array shapes, e.g. 8x8,16x16.")] = None,
    dataflow: Annotated[str | None, typer.Option(help="Dataflows, e.g. ws,os,is.")] = None,
    dram_gb_per_s: Annotated[str | None, typer.Option(
        help=_list_help("DRAM bandwidths in GB/s"))] = None,
    precision_mode: Annotated[str | None, typer.Option(
        help="MAC precision modes: energy_only,bit_serial,bit_fusion.")] = None,
    energy_table: Annotated[str | None, typer.Option(
        help="Energy tables (bundled names or files).")] = None,
    policy: Annotated[str | None, typer.Option(
        help="Policies to train: fp32,qat,rct,apt (needs --model).")] = None,
    trace: Annotated[list[str] | None, typer.Option(
        help="Trace file or bundled name used as it is (repeatable).")] = None,
    model: Annotated[str | None, typer.Option(help="Trainer model for trained points.")]
    = None,
    axis: Annotated[list[str] | None, typer.Option(
        help="Any axis as NAME=VALUES (repeatable), e.g. t_low=0.01,0.02 "
        "(see --list-axes).")] = None,
    sample: Annotated[int | None, typer.Option(
        min=1, help="Random sample of this many hardware points instead of the grid.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of random samples and searches.")]
    = None,
    search: Annotated[str | None, typer.Option(
        help="Search instead of the grid: nsga2, tpe or random (needs --budget; "
        "pip install 'rctsim[search]').")] = None,
    budget: Annotated[int | None, typer.Option(
        min=1, help="Distinct points a --search evaluates.")] = None,
    batch: Annotated[int, typer.Option(
        min=1, help="Points a --search asks for at a time.")] = 16,
    objective: Annotated[list[str] | None, typer.Option(
        help="Pareto objective NAME[:min|max] (repeatable): energy, latency, param_memory, "
        "peak_memory, accuracy, sram, area, or a metric column.")] = None,
    baseline: Annotated[str | None, typer.Option(
        help="none, or one baseline: qat, qat-fp16, qat-bf16, qat-int8g, fp32, mixed-fp16, "
        "mixed-bf16, or a variant name:key=value (e.g. qat:w_q=4).")] = None,
    workers: Annotated[int | None, typer.Option(help="Local processes (default: every core).")]
    = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler tcp://HOST:PORT.")] = None,
    trace_cache: Annotated[Path | None, typer.Option(help="Folder of trained traces.")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="All points as CSV.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="All points as JSON.")] = None,
    pareto_csv: Annotated[Path | None, typer.Option(help="The front as CSV.")] = None,
    pareto_json: Annotated[Path | None, typer.Option(help="The front as JSON.")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Interactive HTML report.")]
    = None,
    show: Annotated[int, typer.Option(min=0, help="Front rows printed.")] = 20,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    list_axes: Annotated[bool, typer.Option("--list-axes", help="List axes, exit.")] = False,
) -> None:
    """Sweep hardware x bitwidth policy; store every point; print the Pareto front."""
    from rctsim.sweep import flags

    if list_axes:
        typer.echo(axes_listing())
        return
    if store is not None and str(store) == "-":
        raise InputError("command line", "--store", "a store cannot be standard output",
                         "an SQLite file path")
    check_outputs([(csv, "--csv"), (json_out, "--json"), (pareto_csv, "--pareto-csv"),
                   (pareto_json, "--pareto-json"), (store, "--store"), (html, "--html")],
                  inputs=(config, *(trace or [])))
    named = {"sram_kb": sram_kb, "array": array, "dataflow": dataflow,
             "dram_gb_per_s": dram_gb_per_s, "precision_mode": precision_mode,
             "energy_table": energy_table, "policy": policy}
    axes = {name: flags.parse_values(flags.FLAG_AXES[name], text)
            for name, text in named.items() if text is not None}
    axes.update(flags.split_axis(text) for text in axis or [])
    from rctsim.sweep.config import baseline_label, parse_sweep_config, read_sweep_file

    if baseline is not None:  # a bad flag is the command line's error, not the file's
        baseline = baseline_label(baseline)
    source = str(config) if config is not None else "command line"
    data = flags.overlay(source, read_sweep_file(config) if config is not None else {},
                         axes=axes, traces=trace, hw=hw, model=model, sample=sample, seed=seed,
                         objectives=objective, baseline=baseline)
    settings = parse_sweep_config(source, data)
    from rctsim.sweep.results import default_store

    store_path = store or default_store(settings.name)
    if (search is None) != (budget is None):
        raise InputError("command line", "--search" if search is None else "--budget",
                         "--search and --budget go together", "both, or neither (a grid)")
    if search is not None:
        from rctsim.cli.search_cmd import run_search_cli

        run_search_cli(settings, source=source, base_dir=config.parent if config else Path("."),
                       store_path=store_path, workers=workers, dask=dask,
                       trace_cache=trace_cache, method=search, budget=budget or 0, batch=batch,
                       outputs={"csv": csv, "json": json_out, "pareto_csv": pareto_csv,
                                "pareto_json": pareto_json, "html": html}, show=show,
                       quiet=quiet)
        return
    _run(settings, source=source, base_dir=config.parent if config else Path("."),
         store_path=store_path, workers=workers, dask=dask, trace_cache=trace_cache,
         outputs={"csv": csv, "json": json_out, "pareto_csv": pareto_csv,
                  "pareto_json": pareto_json, "html": html}, show=show, quiet=quiet)


def _run(settings: SweepConfig, *, source: str, base_dir: Path, store_path: Path,
         workers: int | None, dask: str | None, trace_cache: Path | None,
         outputs: dict[str, Path | None], show: int, quiet: bool) -> None:
    from rctsim.sweep import (
        DaskExecutor,
        LocalExecutor,
        SweepStore,
        TraceCache,
        default_cache_dir,
        pareto_front,
        plan_sweep,
        run_sweep,
        sweep_table,
        table_columns,
        write_table,
    )
    from rctsim.sweep.console import SweepBar, front_table, print_summary

    plan = plan_sweep(settings, source=source, base_dir=base_dir)
    console = Console(stderr=True)
    executor = DaskExecutor(dask) if dask else LocalExecutor(workers)
    new_store = not store_path.exists()
    try:
        with SweepStore(store_path) as db, SweepBar(console, quiet=quiet) as bar:
            outcome = run_sweep(plan, store=db, executor=executor,
                                cache=TraceCache(trace_cache or default_cache_dir()),
                                on_progress=bar)
            rows = sweep_table(plan, outcome.points, db)
    except InputError:
        if new_store:  # bad input found before any point finished: leave no empty store
            _remove_empty_store(store_path)
        raise
    except RunFailure as err:
        kept = 0 if new_store and _remove_empty_store(store_path) else _stored(store_path)
        where = (f"the store {store_path} keeps the {kept} finished point(s); rerun the same "
                 "command to resume" if kept else "no point finished; no store was left")
        raise RunFailure(err.what, err.problem, where) from None
    finally:
        executor.close()
    ok = [r for r in rows if r["status"] == "ok"]
    front = pareto_front(ok, plan.objectives)
    columns = table_columns(plan)
    for key, chosen, front_only in (("csv", rows, False), ("json", rows, False),
                                    ("pareto_csv", front, True), ("pareto_json", front, True)):
        if outputs[key] is not None:
            write_table(str(outputs[key]), chosen, columns, plan=plan, front=front_only,
                        fmt="json" if key.endswith("json") else "csv")
    if outputs["html"] is not None:
        from rctsim.report.sweep_report import write_sweep_report

        write_sweep_report(rows, outputs["html"], objectives=plan.objectives, name=plan.name,
                           source=source, axes=plan.axes)
    piped = any(str(p) == "-" for p in outputs.values() if p is not None)
    out = wide_console(stderr=piped)
    print_summary(out, plan, outcome, store=str(store_path), front_size=len(front), ok=len(ok))
    if show and front:
        out.print(front_table(plan, front, limit=show))


def _stored(path: Path) -> int:
    """Rows in a store (0 when it cannot be read)."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return int(db.execute("SELECT COUNT(*) FROM points").fetchone()[0])
    except sqlite3.Error:
        return 0


def _remove_empty_store(path: Path) -> bool:
    """Delete a store this run created if it holds no finished point; whether it did."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.Error:
        return False
    if rows == 0:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return True
    return False


def axes_listing() -> str:
    """Every axis and objective, one per line."""
    from rctsim.sweep.flags import policy_axis_names
    from rctsim.sweep.hardware import FIELD_ROOTS, HARDWARE_AXES, HW_AXIS
    from rctsim.sweep.pareto import ALIASES

    lines = ["hardware axes:"]
    lines += [f"  {name:16s} {axis.help}" for name, axis in HARDWARE_AXES.items()]
    lines.append(f"  {HW_AXIS:16s} base hardware preset name or YAML file")
    lines.append(f"  {'ROOT.FIELD':16s} any schema field, ROOT in {', '.join(FIELD_ROOTS)}")
    lines.append("policy axes (trained traces): " + ", ".join(policy_axis_names()))
    lines.append("objectives: " + ", ".join(f"{k} ({c}, {s})" for k, (c, s) in ALIASES.items()))
    return "\n".join(lines)
