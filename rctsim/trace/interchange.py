"""Trace interchange: a trace as a CSV or JSON layer table with per-phase bits, and back.

`trace export TRACE --csv F | --json F` writes one; `trace import F.csv|F.json` reads one
(written by rctsim or by any other tool) back into a trace. A table without bits columns is a
bare layer table: the import then takes a schedule (`--bits`, `--qat`, `--fp32`,
`--schedule-from`) like an ONNX model. Formats: docs/workloads.md ("Trace interchange").
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from rctsim import __version__
from rctsim.atomic import write_atomic
from rctsim.errors import InputError
from rctsim.trace.model import (
    MAX_BITS,
    MIN_BITS,
    OPERANDS,
    LayerSignal,
    LayerSpec,
    PolicySpec,
    Series,
    Trace,
    TraceHeader,
)

TABLE_FORMAT = "rctsim-trace-table"
"""The `format` tag of an exported table (JSON key; first comment line of a CSV)."""

TABLE_VERSION = 1
"""Version of the table format this code writes and reads."""

PHASE_COLUMNS = ("phase_start", "phase_stop")
"""CSV columns giving the iterations `[start, stop)` a row's bits hold for."""

REQUIRED_LAYER_FIELDS = ("name", "kind", "m", "n", "k", "params")
"""Layer columns a hand-written table must have (the others have defaults)."""

LAYER_FIELDS = tuple(LayerSpec.model_fields)
"""Every layer field, in the order the layer table stores them (the CSV's layer columns)."""


@dataclass
class TableFile:
    """A layer table read from CSV or JSON, with whatever schedule and header it carried."""

    source: str
    layers: list[LayerSpec]
    header: dict[str, Any] = field(default_factory=dict)
    """Header fields the file gave (possibly partial)."""
    phase_start: np.ndarray | None = None
    """int64 [P] when the file has bits."""
    phase_bits: np.ndarray | None = None
    """uint8 [P, layers, 4] when the file has bits."""
    iterations: int | None = None
    """One past the last phase's last iteration, when the file has bits."""
    metrics: dict[str, Series] = field(default_factory=dict)
    signals: dict[str, LayerSignal] = field(default_factory=dict)

    @property
    def has_bits(self) -> bool:
        """Whether the file carries its own bitwidth schedule."""
        return self.phase_bits is not None


# ----------------------------------------------------------------------------- export
def trace_to_json(trace: Trace) -> dict[str, Any]:
    """The trace as a JSON-ready dict: header, layers, per-phase bits, metrics and signals."""
    phases = [{"start": p.start, "stop": p.stop, "bits": p.bits.astype(int).tolist()}
              for p in trace.phases()]
    return {
        "format": TABLE_FORMAT, "version": TABLE_VERSION,
        "header": _header_json(trace),
        "operands": list(OPERANDS),
        "layers": [layer.model_dump(mode="json") for layer in trace.layers],
        "phases": phases,
        "metrics": {k: {"iteration": s.iteration.tolist(), "value": _finite(s.value)}
                    for k, s in trace.metrics.items()},
        "signals": {k: {"iteration": s.iteration.tolist(), "layer": s.layer.tolist(),
                        "value": _finite(s.value)} for k, s in trace.signals.items()},
    }


