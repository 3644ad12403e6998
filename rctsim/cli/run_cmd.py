"""`rctsim run` (replay a trace on a hardware) and `rctsim gemm` (one GEMM what-if)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rctsim.cli.app import app, check_outputs
from rctsim.display import shown
from rctsim.errors import InputError
from rctsim.gemm import gemm_report
from rctsim.replay import SimOptions, simulate
from rctsim.result import Result
from rctsim.units import percent, quantity

DEFAULT_HW = "edge_npu"
DEFAULT_TRACE = "resnet"




@app.command()
def run(
    hw: Annotated[str, typer.Option("--hw", help="Hardware preset name or YAML file.")]
    = DEFAULT_HW,
    trace: Annotated[str, typer.Option("--trace", help="Bundled trace name or .trace file.")]
    = DEFAULT_TRACE,
    baseline: Annotated[str, typer.Option(
        "--baseline", help="qat | fp32 (counterfactual on the same layers), none, or a .trace "
        "file / bundled name of a real run of another policy.")] = "qat",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the run JSON here.")]
    = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write per-layer, per-op rows.")]
    = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Write an interactive HTML report here.")] = None,
    workspace_fraction: Annotated[float, typer.Option(
        help="Share of the global buffer kept for tiles and transients.")] = 0.25,
    qat_dgrad_weights: Annotated[str, typer.Option(
        help="Weights QAT's fp32 dgrad reads: quantised (dequantised w_q copy) or master.")]
    = "quantised",
) -> None:
    """Replay a training trace on an accelerator; compare its policy with a baseline."""
    check_outputs([(json_out, "--json"), (csv_out, "--csv"), (html_out, "--html")],
                  inputs=(trace, hw, baseline))
    if not 0 < workspace_fraction < 1:
        raise InputError("command line", "--workspace-fraction", f"{workspace_fraction}",
                         "a number strictly between 0 and 1")
    if qat_dgrad_weights not in ("quantised", "master"):
        raise InputError("command line", "--qat-dgrad-weights", repr(qat_dgrad_weights),
                         "quantised, master")
    base = None if baseline == "none" else baseline
    with phase_progress() as progress:
        result = simulate(hw, trace, baseline=base, progress=progress,
                          options=SimOptions(workspace_fraction=workspace_fraction,
                                             qat_dgrad_weights=qat_dgrad_weights))
    if json_out:
        result.to_json(json_out)
    if csv_out:
        result.to_csv(csv_out)
    if html_out:
        from rctsim.report import write_run_report
        write_run_report(result, html_out, trace=trace, baseline_trace=base, hardware=hw)
    print_summary(result, Console())


@contextmanager
def phase_progress():
    """A transient progress bar on stderr over simulated phases (shown for long traces only)."""
    console = Console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("phases"), TimeRemainingColumn(), console=console, transient=True,
                   disable=not console.is_terminal)
    tasks: dict[str, int] = {}

    def update(label: str, done: int, total: int) -> None:
        if total < 20:
            return
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=total)
        bar.update(tasks[label], completed=done)

    with bar:
        yield update


_ROWS = (
    ("MACs (fwd+dgrad+wgrad)", ("macs", "total"), ""),
    ("GEMM energy", ("energy_pj", "gemm"), "pJ"),
    ("MAC energy (incl. update)", ("energy_pj", "mac"), "pJ"),
    ("SRAM energy", ("energy_pj", "sram"), "pJ"),
    ("DRAM energy", ("energy_pj", "dram"), "pJ"),
    ("Leakage energy", ("energy_pj", "leakage"), "pJ"),
    ("Parameter movement energy", ("energy_pj", "param_movement"), "pJ"),
    ("Total energy", ("energy_pj", "total"), "pJ"),
    ("DRAM traffic", ("traffic_bytes", "dram_total"), "B"),
    ("  of which parameters", ("traffic_bytes", "param_dram"), "B"),
    ("Parameter memory (all copies)", ("memory_bytes", "param_total"), "B"),
    ("Optimiser state", ("memory_bytes", "optimizer"), "B"),
    ("Peak memory (total)", ("memory_bytes", "peak_total"), "B"),
    ("Peak on chip", ("memory_bytes", "peak_on_chip"), "B"),
    ("Compute cycles", ("cycles", "compute"), ""),
    ("Stall cycles", ("cycles", "stall"), ""),
    ("Latency", ("seconds",), "s"),
)


def print_summary(result: Result, console: Console) -> None:
    """The terminal summary: every policy side by side, then the savings."""
    t = result.trace
    console.print(f"[bold]rctsim run[/bold]  hardware [cyan]{shown(result.hardware['name'])}"
                  f"[/cyan]  trace [cyan]{shown(t['name'])}[/cyan] ({shown(t['model'])}, "
                  f"{shown(t['policy'])}, "
                  f"{t['iterations']:,} iterations, {t['layers']} layers, {t['phases']} phases)")
    table = Table(show_lines=False)
    table.add_column("metric")
    for label, pr in result.policies.items():
        table.add_column(f"{shown(label)}\n[dim]{shown(pr.role)}[/dim]", justify="right")
    for name, path, unit in _ROWS:
        cells = []
        for pr in result.policies.values():
            value = getattr(pr, path[0])
            value = value[path[1]] if len(path) > 1 else value
            cells.append(quantity(float(value), unit, spec=",.2f"))
        table.add_row(name, *cells)
    console.print(table)
    if result.comparison:
        c = result.comparison
        cmp = Table(title=f"{shown(c['policy'])} against {shown(c['baseline'])} "
                          f"({shown(c['baseline_role'])})")
        cmp.add_column("saving")
        cmp.add_column("value", justify="right")
        for name, value in c["savings"].items():
            cmp.add_row(name.replace("_", " "), percent(value))
        console.print(cmp)


@app.command()
def gemm(
    m: Annotated[int, typer.Argument(help="Rows of the output (M).")],
    n: Annotated[int, typer.Argument(help="Columns of the output (N).")],
    k: Annotated[int, typer.Argument(help="Reduction length (K).")],
    array: Annotated[str | None, typer.Option(help="RxC array, overriding the hardware's.")]
    = None,
    dataflow: Annotated[str | None, typer.Option(help="ws | os | is, overriding the hardware's.")]
    = None,
    bits: Annotated[str, typer.Option(help="a=8,b=8,acc=32 or fp32.")] = "a=8,b=8,acc=32",
    hw: Annotated[str, typer.Option("--hw", help="Hardware preset or YAML file.")] = DEFAULT_HW,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One GEMM on one array: cycles, utilisation, traffic, energy."""
    report = gemm_report(m, n, k, hw=hw, array=array, dataflow=dataflow, bits=bits)
    if as_json:
        typer.echo(json.dumps(report, indent=2, allow_nan=False))
        return
    table = Table(title=f"GEMM {m}x{n}x{k} on {shown(report['hardware'])} "
                        f"({report['array']}, {report['dataflow']}, {report['bits']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            table.add_row(key, f"{value:,.4g}" if isinstance(value, float) else f"{value:,}")
    Console().print(table)
