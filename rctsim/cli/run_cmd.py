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

from rctsim.baselines import is_baseline_name, parse_baseline, split_baselines
from rctsim.cli.app import app, check_outputs
from rctsim.cli.output import FORMATS, STDOUT, console, is_stdout, write_output
from rctsim.cli.run_summary import print_summary
from rctsim.display import shown
from rctsim.errors import InputError
from rctsim.gemm import gemm_report
from rctsim.replay import BASELINE_ARG, SimOptions, simulate
from rctsim.storage import OPT_STATES
from rctsim.sweep.table import to_csv
from rctsim.units import count, duration, quantity, si

DEFAULT_HW = "edge_npu"
DEFAULT_TRACE = "resnet"




@app.command()
def run(
    hw: Annotated[str, typer.Option("--hw", help="Hardware preset name or YAML file.")]
    = DEFAULT_HW,
    trace: Annotated[str, typer.Option("--trace", help="Bundled trace name or .trace file.")]
    = DEFAULT_TRACE,
    baseline: Annotated[str, typer.Option(
        "--baseline", help="Comma-separated baselines: qat, qat-fp16, qat-bf16, qat-int8g, fp32, "
        "mixed-fp16, mixed-bf16 (counterfactuals on the same layers; name:key=value for "
        "variants, e.g. qat:dgrad_weights=master), a .trace file / bundled name of a real run "
        "of another policy, or none.")] = "qat",
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write the run JSON to this file; - or nothing: standard output.")]
    = None,
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", help="Write per-layer, per-op rows (CSV) here; -: standard output.")] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Write an interactive HTML report here; -: standard output.")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="What goes to standard output: table (the summary), json (the run "
        "JSON) or csv (the per-op rows).")] = "table",
    workspace_fraction: Annotated[float, typer.Option(
        help="Share of the global buffer kept for tiles and transients.")] = 0.25,
    qat_dgrad_weights: Annotated[str, typer.Option(
        help="Weights QAT's fp32 dgrad reads: quantised (dequantised w_q copy) or master.")]
    = "quantised",
    opt_state: Annotated[str | None, typer.Option(
        "--opt-state", help="Optimiser-state format of every policy: fp32, bf16, int16, int8 or "
        "weights (the format of the copy updated); default: what each trace records, else "
        "fp32.")] = None,
    first_layer_dgrad: Annotated[bool, typer.Option(
        "--first-layer-dgrad/--no-first-layer-dgrad", help="Count the first layer's dgrad "
        "(the gradient of the input data, which nothing uses); counted by default.")] = True,
) -> None:
    """Replay a training trace on an accelerator; compare its policy with a baseline."""
    if fmt not in FORMATS:
        raise InputError("command line", "--format", repr(fmt), ", ".join(FORMATS))
    outputs = [(json_out, "--json"), (csv_out, "--csv"), (html_out, "--html")]
    if fmt != "table":
        outputs.append((Path(STDOUT), f"--format {fmt}"))
    check_outputs(outputs, inputs=(trace, hw, *baseline.split(",")))
    if not 0 < workspace_fraction < 1:
        raise InputError("command line", "--workspace-fraction", f"{workspace_fraction}",
                         "a number strictly between 0 and 1")
    if qat_dgrad_weights not in ("quantised", "master"):
        raise InputError("command line", "--qat-dgrad-weights", repr(qat_dgrad_weights),
                         "quantised, master")
    if opt_state is not None and opt_state not in OPT_STATES:
        raise InputError("command line", "--opt-state", repr(opt_state), ", ".join(OPT_STATES))
    bases = split_baselines(baseline)
    for item in bases:
        if is_baseline_name(item):
            parse_baseline(item)  # a wrong parameter fails before anything runs
    base = None if bases in ([], ["none"]) else (bases[0] if len(bases) == 1 else bases)
    with phase_progress() as progress:
        try:
            result = simulate(hw, trace, baseline=base, progress=progress,
                              options=SimOptions(workspace_fraction=workspace_fraction,
                                                 qat_dgrad_weights=qat_dgrad_weights,
                                                 opt_state=opt_state,
                                                 first_layer_dgrad=first_layer_dgrad))
        except InputError as err:
            if (err.source, err.field) != BASELINE_ARG:
                raise
            raise InputError("command line", "--baseline", err.problem, err.allowed) from None
    if json_out:
        write_output(json_out, result.to_json())
    if csv_out:
        write_output(csv_out, result.to_csv())
    if html_out:
        from rctsim.report import build_run_report
        first = base[0] if isinstance(base, list) else base
        write_output(html_out, build_run_report(result, trace=trace, baseline_trace=first,
                                                hardware=hw))
    if fmt == "json":
        write_output(STDOUT, result.to_json())
    elif fmt == "csv":
        write_output(STDOUT, result.to_csv())
    piped = fmt != "table" or any(is_stdout(p) for p, _ in outputs)
    print_summary(result, console(stderr=piped))


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
    json_out: Annotated[str | None, typer.Option(
        "--json", help="Write the JSON to this file; - or nothing: standard output.")] = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="Standard output as table, json or csv.")] = "table",
) -> None:
    """One GEMM on one array: cycles, utilisation, traffic, energy."""
    if fmt not in FORMATS:
        raise InputError("command line", "--format", repr(fmt), ", ".join(FORMATS))
    check_outputs([(json_out, "--json")] + ([(STDOUT, f"--format {fmt}")] if fmt != "table"
                                            else []))
    report = gemm_report(m, n, k, hw=hw, array=array, dataflow=dataflow, bits=bits)
    if json_out:
        write_output(json_out, json.dumps(report, indent=2, allow_nan=False))
    if fmt == "json":
        write_output(STDOUT, json.dumps(report, indent=2, allow_nan=False))
    if fmt == "csv":
        write_output(STDOUT, to_csv([{"metric": k, "value": v} for k, v in report.items()],
                                    ["metric", "value"]))
    if fmt != "table" or is_stdout(json_out):
        return
    table = Table(title=f"GEMM {m}x{n}x{k} on {shown(report['hardware'])} "
                        f"({report['array']}, {report['dataflow']}, {report['bits']})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            table.add_row(*gemm_cell(key, value))
    console().print(table)


def gemm_cell(key: str, value: float) -> tuple[str, str]:
    """(label, value) of one `rctsim gemm` number, written one way per kind with its unit:
    energies in J, bytes and counts with SI prefixes, times in s, utilisation in %."""
    if key.endswith("_pj"):
        return key.removesuffix("_pj").replace("_", " "), quantity(value, "pJ")
    if key.endswith("_bytes"):
        return key.replace("_", " "), si(value, "B")
    if key == "seconds":
        return "time", duration(value)
    if key == "utilization":
        return "utilisation", f"{100 * value:.1f} %"
    return key.replace("_", " "), count(value)
