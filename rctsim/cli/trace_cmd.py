"""`rctsim trace ...`: inspect, list, synthesise, import and export traces."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rctsim.cli.app import app, check_outputs
from rctsim.cli.output import console, is_stdout, write_output
from rctsim.display import MAX_SHOWN_CHARS, shown
from rctsim.trace.catalog import resolve_trace
from rctsim.trace.info import bundled_list, trace_info
from rctsim.trace.model import OPERANDS

trace_app = typer.Typer(help="Inspect, list, synthesise, import and export training traces.",
                        no_args_is_help=True)
app.add_typer(trace_app, name="trace")

JSON_HELP = "Write one JSON object to this file; - or nothing: standard output."


@trace_app.command("info")
def info(
    trace: Annotated[str, typer.Argument(help="Trace file, or the name of a bundled trace.")],
    json_out: Annotated[str | None, typer.Option("--json", help=JSON_HELP)] = None,
) -> None:
    """Summarise a trace: header, layer table, phases and metrics."""
    check_outputs([(json_out, "--json")])
    summary = trace_info(resolve_trace(trace))
    if json_out:
        write_output(json_out, json.dumps(summary, indent=2, allow_nan=False))
        if is_stdout(json_out):
            return
    console = _console()
    console.print(_overview_table(summary))
    console.print(_layer_table(summary))
    console.print(_metrics_table(summary))


@trace_app.command("list")
def list_traces(
    json_out: Annotated[str | None, typer.Option("--json", help=JSON_HELP)] = None,
) -> None:
    """List the bundled traces."""
    check_outputs([(json_out, "--json")])
    listing = bundled_list()
    if json_out:
        write_output(json_out, json.dumps(listing, indent=2, allow_nan=False))
        if is_stdout(json_out):
            return
    table = Table(title="Bundled traces")
    for column in ("name", "model", "dataset", "policy", "iterations", "layers", "phases", "bytes"):
        table.add_column(column, justify="right" if column in _NUMERIC else "left")
    for row in listing["traces"]:
        table.add_row(shown(row["name"]), shown(row["model"]), shown(row["dataset"]),
                      shown(row["policy"]),
                      f"{row['iterations']:,}", str(row["n_layers"]), str(row["n_phases"]),
                      f"{row['size_bytes']:,}")
    if not listing["traces"]:
        table.caption = "no bundled traces"
    _console().print(table)


_NUMERIC = {"iterations", "layers", "phases", "bytes"}


def _console() -> Console:
    return console()


def _overview_table(s: dict[str, Any]) -> Table:
    h = s["header"]
    table = Table(title=f"Trace {shown(s['file'])}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    params = ", ".join(f"{k}={v}" for k, v in sorted(s["policy"]["params"].items()))
    params = shown(params, 4 * MAX_SHOWN_CHARS)
    lengths = s["phase_lengths"]
    rows = [
        ("model", shown(h["model"])), ("dataset", shown(h["dataset"])),
        ("policy", f"{s['policy']['name']} ({params or 'no parameters'})"),
        ("batch size", str(h["batch_size"])), ("seed", str(h["seed"])),
        ("iterations", f"{s['iterations']:,}"), ("layers", str(s["n_layers"])),
        ("phases", f"{s['n_phases']:,} (iterations per phase: "
                   f"{lengths['min']:,}..{lengths['max']:,})"),
        ("parameters", f"{s['totals']['params']:,}"), ("forward MACs", f"{s['totals']['macs']:,}"),
        ("producer", shown(f"{h['producer']} {h['producer_version']}")),
        ("schedule source", shown(h["schedule_source"] or "this run")),
        ("file", f"{s['size_bytes']:,} bytes, sha256 {s['sha256']}"),
        ("non-GEMM work", _nongemm_line(s["nongemm"])),
    ]
    loss, acc = s["metrics"]["loss"], s["metrics"]["eval_acc"]
    if loss:
        rows.append(("loss", f"first {_fmt_point(loss['first'])}, last {_fmt_point(loss['last'])}"
                             f", min {_fmt_point(loss['min'])}"))
    if acc:
        rows.append(("eval accuracy", f"last {_fmt_point(acc['last'])}, "
                                      f"best {_fmt_point(acc['best'])}"))
    for key, value in rows:
        table.add_row(key, value)
    return table


def _layer_table(s: dict[str, Any]) -> Table:
    signals = s["metrics"]["signals"]
    table = Table(title="Layers (mean bits over iterations)")
    for column in ("#", "name", "kind", "M", "N", "K", "params", "act elems", *OPERANDS):
        table.add_column(column, justify="left" if column in ("name", "kind") else "right")
    for name in signals:
        table.add_column(f"{shown(name)} n", justify="right")
        table.add_column(f"{shown(name)} mean", justify="right")
    for layer in s["layers"]:
        cells = [str(layer["index"]), shown(layer["name"]), layer["kind"], f"{layer['m']:,}",
                 f"{layer['n']:,}", f"{layer['k']:,}", f"{layer['params']:,}",
                 f"{layer['act_elems']:,}",
                 *(f"{layer['mean_bits'][op]:.2f}" for op in OPERANDS)]
        for sig in signals.values():
            row = sig["per_layer"][layer["index"]]
            cells += [str(row["count"]), _fmt(row["mean"])]
        table.add_row(*cells)
    return table


def _metrics_table(s: dict[str, Any]) -> Table | str:
    """The recorded metrics as a table, or one line when the trace records none."""
    if not s["metrics"]["series"] and not s["metrics"]["signals"]:
        return "Metrics: none recorded"
    table = Table(title="Metrics (value @ iteration)")
    for column in ("metric", "records", "first", "last", "min", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, m in s["metrics"]["series"].items():
        table.add_row(shown(name), str(m["count"]),
                      *(_fmt_point(m[k]) for k in ("first", "last", "min", "max")))
    for name, sig in s["metrics"]["signals"].items():
        table.add_row(f"{shown(name)} (per layer)", str(sig["count"]), "", "", "", "")
    return table


def _nongemm_line(ng: dict[str, Any]) -> str:
    if not ng["recorded"]:
        return ng["missing"]
    if not ng["elems"]:
        return "none recorded"
    return "elements per iteration: " + ", ".join(f"{k} {v:,}" for k, v in ng["elems"].items())


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _fmt_point(point: dict[str, Any] | None) -> str:
    return "-" if point is None else f"{_fmt(point['value'])} @ {point['iteration']:,}"
