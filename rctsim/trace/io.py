"""Trace file formats 1 and 2: a preamble, a JSON header, little-endian arrays and a sha256 trailer.

`docs/trace-format.md` specifies the bytes; this module is the reference reader and writer.
Format 2 adds each layer's non-GEMM work (`LayerSpec.nongemm`); a trace whose header says
format 1 is written in format 1 (byte for byte as before), so its digest does not change.
Bitwidths are stored as run-length segments per (layer, operand) and turned back into the global
phases of `Trace` on read. Every problem with a file is an `InputError` naming the file and the
field or byte offset.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rctsim.atomic import write_atomic
from rctsim.errors import InputError
from rctsim.fileread import MAX_TRACE_BYTES, read_bytes_limited
from rctsim.trace.model import (
    MAX_BITS,
    MIN_BITS,
    OPERANDS,
    READ_VERSIONS,
    LayerSignal,
    LayerSpec,
    Series,
    Trace,
    TraceHeader,
)

MAGIC = b"RCTTRACE"
"""First 8 bytes of every trace file."""
FORMAT_MINOR = 0
"""Minor version this code writes; it reads every minor version of the majors in
`READ_VERSIONS`."""
PREAMBLE = struct.Struct("<8sHHIQ")
"""magic, major, minor, header_length (u32), data_length (u64): 24 bytes."""
DIGEST_SIZE = 32
"""Bytes of the sha256 trailer."""
ALIGN = 8
"""Header length, data length and every array offset are multiples of this."""

SEGMENT_DTYPES = {"layer": "<u4", "operand": "<u1", "start": "<i8", "bits": "<u1"}
"""On-disk dtype of each bitwidth-segment column, in storage order."""
SERIES_DTYPES = {"iteration": "<i8", "value": "<f8"}
"""On-disk dtype of each metric column, in storage order."""
SIGNAL_DTYPES = {"iteration": "<i8", "layer": "<u4", "value": "<f8"}
"""On-disk dtype of each per-layer-signal column, in storage order."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ArrayRef(_Frozen):
    """Where one array lies in the data section."""

    dtype: str
    """numpy dtype string (little-endian), fixed per column by the format."""
    shape: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=1)]
    """`[length]`: every array is 1-D."""
    offset: Annotated[int, Field(ge=0)]
    """Byte offset from the start of the data section; a multiple of 8."""


class _SegmentRefs(_Frozen):
    """The four columns of the bitwidth segments."""

    layer: _ArrayRef
    """Layer index of each segment."""
    operand: _ArrayRef
    """Operand index (0 w, 1 a, 2 g, 3 acc)."""
    start: _ArrayRef
    """First iteration of the segment."""
    bits: _ArrayRef
    """Bits from `start` until the next segment of the same (layer, operand)."""


class _SeriesRefs(_Frozen):
    """The columns of one metric."""

    iteration: _ArrayRef
    """Iterations at which the metric was measured."""
    value: _ArrayRef
    """Measured values."""


class _SignalRefs(_Frozen):
    """The columns of one per-layer signal."""

    iteration: _ArrayRef
    """Iteration of each record."""
    layer: _ArrayRef
    """Layer index of each record."""
    value: _ArrayRef
    """Value of each record."""


class _Directory(_Frozen):
    """Every array of the file, by group."""

    segments: _SegmentRefs
    """Bitwidth segments."""
    metrics: dict[str, _SeriesRefs]
    """Metrics by name."""
    signals: dict[str, _SignalRefs]
    """Per-layer signals by name."""


