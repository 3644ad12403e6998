"""`rctsim hw ...`: list, show, validate hardware descriptions; print their JSON Schema."""

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hwmodels.compute import instance_leakage_uw
from hwmodels.load import (
    bundled_text,
    list_presets,
    list_tables,
    load_energy_table,
    load_hardware,
)
from hwmodels.schema import EnergyTable, HardwareSpec
from hwmodels.summary import hardware_summary
from rctsim.cli.app import app, check_outputs
from rctsim.cli.output import console, is_stdout, write_output
from rctsim.display import shown
from rctsim.errors import InputError
from rctsim.fileread import is_regular_file

hw_app = typer.Typer(
    help="Hardware descriptions: list, show, validate, schema.", no_args_is_help=True
)
app.add_typer(hw_app, name="hw")

_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _si(value: float | None, unit: str) -> str:
    """`1.2e9, 'B/s'` -> `1.2 GB/s`; None -> `n/a`."""
    if value is None:
        return "n/a"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}{unit}"
    return f"{value:.4g} {unit}"


def _bytes(value: int) -> str:
    """Byte count in KiB / MiB where that reads better."""
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value} B"


@hw_app.command("list")
def list_cmd() -> None:
    """List the bundled hardware presets and energy tables."""
    out = console()
    presets = Table("preset", "description", title="hardware presets")
    for name in list_presets():
        presets.add_row(shown(name), shown(load_hardware(name).description, 400))
    tables = Table("table", "description", title="energy tables")
    for name in list_tables():
        tables.add_row(shown(name), shown(load_energy_table(name).description, 400))
    out.print(presets)
    out.print(tables)


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table("quantity", "value", title=f"{shown(summary['name'])} (derived)")
    rows = [
        ("PEs", str(summary["pes"])),
        (f"peak MAC/s ({summary['native_bits']}-bit)", _si(summary["peak_macs_per_s"], "MAC/s")),
        ("peak fp32 MAC/s", _si(summary["peak_fp32_macs_per_s"], "MAC/s")),
        ("on-chip memory", _bytes(summary["on_chip_bytes"])),
        ("energy per int8 MAC", _si(summary["int8_mac_pj"], "pJ")),
        ("energy per fp32 MAC", _si(summary["fp32_mac_pj"], "pJ")),
        ("DRAM technology",
         summary["dram_technology"] or f"energy table ({summary['energy_table']})"),
        ("DRAM energy", f"read {summary['dram_read_pj_per_byte']:.4g} / write "
                        f"{summary['dram_write_pj_per_byte']:.4g} pJ/B"),
        ("DRAM bandwidth", _si(summary["dram_bandwidth_bytes_per_s"], "B/s")),
        ("DRAM latency", f"{summary['dram_latency_s'] * 1e9:.4g} ns"),
        ("SRAM leakage", f"{summary['leakage_w'] * 1e3:.4g} mW"),
        ("compute leakage", f"{summary['compute_leakage_w'] * 1e3:.4g} mW"),
        ("chip area", f"{summary['area_mm2']['total']:.4g} mm² ("
         + ", ".join(f"{k} {v:.3g}" for k, v in summary["area_mm2"]["parts"].items()) + ")"),
        ("overrides", ", ".join(summary["overrides"]) or "none"),
        ("energy table", summary["energy_table"]),
        ("digest", summary["digest"][:16]),
    ]
    rows[4:4] = [
        (
            f"SRAM {name} ({memory['role']}, {_bytes(memory['size_bytes'])})",
            f"read {memory['read_pj_per_byte']:.4g} / write {memory['write_pj_per_byte']:.4g} pJ/B",
        )
        for name, memory in summary["memories"].items()
    ]
    for row in rows:
        table.add_row(*(shown(cell, 400) for cell in row))
    return table


