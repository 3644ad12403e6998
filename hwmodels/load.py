"""Load hardware descriptions and energy tables: a file path, else a bundled name.

Bundled presets live in `hwmodels/presets/*.yaml` and tables in `hwmodels/tables/*.yaml`, read
through `importlib.resources`. Every problem becomes one `InputError` line naming the file, the
field and what is allowed: YAML syntax, schema violations, and cross-field sense the schema
cannot express (the energy table exists, `native_bits` is a supported width, ...).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from hwmodels.dram import TECHNOLOGIES, dram_technology
from hwmodels.legacy import is_v1, upgrade_v1
from hwmodels.registry import DEFAULT_COMPONENTS, SLOTS, default_registry
from hwmodels.schema import SRAM_OVERRIDES, EnergyEntry, EnergyTable, HardwareSpec
from hwmodels.sram import ALLOWED_BANKS, OutsideTable, banked_sram
from hwmodels.validation import parse_mapping, validate_model
from rctsim.errors import InputError, did_you_mean
from rctsim.fileread import is_regular_file, read_text_limited

YAML_SUFFIXES = (".yaml", ".yml")
"""File name endings of hardware and table files."""


def _bundled(folder: str) -> dict[str, Traversable]:
    """Bundled YAML files in `hwmodels/<folder>`, by name without the suffix."""
    return dict(_bundled_items(folder))


@functools.lru_cache(maxsize=8)
def _bundled_items(folder: str) -> tuple[tuple[str, Traversable], ...]:
    """The listing `_bundled` returns, made once per process and folder (the package's own
    files do not change while it runs; every sweep point's result label asks for it)."""
    root = resources.files("hwmodels") / folder
    if not root.is_dir():
        return ()
    return tuple(
        (item.name.rsplit(".", 1)[0], item)
        for item in root.iterdir()
        if item.name.endswith(YAML_SUFFIXES)
    )


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
            return _bundled_text(folder, stem)
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
        f"no such file and no bundled {what} of that name"
        + did_you_mean(Path(str(name_or_path)).stem, sorted(bundled)),
        ", ".join(sorted(bundled)),
    )


@functools.lru_cache(maxsize=64)
def _bundled_text(folder: str, stem: str) -> tuple[str, str, None]:
    """`_read`'s answer for a bundled name, read once per process (the package's own files do
    not change while it runs; every sweep point reads its energy table and its preset's text).
    """
    item = _bundled(folder)[stem]
    return str(item), item.read_text(encoding="utf-8"), None


def bundled_text(name: str, folder: str = "presets") -> str:
    """The YAML text of a bundled preset (or, with folder="tables", energy table), comments and
    sources included: what `rctsim hw export` writes."""
    bundled = _bundled(folder)
    if name not in bundled:
        what = "hardware preset" if folder == "presets" else "energy table"
        raise InputError(name, what, f"no bundled {what} of that name", ", ".join(sorted(bundled)))
    return bundled[name].read_text(encoding="utf-8")


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
    """An energy table from a file path or a bundled table name (read each time; parsed once
    per process for each distinct text)."""
    source, text, _ = _read(name_or_path, "tables", "energy table")
    return _parse_energy_table(source, text)


@functools.lru_cache(maxsize=64)
def _parse_energy_table(source: str, text: str) -> EnergyTable:
    """The validated table of one file's text (a pure function of both: a hardware load and its
    cost models read the same table; errors are raised each time, never cached)."""
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


def _check_derivable(source: str, spec: HardwareSpec) -> None:
    """The banked SRAM model covers every memory it must derive numbers for; the DRAM bandwidth
    is given or derivable."""
    if spec.components.get("sram", DEFAULT_COMPONENTS["sram"]) in ("banked", "table"):
        for index, memory in enumerate(spec.memories):
            if all(getattr(memory, f) is not None for f in SRAM_OVERRIDES):
                continue
            try:
                banked_sram(memory.cells, memory.size_bytes, memory.banks, memory.word_bits)
            except OutsideTable as err:
                raise InputError(source, f"memories[{index}]", str(err), ALLOWED_BANKS) from None
    dram = spec.dram
    if dram.bandwidth_bytes_per_s is None and (
            dram.technology is None or dram_technology(dram.technology).channel_bytes_per_s
            is None):
        raise InputError(source, "dram.bandwidth_bytes_per_s",
                         f"is needed: technology {dram.technology} gives no channel bandwidth",
                         "a bandwidth, or a technology that has one: "
                         + ", ".join(t for t in TECHNOLOGIES
                                     if dram_technology(t).channel_bytes_per_s is not None))


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
    _check_derivable(source, spec)
    table_ref = _resolve_table(source, spec.energy_table, base_dir)
    load_energy_table(table_ref)
    if table_ref != spec.energy_table:
        spec = spec.model_copy(update={"energy_table": table_ref})
    return spec


def load_hardware(name_or_path: str | Path) -> HardwareSpec:
    """A validated hardware description from a file path (wins) or a bundled preset name."""
    return _load_text(*_read(name_or_path, "presets", "hardware"))


def _load_text(source: str, text: str, base_dir: Path | None) -> HardwareSpec:
    """A validated hardware description from one file's text (parsed once per process for each
    distinct text; the checks against other files, such as its energy table, run each time)."""
    return check_hardware(source, _parse_hardware_text(source, text), base_dir)


@functools.lru_cache(maxsize=64)
def _parse_hardware_text(source: str, text: str) -> HardwareSpec:
    """The schema-validated description of one file's text (a pure function of both; the spec is
    frozen; errors are raised each time, never cached)."""
    data = parse_mapping(source, text, HardwareSpec)
    if is_v1(data):
        data = upgrade_v1(source, data)
    return validate_model(source, data, HardwareSpec)


def hardware_digest(spec: HardwareSpec, dump: dict | None = None) -> str:
    """sha256 of the spec's canonical JSON (sorted keys, no spaces), for result provenance.
    `dump`: `spec.model_dump(mode="json")` where the caller has made it already."""
    data = spec.model_dump(mode="json") if dump is None else dump
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def hardware_label(spec: HardwareSpec, digest: str | None = None) -> str:
    """The name a result shows: the spec's name, with "(modified)" and a short digest when it
    carries a bundled preset's name but differs from that preset (an edited copy). `digest`:
    `hardware_digest(spec)` where the caller has it."""
    if spec.name not in list_presets():
        return spec.name
    digest = digest or hardware_digest(spec)
    if digest == _preset_digest(*_read(spec.name, "presets", "hardware")):
        return spec.name
    return f"{spec.name} (modified, sha256 {digest[:12]})"


@functools.lru_cache(maxsize=64)
def _preset_digest(source: str, text: str, base_dir: Path | None) -> str:
    """hardware_digest of the description one file's text holds (a pure function of the text,
    read each time; parsed once per process: every result a sweep stores asks for its preset's)."""
    return hardware_digest(_load_text(source, text, base_dir))