class _LayerV1(LayerSpec):
    """A layer of a format-1 header: no `nongemm` key (the default, empty, applies)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nongemm(cls, data: Any) -> Any:
        if isinstance(data, dict) and "nongemm" in data:
            raise ValueError("a format-1 layer has no nongemm key")
        return data


class _HeaderV1(_Frozen):
    """The JSON header of a format-1 trace file (layers without non-GEMM work)."""

    trace: TraceHeader
    """The trace header."""
    layers: list[_LayerV1]
    """The layer table, in topological order."""
    arrays: _Directory
    """Directory of the binary arrays."""


class _Header(_Frozen):
    """The JSON header of a format-2 trace file."""

    trace: TraceHeader
    """The trace header."""
    layers: list[LayerSpec]
    """The layer table, in topological order."""
    arrays: _Directory
    """Directory of the binary arrays."""


# ---------------------------------------------------------------------------------------- write


def trace_to_bytes(trace: Trace) -> bytes:
    """Encode `trace` as a file image; the same trace always gives the same bytes."""
    trace = _revalidated(trace)
    version = trace.header.format_version
    directory, data = _pack_arrays(_disk_arrays(trace))
    exclude = {"nongemm"} if version < 2 else None
    header = {
        "arrays": directory,
        "layers": [layer.model_dump(mode="json", exclude=exclude) for layer in trace.layers],
        "trace": trace.header.model_dump(mode="json"),
    }
    try:
        text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=False)
    except ValueError as err:
        raise InputError("<trace>", "header", f"cannot be written as JSON: {err}",
                         "finite numbers in header fields") from None
    head = text.encode("ascii")
    head += b" " * (-len(head) % ALIGN)
    body = PREAMBLE.pack(MAGIC, version, FORMAT_MINOR, len(head), len(data)) + head + data
    return body + hashlib.sha256(body).digest()


def write_trace(trace: Trace, path: str | Path) -> None:
    """Write `trace` to `path` atomically: afterwards the file is complete or untouched."""
    write_atomic(Path(path), trace_to_bytes(trace))


def trace_digest(trace_or_path: Trace | str | Path) -> str:
    """sha256 hex digest of the file bytes: of the file a Trace was read from, else of the
    encoded trace."""
    if isinstance(trace_or_path, Trace):
        if trace_or_path.file_sha256 is not None:  # read from a file: that file's digest
            return trace_or_path.file_sha256
        return hashlib.sha256(trace_to_bytes(trace_or_path)).hexdigest()
    return hashlib.sha256(_read_file(Path(trace_or_path))).hexdigest()


def _revalidated(trace: Trace) -> Trace:
    if trace.header.format_version not in READ_VERSIONS:
        raise InputError("<trace>", "header.format_version", f"{trace.header.format_version}",
                         " or ".join(str(v) for v in READ_VERSIONS))
    return Trace.build(header=trace.header, layers=trace.layers, phase_start=trace.phase_start,
                       phase_bits=trace.phase_bits, metrics=trace.metrics,
                       signals=trace.signals, source="<trace>")


def _disk_arrays(trace: Trace) -> dict[str, Any]:
    """The arrays to store, grouped as in the directory, in on-disk dtypes and storage order."""
    n_phases, n_layers, n_ops = trace.phase_bits.shape
    columns = trace.phase_bits.reshape(n_phases, n_layers * n_ops).T
    change = np.ones(columns.shape, dtype=bool)
    change[:, 1:] = columns[:, 1:] != columns[:, :-1]
    key, phase = np.nonzero(change)  # row-major: sorted by (layer, operand), then start
    segments = {"layer": key // n_ops, "operand": key % n_ops,
                "start": trace.phase_start[phase], "bits": columns[key, phase]}
    return {
        "segments": _typed(segments, SEGMENT_DTYPES),
        "metrics": {name: _typed(vars(s), SERIES_DTYPES) for name, s in trace.metrics.items()},
        "signals": {name: _typed(vars(s), SIGNAL_DTYPES) for name, s in trace.signals.items()},
    }


def _typed(columns: dict[str, np.ndarray], dtypes: dict[str, str]) -> dict[str, np.ndarray]:
    return {col: np.ascontiguousarray(columns[col], dtype=dtype) for col, dtype in dtypes.items()}


def _pack_arrays(groups: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Lay the arrays out back to back (8-byte aligned); return the directory and the bytes."""
    chunks: list[bytes] = []
    end = [0]  # bytes placed so far

    def place(arr: np.ndarray, dtype: str) -> dict[str, Any]:
        raw = arr.tobytes()
        chunks.append(raw + b"\0" * (-len(raw) % ALIGN))
        ref = {"dtype": dtype, "offset": end[0], "shape": [len(arr)]}
        end[0] += len(chunks[-1])
        return ref

    def group(columns: dict[str, np.ndarray], dtypes: dict[str, str]) -> dict[str, Any]:
        return {col: place(columns[col], dtypes[col]) for col in dtypes}

    directory = {
        "segments": group(groups["segments"], SEGMENT_DTYPES),
        "metrics": {n: group(groups["metrics"][n], SERIES_DTYPES)
                    for n in sorted(groups["metrics"])},
        "signals": {n: group(groups["signals"][n], SIGNAL_DTYPES)
                    for n in sorted(groups["signals"])},
    }
    return directory, b"".join(chunks)