def _spec_table(spec: HardwareSpec, sources: bool) -> Table:
    columns = ("part", "description", "source") if sources else ("part", "description")
    table = Table(*columns, title=f"{shown(spec.name)}: {shown(spec.description, 400)}")
    array = spec.array
    rows = [
        (
            "array",
            f"{array.rows}x{array.cols} {array.dataflow} @ "
            f"{_si(array.clock_hz, 'Hz')}, int bits {list(array.int_bits)} "
            f"(native {array.native_bits}, {array.precision_mode}), "
            f"{array.pe_area_um2:.4g} µm² / {instance_leakage_uw(spec):.4g} µW per PE"
            + (" (leakage derived)" if array.pe_leakage_uw is None else ""),
            f"{array.source} Area: {array.area_source}",
        )
    ]
    rows += [
        (
            f"unit {u.name}",
            f"{u.placement}"
            + (f", {u.lanes} lanes, {u.operand_bytes_per_cycle:.4g} B/cycle operand path"
               if u.placement == "vector" else " (in every PE)")
            + ", " + ", ".join(f"{f} {c} cycle(s)/op" for f, c in u.formats.items())
            + f", {u.area_um2:.4g} µm² / {instance_leakage_uw(spec, u):.4g} µW per instance"
            + (" (leakage derived)" if u.leakage_uw is None else ""),
            u.source,
        )
        for u in spec.compute_units
    ]
    rows += [
        (
            f"memory {m.name}",
            f"{m.role} {_bytes(m.size_bytes)}, {m.word_bits}-bit words, "
            f"{m.banks} bank(s) x {m.ports} port(s), {m.cells} cells"
            + (f", leakage {m.leakage_mw:.4g} mW (override)" if m.leakage_mw is not None else ""),
            m.source,
        )
        for m in spec.memories
    ]
    dram = spec.dram
    rows.append(("dram", f"technology {dram.technology or '(energy table)'} x {dram.channels} "
                 "channel(s)" + (f", {_si(dram.bandwidth_bytes_per_s, 'B/s')}"
                                 if dram.bandwidth_bytes_per_s is not None else ""), dram.source))
    rows.append(("energy table", spec.energy_table, ""))
    latency = spec.dram.latency_ns
    latency_text = ("from the technology (derived below)" if latency is None
                    else f"{latency:g} ns (written)")
    rows.append(("latency, packing", f"DRAM latency {latency_text}; packing {spec.packing} "
                 "(docs/model.md §1, §4)", ""))
    for part, description, source in rows:
        table.add_row(shown(part), shown(description, 400),
                      *([shown(source, 400)] if sources else []))
    return table


@hw_app.command("show")
def show_cmd(
    hardware: Annotated[str, typer.Argument(help="Bundled preset name or hardware YAML file.")],
    json_out: Annotated[str | None, typer.Option(
        "--json", help="Write spec and derived numbers as JSON to this file; - or nothing: "
        "standard output.")] = None,
    sources: Annotated[
        bool, typer.Option("--sources", help="Add each part's source text.")
    ] = False,
) -> None:
    """Show a hardware description with derived numbers (peak MAC/s, energies per action)."""
    check_outputs([(json_out, "--json")], inputs=(hardware,))
    spec = load_hardware(hardware)
    summary = hardware_summary(spec)
    if json_out:
        write_output(json_out, json.dumps({"spec": spec.model_dump(mode="json"),
                                           "derived": summary}, indent=2,
                                          allow_nan=False))
        if is_stdout(json_out):
            return
    out = console()
    out.print(_spec_table(spec, sources))
    out.print(_summary_table(summary))


@hw_app.command("validate")
def validate_cmd(
    path: Annotated[
        Path, typer.Argument(help="Hardware (or, with --table, energy table) YAML file.")
    ],
    table: Annotated[
        bool, typer.Option("--table", help="Validate an energy table instead.")
    ] = False,
) -> None:
    """Check a YAML file; print `ok: FILE` or one error line (exit status 2)."""
    if not is_regular_file(path):
        problem = "is not a regular file" if os.path.lexists(path) else "no such file"
        raise InputError(str(path), "(file)", problem, "a YAML file")
    if table:
        load_energy_table(path)
    else:
        load_hardware(path)
    typer.echo(f"ok: {path}")


@hw_app.command("export")
def export_cmd(
    name: Annotated[str, typer.Argument(help="Bundled preset (or, with --table, table) name.")],
    out: Annotated[str, typer.Option(
        "-o", "--out", help="File to write (- for standard output).")] = "-",
    table: Annotated[bool, typer.Option("--table", help="Export an energy table instead.")]
    = False,
) -> None:
    """Write a bundled preset (with its comments and sources) to a YAML file to edit.

    A run on the edited copy is labelled `NAME (modified, sha256 ...)` unless you rename it.
    """
    check_outputs([(out, "-o")])
    text = bundled_text(name, "tables" if table else "presets")
    write_output(out, text)
    if not is_stdout(out):
        typer.echo(f"wrote {out} (validate it with: rctsim hw validate "
                   f"{'--table ' if table else ''}{out})", err=True)


@hw_app.command("schema")
def schema_cmd(
    table: Annotated[bool, typer.Option("--table", help="Energy-table schema instead.")] = False,
) -> None:
    """Print the JSON Schema of a hardware description (or an energy table)."""
    model = EnergyTable if table else HardwareSpec
    typer.echo(json.dumps(model.model_json_schema(), indent=2))
