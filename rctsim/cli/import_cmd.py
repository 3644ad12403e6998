"""`rctsim trace import` (ONNX models, CSV/JSON layer tables) and `rctsim trace export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rctsim.cli.app import check_outputs
from rctsim.cli.synth_cmd import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_ITERATIONS,
    BitsOption,
    Fp32Option,
    OptStateBitsOption,
    QatOption,
    ScheduleFromOption,
    schedule_choice,
    write_and_report,
)
from rctsim.cli.trace_cmd import trace_app
from rctsim.errors import InputError
from rctsim.synth import schedule_trace
from rctsim.trace.catalog import load_trace
from rctsim.trace.interchange import default_header, read_table, table_trace, write_table
from rctsim.trace.model import Trace

IMPORT_SUFFIXES = (".onnx", ".csv", ".json")
"""What `trace import` reads, by file name ending."""


@trace_app.command("import")
def import_model(
    source: Annotated[Path, typer.Argument(help="MODEL.onnx, or a layer table F.csv / F.json.")],
    out: Annotated[Path | None, typer.Option(help="Trace file to write.")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help=f"Mini-batch size (ONNX: sets the batch dimension; default {DEFAULT_BATCH_SIZE}).")
    ] = None,
    iterations: Annotated[int | None, typer.Option(
        help=f"Training iterations (default {DEFAULT_ITERATIONS}).")] = None,
    bits: BitsOption = None,
    qat: QatOption = False,
    fp32: Fp32Option = False,
    schedule_from: ScheduleFromOption = None,
    opt_state_bits: OptStateBitsOption = None,
    seed: Annotated[int, typer.Option(help="Seed recorded in the header.")] = 0,
    dim: Annotated[list[str] | None, typer.Option(
        help="ONNX: size of a symbolic dimension, NAME=SIZE (repeatable).")] = None,
    skip_unsupported: Annotated[bool, typer.Option(
        "--skip-unsupported", help="ONNX: pass unsupported operators through, and list them.")
    ] = False,
) -> None:
    """Import an ONNX model or a CSV/JSON layer table as a trace (schedule options as synth)."""
    suffix = source.suffix.lower()
    if suffix not in IMPORT_SUFFIXES:
        raise InputError(str(source), "file", f"unknown kind {suffix or '(no suffix)'!r}",
                         ", ".join(IMPORT_SUFFIXES))
    if out is None:
        raise InputError("trace import", "--out", "missing", "a file path")
    check_outputs([(out, "--out")], inputs=(str(source), schedule_from))
    flags = dict(bits=bits, qat=qat, fp32=fp32, schedule_from=schedule_from)
    if suffix == ".onnx":
        trace, skipped = _from_onnx(source, batch_size=batch_size or DEFAULT_BATCH_SIZE,
                                    iterations=iterations or DEFAULT_ITERATIONS, seed=seed,
                                    dims=_dims(dim or []), skip=skip_unsupported, flags=flags,
                                    opt_state_bits=opt_state_bits)
    else:
        trace, skipped = _from_table(source, batch_size=batch_size, iterations=iterations,
                                     seed=seed, flags=flags,
                                     opt_state_bits=opt_state_bits), ""
    write_and_report(trace, out)
    if skipped:
        typer.echo(f"skipped unsupported operators (passed through, no work counted): {skipped}",
                   err=str(out) == "-")


@trace_app.command("export")
def export(
    trace: Annotated[str, typer.Argument(help="Trace file, or the name of a bundled trace.")],
    csv: Annotated[Path | None, typer.Option("--csv", help="Write the table as CSV.")] = None,
    json: Annotated[Path | None, typer.Option("--json", help="Write the table as JSON.")] = None,
) -> None:
    """Export a trace's layer table and per-phase bits as CSV and/or JSON."""
    if csv is None and json is None:
        raise InputError("trace export", "output", "missing", "--csv FILE and/or --json FILE")
    check_outputs([(csv, "--csv"), (json, "--json")], inputs=(trace,))
    loaded = load_trace(trace)
    for path, fmt in ((csv, "csv"), (json, "json")):
        if path is not None:
            write_table(loaded, path, fmt)
            typer.echo(f"wrote {path}: {loaded.n_layers} layers, {len(loaded.phase_start)} "
                       f"phase(s) ({fmt})")


def _from_onnx(source: Path, *, batch_size: int, iterations: int, seed: int,
               dims: dict[str, int], skip: bool, flags: dict,
               opt_state_bits: int | None = None) -> tuple[Trace, str]:
    from rctsim.onnx_import import format_counts, import_onnx

    schedule, source_name = schedule_choice(**flags, command="trace import")
    imported = import_onnx(source, batch_size=batch_size, dims=dims, skip_unsupported=skip)
    trace = schedule_trace(imported.layers, model=imported.model, batch_size=batch_size,
                           iterations=iterations, schedule=schedule, seed=seed,
                           source_name=source_name, notes=imported.notes,
                           producer="rctsim.import", opt_state_bits=opt_state_bits)
    return trace, format_counts(imported.skipped)


def _from_table(source: Path, *, batch_size: int | None, iterations: int | None, seed: int,
                flags: dict, opt_state_bits: int | None = None) -> Trace:
    table = read_table(source)
    given = [f"--{k.replace('_', '-')}" for k, v in flags.items() if v]
    header = {**default_header(model=source.stem, batch_size=batch_size, seed=seed),
              **table.header}
    if table.has_bits:
        if given or iterations is not None or opt_state_bits is not None:
            extra = given[0] if given else ("--iterations" if iterations is not None
                                            else "--opt-state-bits")
            raise InputError(str(source), extra, "the table carries its own bits and phases",
                             "no schedule options and no --iterations for such a table")
        if "policy" not in header:
            raise InputError(str(source), "header.policy", "missing for a table with bits",
                             "a '# header {\"policy\": {\"name\": \"rct\"}}' line (CSV) or a "
                             "header object (JSON), or drop the bits and pass a schedule option")
        if "batch_size" not in header:
            raise InputError(str(source), "header.batch_size", "missing",
                             "--batch-size N, or batch_size in the file's header")
        return table_trace(table, header)
    schedule, source_name = schedule_choice(**flags, command="trace import")
    if "batch_size" not in header:
        raise InputError(str(source), "header.batch_size", "missing",
                         "--batch-size N (already folded into each layer's M)")
    notes = {**header.get("notes", {}), "table_file": source.name}
    return schedule_trace(table.layers, model=header["model"], batch_size=header["batch_size"],
                          iterations=iterations or DEFAULT_ITERATIONS, schedule=schedule,
                          seed=header["seed"], source_name=source_name, notes=notes,
                          producer="rctsim.import", opt_state_bits=opt_state_bits)


def _dims(items: list[str]) -> dict[str, int]:
    dims: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip().isdigit() or int(value) < 1:
            raise InputError("trace import", "--dim", f"{item!r}",
                             "NAME=SIZE with SIZE an integer >= 1")
        dims[name.strip()] = int(value)
    return dims