# ----------------------------------------------------------------------------------------- read


def read_trace(path: str | Path) -> Trace:
    """Read and fully validate the trace file at `path`."""
    path = Path(path)
    return trace_from_bytes(_read_file(path), source=str(path))


def trace_from_bytes(data: bytes, source: str = "<bytes>") -> Trace:
    """Decode and fully validate a file image; `source` names it in error messages."""
    data = data if isinstance(data, bytes) else bytes(data)
    header_length, data_length, major, minor, digest = _check_frame(data, source)
    header = _parse_header(data[PREAMBLE.size:PREAMBLE.size + header_length], major, minor,
                           source)
    base = PREAMBLE.size + header_length
    arrays = _read_arrays(data, base, data_length, header.arrays, source)
    phase_start, phase_bits = _phases_from_segments(arrays["segments"], header, source)
    # copies: a view would keep the whole file image alive as long as the trace
    metrics = {n: Series(**{c: v.copy() for c, v in cols.items()})
               for n, cols in arrays["metrics"].items()}
    signals = {n: LayerSignal(**{c: v.copy() for c, v in cols.items()})
               for n, cols in arrays["signals"].items()}
    del arrays, data  # the file image is no longer needed: free it before validating
    trace = Trace.build(header=header.trace, layers=header.layers, phase_start=phase_start,
                        phase_bits=phase_bits, metrics=metrics, signals=signals, source=source)
    return dataclasses.replace(trace, file_sha256=digest)


def _read_file(path: Path) -> bytes:
    return read_bytes_limited(path, limit=MAX_TRACE_BYTES, field="path",
                              allowed="an existing, readable trace file")


def _check_frame(data: bytes, source: str) -> tuple[int, int, int, int, str]:
    """Check magic, version, lengths and checksum; return (header_length, data_length, major,
    minor, sha256 hex of the whole file)."""
    if data[:len(MAGIC)] != MAGIC[:len(data)]:
        raise InputError(source, "magic (byte 0)", f"{data[:len(MAGIC)]!r} is not a trace file",
                         f"{MAGIC!r}")
    if len(data) < PREAMBLE.size:
        raise InputError(source, "preamble", f"truncated: file is {len(data)} bytes",
                         f"at least {PREAMBLE.size + DIGEST_SIZE} bytes")
    _, major, minor, header_length, data_length = PREAMBLE.unpack_from(data)
    if major not in READ_VERSIONS:
        majors = " or ".join(str(v) for v in READ_VERSIONS)
        raise InputError(source, "major version (byte 8)", f"format {major}.{minor}",
                         f"format {majors}; this rctsim reads only major versions {majors}")
    for field, offset, value in (("header_length", 12, header_length),
                                 ("data_length", 16, data_length)):
        if value % ALIGN:
            raise InputError(source, f"{field} (byte {offset})", f"{value}",
                             f"a multiple of {ALIGN}")
    _check_length(len(data), header_length, data_length, source)
    body_end = len(data) - DIGEST_SIZE
    view = memoryview(data)
    body = hashlib.sha256(view[:body_end])
    if body.digest() != data[body_end:]:
        raise InputError(source, f"checksum (byte {body_end})",
                         f"sha256 of bytes 0..{body_end} does not match: the file is corrupted",
                         "the sha256 of everything before the trailer")
    whole = body.copy()
    whole.update(view[body_end:])
    return header_length, data_length, major, minor, whole.hexdigest()


