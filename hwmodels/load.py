"""Load hardware descriptions and energy tables: a file path, else a bundled name.

Bundled presets live in `hwmodels/presets/*.yaml` and tables in `hwmodels/tables/*.yaml`, read
through `importlib.resources`. Every problem becomes one `InputError` line naming the file, the
field and what is allowed: YAML syntax, schema violations, and cross-field sense the schema
cannot express (the energy table exists, `native_bits` is a supported width, ...).
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from hwmodels.registry import SLOTS, default_registry
from hwmodels.schema import EnergyEntry, EnergyTable, HardwareSpec
from hwmodels.validation import parse_mapping, validate_model
from rctsim.errors import InputError
from rctsim.fileread import is_regular_file, read_text_limited

YAML_SUFFIXES = (".yaml", ".yml")
"""File name endings of hardware and table files."""


def _bundled(folder: str) -> dict[str, Traversable]:
    """Bundled YAML files in `hwmodels/<folder>`, by name without the suffix."""
    root = resources.files("hwmodels") / folder
    if not root.is_dir():
        return {}
    return {
        item.name.rsplit(".", 1)[0]: item
        for item in root.iterdir()
        if item.name.endswith(YAML_SUFFIXES)
    }


def list_presets() -> list[str]:
    """Names of the bundled hardware presets."""
    return sorted(_bundled("presets"))


def list_tables() -> list[str]:
    """Names of the bundled energy tables."""
    return sorted(_bundled("tables"))


def _read(name_or_path: str | Path, folder: str, what: str) -> tuple[str, str, Path | None]:
    """(source name, text, folder for relative references) of a file path or bundled name."""
    path = Path(name_or_path)
    bundled = _bundled(folder)
    stem = path.name.rsplit(".", 1)[0] if path.name.endswith(YAML_SUFFIXES) else path.name
    try:
        if is_regular_file(path):
            return str(path), read_text_limited(path), path.parent
        if str(path.parent) == "." and stem in bundled:
            item = bundled[stem]
            return str(item), item.read_text(encoding="utf-8"), None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(name_or_path), "(file)", f"cannot be read: {err}",
                         "a readable UTF-8 YAML file") from None
    if os.path.lexists(path):
        read_text_limited(path, allowed="a YAML file or a bundled name")  # says what it is
        raise InputError(str(name_or_path), "(file)", "is not a regular file",
                         "a YAML file or a bundled name")
    raise InputError(
        str(name_or_path),
        what,
        f"no such file and no bundled {what} of that name",
        ", ".join(sorted(bundled)),
    )


def _check_entries(source: str, table: EnergyTable) -> None:
    """Arithmetic entries carry `bits`, SRAM entries `size_bytes`; no key appears twice."""
    groups = {
        "int_mult": "bits",
        "int_add": "bits",
        "fp_mult": "bits",
        "fp_add": "bits",
        "sram_64b": "size_bytes",
    }
    for group, key in groups.items():
        entries: list[EnergyEntry] = getattr(table, group)
        other = "size_bytes" if key == "bits" else "bits"
        seen: set[int] = set()
        for index, entry in enumerate(entries):
            value = getattr(entry, key)
            if value is None:
                raise InputError(source, f"{group}[{index}].{key}", f"{group} entries need {key}")
            if getattr(entry, other) is not None:
                raise InputError(
                    source,
                    f"{group}[{index}].{other}",
                    f"{group} entries are keyed by {key}, not {other}",
                )
            if value in seen:
                raise InputError(
                    source, f"{group}[{index}].{key}", f"{key} {value} appears twice in {group}"
                )
            seen.add(value)


def load_energy_table(name_or_path: str | Path) -> EnergyTable:
    """An energy table from a file path or a bundled table name."""
    source, text, _ = _read(name_or_path, "tables", "energy table")
    table: EnergyTable = validate_model(
        source, parse_mapping(source, text, EnergyTable), EnergyTable
    )
    _check_entries(source, table)
    return table


def _resolve_table(source: str, ref: str, base_dir: Path | None) -> str:
    """The energy-table reference made loadable: a bundled name, or an absolute file path."""
    candidate = Path(ref)
    if base_dir is not None and not candidate.is_absolute():
        candidate = base_dir / candidate
    if candidate.is_file():
        return str(candidate.resolve())
    if ref in list_tables():
        return ref
    raise InputError(
        source,
        "energy_table",
        f"'{ref}' is neither a bundled energy table nor a file",
        ", ".join(list_tables()),
    )


def _check_array(source: str, spec: HardwareSpec) -> None:
    array = spec.array
    widths = ", ".join(str(b) for b in array.int_bits)
    if array.native_bits not in array.int_bits:
        raise InputError(
            source, "array.native_bits", f"{array.native_bits} is not one of array.int_bits", widths
        )
    if array.precision_mode == "bit_fusion":
        odd = [b for b in array.int_bits if b < 2 or b & (b - 1)]
        if odd:
            raise InputError(
                source,
                "array.int_bits",
                f"bit_fusion fuses 2-bit bricks in powers of two; {odd[0]} is not",
                "2, 4, 8, 16, 32",
            )
    if array.precision_mode == "bit_serial":
        if array.serial_bits > max(array.int_bits):
            raise InputError(
                source,
                "array.serial_bits",
                f"{array.serial_bits} is wider than any supported width",
                f"1..{max(array.int_bits)}",
            )
    elif array.serial_bits != 1:
        raise InputError(
            source, "array.serial_bits", "only applies to precision_mode bit_serial", "leave it out"
        )


def _check_memories(source: str, spec: HardwareSpec) -> None:
    if [m.role for m in spec.memories].count("pe_local") > 1:
        raise InputError(
            source, "memories", "more than one memory has role 'pe_local'", "at most one"
        )
    for index, memory in enumerate(spec.memories):
        if memory.word_bits % 8:
            raise InputError(
                source,
                f"memories[{index}].word_bits",
                f"{memory.word_bits} is not a whole number of bytes",
                "a multiple of 8",
            )


def _check_components(source: str, spec: HardwareSpec) -> None:
    registry = default_registry()
    for slot, name in spec.components.items():
        if slot not in SLOTS:
            raise InputError(
                source, f"components.{slot}", "unknown component slot", ", ".join(SLOTS)
            )
        if name not in registry.available(slot):
            raise InputError(
                source,
                f"components.{slot}",
                f"no {slot} model named '{name}'",
                ", ".join(registry.available(slot)),
            )


def check_hardware(source: str, spec: HardwareSpec, base_dir: Path | None = None) -> HardwareSpec:
    """Cross-field checks; returns the spec with its energy table reference made loadable."""
    _check_array(source, spec)
    _check_memories(source, spec)
    _check_components(source, spec)
    table_ref = _resolve_table(source, spec.energy_table, base_dir)
    load_energy_table(table_ref)
    if table_ref != spec.energy_table:
        spec = spec.model_copy(update={"energy_table": table_ref})
    return spec


def load_hardware(name_or_path: str | Path) -> HardwareSpec:
    """A validated hardware description from a file path (wins) or a bundled preset name."""
    source, text, base_dir = _read(name_or_path, "presets", "hardware")
    spec: HardwareSpec = validate_model(
        source, parse_mapping(source, text, HardwareSpec), HardwareSpec
    )
    return check_hardware(source, spec, base_dir)


def hardware_digest(spec: HardwareSpec) -> str:
    """sha256 of the spec's canonical JSON (sorted keys, no spaces), for result provenance."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