def trace_to_csv(trace: Trace) -> str:
    """The trace as CSV: two comment lines (format, header JSON), then one row per phase and
    layer with the layer's fields and its `w, a, g, acc` bits. Metrics are not written."""
    out = io.StringIO()
    out.write(f"# {TABLE_FORMAT} {TABLE_VERSION}\n")
    out.write(f"# header {json.dumps(_header_json(trace), sort_keys=True)}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*PHASE_COLUMNS, *LAYER_FIELDS, *OPERANDS])
    rows = [[_cell(layer, f) for f in LAYER_FIELDS] for layer in trace.layers]
    for phase in trace.phases():
        for row, bits in zip(rows, phase.bits, strict=True):
            writer.writerow([phase.start, phase.stop, *row, *(int(b) for b in bits)])
    return out.getvalue()


def write_table(trace: Trace, path: str | Path, fmt: str) -> None:
    """Write `trace` to `path` as `csv` or `json` (atomically)."""
    text = (trace_to_csv(trace) if fmt == "csv"
            else json.dumps(trace_to_json(trace), indent=1, allow_nan=False) + "\n")
    write_atomic(path, text)


def _header_json(trace: Trace) -> dict[str, Any]:
    """The header without `format_version` (the binary file's version, not the table's)."""
    return trace.header.model_dump(mode="json", exclude={"format_version"})


def _cell(layer: LayerSpec, name: str) -> str:
    value = getattr(layer, name)
    if name == "preds":
        return ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    return json.dumps(layer.model_dump(mode="json")[name], separators=(",", ":"))


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


# ----------------------------------------------------------------------------- import
def read_table(path: str | Path) -> TableFile:
    """Read a CSV or JSON table (by the file's suffix); InputError naming what is wrong."""
    source = str(path)
    suffix = Path(path).suffix.lower()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(source, "file", "not found", "an existing .csv or .json file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(source, "file", f"unreadable ({type(err).__name__})",
                         "a UTF-8 text file") from None
    if suffix == ".json":
        return _read_json(source, text)
    if suffix == ".csv":
        return _read_csv(source, text)
    raise InputError(source, "file", f"unknown table suffix {suffix!r}", ".csv, .json")


def table_header(table: TableFile, *, defaults: dict[str, Any]) -> dict[str, Any]:
    """The file's header fields over `defaults` (model name, producer, batch size, ...)."""
    return {**defaults, **table.header}


def table_trace(table: TableFile, header: dict[str, Any]) -> Trace:
    """The trace of a table that carries its own bits, with `header` (complete)."""
    assert table.has_bits and table.iterations is not None
    try:
        built = TraceHeader(**{**header, "iterations": table.iterations})
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise InputError(table.source, f"header.{where}", problem["msg"],
                         "the fields of a trace header (docs/trace-format.md)") from None
    return Trace.build(header=built, layers=table.layers, phase_start=table.phase_start,
                       phase_bits=table.phase_bits, metrics=table.metrics,
                       signals=table.signals, source=table.source)


def _read_json(source: str, text: str) -> TableFile:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(source, f"line {err.lineno}", f"not JSON ({err.msg})",
                         "a JSON object") from None
    if not isinstance(obj, dict):
        raise InputError(source, "(top level)", f"a {type(obj).__name__}", "a JSON object")
    _check_format(source, obj.get("format", TABLE_FORMAT), obj.get("version", TABLE_VERSION))
    unknown = sorted(set(obj) - {"format", "version", "header", "operands", "layers", "phases",
                                 "metrics", "signals"})
    if unknown:
        raise InputError(source, unknown[0], "unknown key",
                         "format, version, header, operands, layers, phases, metrics, signals")
    if list(obj.get("operands", OPERANDS)) != list(OPERANDS):
        raise InputError(source, "operands", f"{obj['operands']}", f"{list(OPERANDS)}")
    rows = obj.get("layers")
    if not isinstance(rows, list) or not rows:
        raise InputError(source, "layers", "missing or empty", "a list of layer objects")
    layers = [_layer(source, f"layers[{i}]", row) for i, row in enumerate(rows)]
    header = _header_dict(source, obj.get("header", {}))
    table = TableFile(source, layers, header)
    if "phases" in obj:
        _json_phases(table, obj["phases"])
    table.metrics = {k: Series(np.asarray(v.get("iteration", []), np.int64),
                               _floats(v.get("value", [])))
                     for k, v in _mapping(source, "metrics", obj.get("metrics", {})).items()}
    table.signals = {k: LayerSignal(np.asarray(v.get("iteration", []), np.int64),
                                    np.asarray(v.get("layer", []), np.int64),
                                    _floats(v.get("value", [])))
                     for k, v in _mapping(source, "signals", obj.get("signals", {})).items()}
    return table


def _json_phases(table: TableFile, phases: Any) -> None:
    source, n = table.source, len(table.layers)
    if not isinstance(phases, list) or not phases:
        raise InputError(source, "phases", "empty or not a list",
                         "a list of {start, stop, bits} objects")
    starts, stops, bits = [], [], []
    for i, phase in enumerate(phases):
        where = f"phases[{i}]"
        if not isinstance(phase, dict) or set(phase) != {"start", "stop", "bits"}:
            raise InputError(source, where, "not a {start, stop, bits} object",
                             "start, stop, bits [layers x 4]")
        arr = np.asarray(phase["bits"], dtype=object)
        if arr.shape != (n, len(OPERANDS)) or not all(_is_int(v) for v in arr.flat):
            raise InputError(source, f"{where}.bits", f"shape {arr.shape} or non-integers",
                             f"{n} rows of {len(OPERANDS)} integer bits ({', '.join(OPERANDS)})")
        starts.append(_int(source, f"{where}.start", phase["start"]))
        stops.append(_int(source, f"{where}.stop", phase["stop"]))
        bits.append(arr.astype(np.int64))
    _set_phases(table, starts, stops, bits)


def _read_csv(source: str, text: str) -> TableFile:
    lines = text.splitlines()
    comments = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if line.strip() and not line.startswith("#")]
    header: dict[str, Any] = {}
    for line in comments:
        words = line[1:].strip().split(None, 1)
        if words and words[0] == TABLE_FORMAT:
            _check_format(source, TABLE_FORMAT, words[1] if len(words) > 1 else TABLE_VERSION)
        elif words and words[0] == "header":
            try:
                header = _header_dict(source, json.loads(words[1] if len(words) > 1 else "{}"))
            except json.JSONDecodeError as err:
                raise InputError(source, "# header", f"not JSON ({err.msg})",
                                 "# header {...} with a JSON object") from None
    if not body:
        raise InputError(source, "rows", "no header row and no layers", "a CSV layer table")
    rows = list(csv.DictReader(body))
    columns = list(csv.reader(body[:1]))[0]
    missing = [c for c in REQUIRED_LAYER_FIELDS if c not in columns]
    if missing:
        raise InputError(source, f"column {missing[0]}", "missing",
                         f"columns {', '.join(REQUIRED_LAYER_FIELDS)} (optional: "
                         f"{', '.join(f for f in LAYER_FIELDS if f not in REQUIRED_LAYER_FIELDS)}"
                         f"; with bits: {', '.join(PHASE_COLUMNS)}, {', '.join(OPERANDS)})")
    unknown = [c for c in columns if c not in (*LAYER_FIELDS, *PHASE_COLUMNS, *OPERANDS)]
    if unknown:
        raise InputError(source, f"column {unknown[0]}", "unknown column",
                         ", ".join((*PHASE_COLUMNS, *LAYER_FIELDS, *OPERANDS)))
    has_bits = any(c in columns for c in (*PHASE_COLUMNS, *OPERANDS))
    if has_bits and not all(c in columns for c in (*PHASE_COLUMNS, *OPERANDS)):
        absent = next(c for c in (*PHASE_COLUMNS, *OPERANDS) if c not in columns)
        raise InputError(source, f"column {absent}", "missing (the table has some bits columns)",
                         f"all of {', '.join((*PHASE_COLUMNS, *OPERANDS))}, or none")
    if not has_bits:
        layers = [_layer(source, f"row {i + 2}", _csv_layer(row)) for i, row in enumerate(rows)]
        return TableFile(source, layers, header)
    groups: dict[tuple[int, int], list[tuple[int, dict[str, str]]]] = {}
    for i, row in enumerate(rows):
        key = (_int(source, f"row {i + 2}.phase_start", row["phase_start"]),
               _int(source, f"row {i + 2}.phase_stop", row["phase_stop"]))
        groups.setdefault(key, []).append((i + 2, row))
    ordered = sorted(groups)
    first = groups[ordered[0]]
    layers = [_layer(source, f"row {line}", _csv_layer(row)) for line, row in first]
    names = [layer.name for layer in layers]
    starts, stops, bits = [], [], []
    for start, stop in ordered:
        group = groups[(start, stop)]
        if [row["name"] for _, row in group] != names:
            raise InputError(source, f"phase_start {start}", "its rows do not list the layers "
                             "of the first phase in the same order", "one row per layer, same "
                             "order, in every phase")
        for (line, row), layer in zip(group, layers, strict=True):
            if _layer(source, f"row {line}", _csv_layer(row)) != layer:
                raise InputError(source, f"row {line}", f"layer {layer.name!r} differs from its "
                                 "row in the first phase", "the same layer fields in every phase")
        starts.append(start)
        stops.append(stop)
        bits.append(np.array([[_int(source, f"row {line}.{op}", row[op]) for op in OPERANDS]
                              for line, row in group], dtype=np.int64))
    table = TableFile(source, layers, header)
    _set_phases(table, starts, stops, bits)
    return table


