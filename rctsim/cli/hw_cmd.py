"""`rctsim hw ...`: list, show, validate hardware descriptions; print their JSON Schema."""

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hwmodels.load import (
    list_presets,
    list_tables,
    load_energy_table,
    load_hardware,
)
from hwmodels.schema import EnergyTable, HardwareSpec
from hwmodels.summary import hardware_summary
from rctsim.cli.app import app
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
    console = Console()
    presets = Table("preset", "description", title="hardware presets")
    for name in list_presets():
        presets.add_row(shown(name), shown(load_hardware(name).description, 400))
    tables = Table("table", "description", title="energy tables")
    for name in list_tables():
        tables.add_row(shown(name), shown(load_energy_table(name).description, 400))
    console.print(presets)
    console.print(tables)


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table("quantity", "value", title=f"{shown(summary['name'])} (derived)")
    rows = [
        ("PEs", str(summary["pes"])),
        (f"peak MAC/s ({summary['native_bits']}-bit)", _si(summary["peak_macs_per_s"], "MAC/s")),
        ("peak fp32 MAC/s", _si(summary["peak_fp32_macs_per_s"], "MAC/s")),
        ("on-chip memory", _bytes(summary["on_chip_bytes"])),
        ("energy per int8 MAC", _si(summary["int8_mac_pj"], "pJ")),
        ("energy per fp32 MAC", _si(summary["fp32_mac_pj"], "pJ")),
        ("DRAM energy", f"{summary['dram_pj_per_byte']:.4g} pJ/B"),
        ("DRAM bandwidth", _si(summary["dram_bandwidth_bytes_per_s"], "B/s")),
        ("SRAM leakage", f"{summary['leakage_w'] * 1e3:.4g} mW"),
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
            f"(native {array.native_bits}, {array.precision_mode}), fp32 {array.fp32} "
            f"({array.fp32_cycles_per_mac} cycle/MAC)",
            array.source,
        )
    ]
    rows += [
        (
            f"memory {m.name}",
            f"{m.role} {_bytes(m.size_bytes)}, {m.word_bits}-bit words, "
            f"{m.banks} bank(s) x {m.ports} port(s), leakage {m.leakage_mw:.4g} mW",
            m.source,
        )
        for m in spec.memories
    ]
    rows.append(("dram", f"{_si(spec.dram.bandwidth_bytes_per_s, 'B/s')}", spec.dram.source))
    rows.append(("energy table", spec.energy_table, ""))
    for part, description, source in rows:
        table.add_row(shown(part), shown(description, 400),
                      *([shown(source, 400)] if sources else []))
    return table


@hw_app.command("show")
def show_cmd(
    hardware: Annotated[str, typer.Argument(help="Bundled preset name or hardware YAML file.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print spec and derived numbers as JSON.")
    ] = False,
    sources: Annotated[
        bool, typer.Option("--sources", help="Add each part's source text.")
    ] = False,
) -> None:
    """Show a hardware description with derived numbers (peak MAC/s, energies per action)."""
    spec = load_hardware(hardware)
    summary = hardware_summary(spec)
    if as_json:
        typer.echo(json.dumps({"spec": spec.model_dump(mode="json"), "derived": summary},
                              indent=2, allow_nan=False))
        return
    console = Console()
    console.print(_spec_table(spec, sources))
    console.print(_summary_table(summary))


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


@hw_app.command("schema")
def schema_cmd(
    table: Annotated[bool, typer.Option("--table", help="Energy-table schema instead.")] = False,
) -> None:
    """Print the JSON Schema of a hardware description (or an energy table)."""
    model = EnergyTable if table else HardwareSpec
    typer.echo(json.dumps(model.model_json_schema(), indent=2))