def _check_length(size: int, header_length: int, data_length: int, source: str) -> None:
    data_at = PREAMBLE.size + header_length
    trailer_at = data_at + data_length
    expected = trailer_at + DIGEST_SIZE
    if size > expected:
        raise InputError(source, f"length (byte {expected})",
                         f"{size - expected} unexpected bytes after the trailer",
                         f"exactly {expected} bytes as the preamble declares")
    if size < expected:
        part = ("header" if size < data_at else "data section" if size < trailer_at
                else "checksum trailer")
        raise InputError(source, f"length (byte {size})",
                         f"truncated inside the {part}: file is {size} bytes",
                         f"{expected} bytes as the preamble declares (header at "
                         f"{PREAMBLE.size}, data at {data_at}, trailer at {trailer_at})")


def _parse_header(raw: bytes, major: int, minor: int, source: str) -> _Header:
    """Parse and validate the JSON header; unknown keys pass only in a newer minor version."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(source, f"header (byte {PREAMBLE.size + err.start})",
                         "not valid UTF-8", "UTF-8 JSON") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        at = PREAMBLE.size + len(text[:err.pos].encode("utf-8"))
        raise InputError(source, f"header (byte {at})", f"invalid JSON: {err.msg}",
                         "one JSON object") from None
    except RecursionError:
        raise InputError(source, f"header (byte {PREAMBLE.size})", "JSON nested too deeply",
                         "the header object of the format (a few levels deep)") from None
    except ValueError as err:  # an integer of more than 4300 digits
        raise InputError(source, f"header (byte {PREAMBLE.size})", f"invalid JSON: {err}",
                         "numbers of ordinary size") from None
    if not isinstance(obj, dict):
        raise InputError(source, f"header (byte {PREAMBLE.size})",
                         f"a JSON {type(obj).__name__}", "one JSON object")
    for layer in obj.get("layers", []) if isinstance(obj.get("layers"), list) else []:
        if isinstance(layer, dict) and isinstance(layer.get("preds"), list):
            layer["preds"] = tuple(layer["preds"])
        if isinstance(layer, dict) and isinstance(layer.get("nongemm"), list):
            layer["nongemm"] = tuple(layer["nongemm"])
    newer = {"extra": "ignore"} if minor > FORMAT_MINOR else {}
    model = _HeaderV1 if major < 2 else _Header
    try:
        parsed = model.model_validate(obj, strict=True, **newer)
    except ValidationError as err:
        raise _field_error(err, obj, major, source) from None
    if parsed.trace.format_version != major:
        raise InputError(source, "header.trace.format_version",
                         f"{parsed.trace.format_version}", f"{major} (as the preamble)")
    if major < 2:
        layers = [LayerSpec.model_validate(la.model_dump()) for la in parsed.layers]
        return _Header(trace=parsed.trace, layers=layers, arrays=parsed.arrays)
    return parsed


def _field_error(err: ValidationError, obj: dict, major: int, source: str) -> InputError:
    """The first pydantic error as an InputError naming the header field."""
    first = err.errors()[0]
    loc = list(first["loc"])
    field = "header"
    for i, part in enumerate(loc):
        field += f"[{part}]" if isinstance(part, int) else f".{part}"
        if loc[:1] == ["layers"] and i == 1 and isinstance(obj["layers"][part], dict):
            name = obj["layers"][part].get("name")
            field += f" ({name})" if isinstance(name, str) and name else ""
    got = "missing" if first["type"] == "missing" else f"got {first.get('input')!r}"[:120]
    allowed = first["msg"].removeprefix("Input should be ")
    if first["type"] == "extra_forbidden":
        got, allowed = "unknown key", f"the keys of format {major}.{FORMAT_MINOR}"
    return InputError(source, field, got, allowed)


def _read_arrays(data: bytes, base: int, data_length: int, directory: _Directory,
                 source: str) -> dict[str, Any]:
    """Check every directory entry against the data section and view the arrays (no copies)."""
    spans: list[tuple[int, int, str]] = []

    def group(refs: BaseModel, dtypes: dict[str, str], where: str) -> dict[str, np.ndarray]:
        cols = {c: _view(data, base, data_length, getattr(refs, c), dtypes[c], f"{where}.{c}",
                         spans, source) for c in dtypes}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise InputError(source, f"header.arrays.{where}",
                             f"column lengths differ: { {c: len(v) for c, v in cols.items()} }",
                             "equal lengths")
        return cols

    arrays = {
        "segments": group(directory.segments, SEGMENT_DTYPES, "segments"),
        "metrics": {n: group(r, SERIES_DTYPES, f"metrics.{n}")
                    for n, r in directory.metrics.items()},
        "signals": {n: group(r, SIGNAL_DTYPES, f"signals.{n}")
                    for n, r in directory.signals.items()},
    }
    spans.sort()
    for (_, end, first), (start, _, second) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise InputError(source, f"header.arrays.{second}.offset",
                             f"overlaps header.arrays.{first}", "arrays that do not overlap")
    return arrays


def _view(data: bytes, base: int, data_length: int, ref: _ArrayRef, dtype: str, where: str,
          spans: list[tuple[int, int, str]], source: str) -> np.ndarray:
    if ref.dtype != dtype:
        raise InputError(source, f"header.arrays.{where}.dtype", f"{ref.dtype!r}", f"{dtype!r}")
    length = ref.shape[0]
    end = ref.offset + length * np.dtype(dtype).itemsize
    if ref.offset % ALIGN or end > data_length:
        raise InputError(source, f"header.arrays.{where}.offset",
                         f"bytes {ref.offset}..{end} of the data section (file bytes "
                         f"{base + ref.offset}..{base + end})",
                         f"8-aligned and inside the data section's {data_length} bytes")
    if length:
        spans.append((ref.offset, end, where))
    return np.frombuffer(data, dtype=dtype, count=length, offset=base + ref.offset)


CHUNK = 1 << 20
"""Segments handled at once when decoding phases: bounds the temporaries of a huge table."""


def _first_bad(n: int, test) -> np.ndarray:
    """Index (as a 0- or 1-element array) of the first segment where `test(lo, hi)` is true.

    `test` gets a chunk `[lo, hi)` and returns a boolean mask over it."""
    for lo in range(0, n, CHUNK):
        hit = np.flatnonzero(test(lo, min(n, lo + CHUNK)))
        if len(hit):
            return hit[:1] + lo
    return np.zeros(0, dtype=np.int64)


def _phases_from_segments(seg: dict[str, np.ndarray], header: _Header,
                          source: str) -> tuple[np.ndarray, np.ndarray]:
    """Turn run-length segments per (layer, operand) back into global phases.

    Works chunk by chunk so that a table of tens of millions of segments needs memory for the
    phase table and a chunk, not for several copies of the segments."""
    n_layers, n_ops = len(header.layers), len(OPERANDS)
    layer, op = seg["layer"], seg["operand"]
    start, bits = seg["start"], seg["bits"]
    n = len(start)
    iterations = header.trace.iterations

    def changed(lo: int, hi: int) -> np.ndarray:
        """Whether each segment of the chunk starts a new (layer, operand)."""
        out = np.ones(hi - lo, dtype=bool)
        a = max(lo, 1)
        out[a - lo:] = (layer[a:hi] != layer[a - 1:hi - 1]) | (op[a:hi] != op[a - 1:hi - 1])
        return out

    def unordered(lo: int, hi: int) -> np.ndarray:
        out = np.zeros(hi - lo, dtype=bool)
        a = max(lo, 1)
        la, lb, oa, ob = layer[a:hi], layer[a - 1:hi - 1], op[a:hi], op[a - 1:hi - 1]
        same = (la == lb) & (oa == ob)
        out[a - lo:] = (la < lb) | ((la == lb) & (oa < ob)) | (same & (start[a:hi]
                                                                        <= start[a - 1:hi - 1]))
        return out

    _check_segment(_first_bad(n, lambda lo, hi: (layer[lo:hi] >= n_layers) | (op[lo:hi] >= n_ops)),
                   seg, header, source, "layer/operand index out of range",
                   f"layer < {n_layers}, operand < {n_ops} ({', '.join(OPERANDS)})")
    _check_segment(_first_bad(n, unordered), seg, header, source, "out of order",
                   "sorted by layer, operand, then strictly increasing start")
    _check_segment(_first_bad(n, lambda lo, hi: changed(lo, hi) & (start[lo:hi] != 0)), seg,
                   header, source, "a (layer, operand) whose first segment does not start at 0",
                   "start 0")
    _check_segment(_first_bad(n, lambda lo, hi: start[lo:hi] >= iterations), seg, header,
                   source, "start past the last iteration", f"0..{iterations - 1}")
    _check_segment(_first_bad(n, lambda lo, hi: (bits[lo:hi] < MIN_BITS)
                              | (bits[lo:hi] > MAX_BITS)), seg, header, source,
                   "bits out of range", f"{MIN_BITS}..{MAX_BITS}")
    firsts = np.concatenate([np.flatnonzero(changed(lo, min(n, lo + CHUNK))) + lo
                             for lo in range(0, n, CHUNK)] or [np.zeros(0, dtype=np.int64)])
    if len(firsts) != n_layers * n_ops:
        present = set((layer[firsts].astype(np.int64) * n_ops + op[firsts]).tolist())
        missing = next(k for k in range(n_layers * n_ops) if k not in present)
        raise InputError(source, "arrays.segments",
                         f"no segment for layer {header.layers[missing // n_ops].name} "
                         f"operand {OPERANDS[missing % n_ops]}",
                         "segments for every layer and operand")
    rank = None  # phase index of every iteration, when the phases are dense
    if not n:
        phase_start = np.zeros(1, dtype=np.int64)
    elif iterations <= 8 * n:  # dense: mark the iterations (linear, no sort, no copy)
        marks = np.zeros(iterations, dtype=bool)
        for lo in range(0, n, CHUNK):
            marks[start[lo:lo + CHUNK]] = True
        phase_start = np.flatnonzero(marks)
        rank = np.cumsum(marks, dtype=np.int64) - 1
        del marks
    else:
        phase_start = np.unique(start)
    n_phases, n_keys = len(phase_start), n_layers * n_ops
    phase_bits = np.empty((n_phases, n_keys), dtype=np.uint8)
    bounds = np.append(firsts, n)
    group = 16  # (layer, operand) columns expanded at once, then written in (bounded memory)
    for k0 in range(0, n_keys, group):
        block = np.empty((min(group, n_keys - k0), n_phases), dtype=np.uint8)
        for k in range(k0, k0 + len(block)):  # keys are in order: group k is key k
            a, b = bounds[k], bounds[k + 1]
            where = (rank[start[a:b]] if rank is not None
                     else np.searchsorted(phase_start, start[a:b]))
            block[k - k0] = np.repeat(bits[a:b], np.diff(np.append(where, n_phases)))
        phase_bits[:, k0:k0 + len(block)] = block.T
    return phase_start, phase_bits.reshape(n_phases, n_layers, n_ops)


def _check_segment(bad: np.ndarray, seg: dict[str, np.ndarray], header: _Header, source: str,
                   problem: str, allowed: str) -> None:
    """Raise for the first segment index in `bad`, naming its layer, operand, start and bits."""
    if not len(bad):
        return
    i = int(bad[0])
    layer, op = int(seg["layer"][i]), int(seg["operand"][i])
    name = header.layers[layer].name if layer < len(header.layers) else f"#{layer}"
    operand = OPERANDS[op] if op < len(OPERANDS) else f"#{op}"
    raise InputError(source, f"arrays.segments[{i}]",
                     f"{problem} (layer {name}, operand {operand}, start "
                     f"{int(seg['start'][i])}, bits {int(seg['bits'][i])})", allowed)