def _csv_layer(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in LAYER_FIELDS:
        text = (row.get(name) or "").strip()
        if name == "preds":
            out[name] = tuple(p.strip() for p in text.split(";") if p.strip())
        elif name == "has_weights":
            if text:
                out[name] = {"true": True, "false": False, "1": True, "0": False}.get(
                    text.lower(), text)
        elif name in ("name", "kind"):
            out[name] = text
        elif text and name in ("m", "n", "k", "params", "act_elems"):
            out[name] = text
        elif text:
            try:
                out[name] = json.loads(text)
            except json.JSONDecodeError:
                out[name] = text
    return out


def _layer(source: str, where: str, row: Any) -> LayerSpec:
    if not isinstance(row, dict):
        raise InputError(source, where, f"a {type(row).__name__}", "an object of layer fields")
    row = dict(row)
    if "params" in row and "has_weights" not in row:
        try:
            row["has_weights"] = int(row["params"]) > 0
        except (TypeError, ValueError):
            pass
    row.setdefault("act_elems", 0)
    try:
        return LayerSpec(**row)
    except ValidationError as err:
        problem = err.errors()[0]
        loc = ".".join(str(p) for p in problem["loc"])
        raise InputError(source, f"{where}.{loc}", f"{problem['msg']} (got "
                         f"{str(problem.get('input'))[:60]!r})",
                         "the layer fields of docs/trace-format.md") from None


def _set_phases(table: TableFile, starts: list[int], stops: list[int],
                bits: list[np.ndarray]) -> None:
    order = np.argsort(starts, kind="stable")
    starts = [starts[i] for i in order]
    stops = [stops[i] for i in order]
    for i in range(len(starts)):
        expected = 0 if i == 0 else stops[i - 1]
        if starts[i] != expected or stops[i] <= starts[i]:
            raise InputError(table.source, f"phase starting at {starts[i]}",
                             f"covers [{starts[i]}, {stops[i]}) after a phase ending at "
                             f"{expected}", "contiguous phases from iteration 0, stop > start")
    stacked = np.stack([bits[i] for i in order])
    bad = stacked[(stacked < MIN_BITS) | (stacked > MAX_BITS)]
    if bad.size:
        raise InputError(table.source, "bits", f"a bitwidth of {int(bad[0])}",
                         f"{MIN_BITS}..{MAX_BITS}")
    table.phase_start = np.array(starts, dtype=np.int64)
    table.phase_bits = stacked.astype(np.uint8)
    table.iterations = stops[-1]


def _header_dict(source: str, header: Any) -> dict[str, Any]:
    if not isinstance(header, dict):
        raise InputError(source, "header", f"a {type(header).__name__}", "an object")
    known = set(TraceHeader.model_fields) - {"format_version"}
    unknown = sorted(set(header) - known)
    if unknown:
        raise InputError(source, f"header.{unknown[0]}", "unknown field", ", ".join(sorted(known)))
    out = dict(header)
    if isinstance(out.get("policy"), dict):
        try:
            out["policy"] = PolicySpec(**out["policy"])
        except ValidationError as err:
            problem = err.errors()[0]
            raise InputError(source, "header.policy." + ".".join(map(str, problem["loc"])),
                             problem["msg"], "name fp32|qat|rct|apt, params {...}") from None
    return out


def _check_format(source: str, fmt: Any, version: Any) -> None:
    if fmt != TABLE_FORMAT:
        raise InputError(source, "format", f"{fmt!r}", TABLE_FORMAT)
    if str(version) != str(TABLE_VERSION):
        raise InputError(source, "version", f"{version!r}", str(TABLE_VERSION))


def _mapping(source: str, key: str, value: Any) -> dict[str, dict]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise InputError(source, key, "not an object of objects", "{name: {iteration, value}}")
    return value


def _floats(values: list) -> np.ndarray:
    return np.array([math.nan if v is None else v for v in values], dtype=np.float64)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(source: str, where: str, value: Any) -> int:
    if _is_int(value):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    raise InputError(source, where, f"{value!r} is not an integer", "an integer")


def default_header(*, model: str, batch_size: int | None, seed: int) -> dict[str, Any]:
    """Header fields an imported table gets when its file does not give them."""
    out: dict[str, Any] = {"producer": "rctsim.import", "producer_version": __version__,
                           "model": model, "dataset": "none", "seed": seed}
    if batch_size is not None:
        out["batch_size"] = batch_size
    return out
