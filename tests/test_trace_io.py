"""Trace file formats 1 and 2: round trips, the byte layout against an independent parser, bad
files, atomic writes and the bundled-trace catalogue."""

from __future__ import annotations

import hashlib
import json
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rctsim import atomic
from rctsim.errors import InputError
from rctsim.trace import catalog
from rctsim.trace.io import (
    read_trace,
    trace_digest,
    trace_from_bytes,
    trace_to_bytes,
    write_trace,
)
from rctsim.trace.model import (
    LAYER_KINDS,
    NONGEMM_KINDS,
    OPERANDS,
    POLICIES,
    LayerSignal,
    LayerSpec,
    NonGemmWork,
    PolicySpec,
    Series,
    Trace,
    TraceHeader,
)

# ------------------------------------------------------------------ an independent spec parser


def parse_file(data: bytes) -> tuple[dict, dict, dict]:
    """Parse a file image following docs/trace-format.md only: (preamble, header, arrays)."""
    magic, major, minor, hlen, dlen = struct.unpack_from("<8sHHIQ", data, 0)
    preamble = {"magic": magic, "major": major, "minor": minor, "header_length": hlen,
                "data_length": dlen}
    header = json.loads(data[24:24 + hlen].decode("utf-8"))
    base = 24 + hlen

    def load(ref: dict) -> np.ndarray:
        return np.frombuffer(data, dtype=ref["dtype"], count=ref["shape"][0],
                             offset=base + ref["offset"])

    d = header["arrays"]
    out = {"segments": {c: load(r) for c, r in d["segments"].items()},
           "metrics": {n: {c: load(r) for c, r in g.items()} for n, g in d["metrics"].items()},
           "signals": {n: {c: load(r) for c, r in g.items()} for n, g in d["signals"].items()}}
    return preamble, header, out


def pack_file(header: dict, data_section: bytes, major: int = 2, minor: int = 0) -> bytes:
    """Assemble a file image from a header object and a data section, as the spec says."""
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    body = struct.pack("<8sHHIQ", b"RCTTRACE", major, minor, len(text), len(data_section))
    body += text + data_section
    return body + hashlib.sha256(body).digest()


def data_section(data: bytes) -> bytes:
    """The data section of a file image."""
    _, _, _, hlen, dlen = struct.unpack_from("<8sHHIQ", data, 0)
    return data[24 + hlen:24 + hlen + dlen]


def naive_segments(trace: Trace) -> list[tuple[int, int, int, int]]:
    """(layer, operand, start, bits) of every run of equal bits, by walking each iteration."""
    out = []
    for layer in range(trace.n_layers):
        for op in range(len(OPERANDS)):
            previous = None
            for it in range(trace.iterations):
                bits = int(trace.bits_at(it)[layer, op])
                if bits != previous:
                    out.append((layer, op, it, bits))
                previous = bits
    return out


# ----------------------------------------------------------------------------------- fixtures


def make_trace(iterations: int = 100, **header) -> Trace:
    """A small two-layer trace with three phases, a loss metric and a Gavg signal."""
    fields = dict(producer="test", producer_version="0", model="tiny", dataset="none",
                  policy=PolicySpec(name="rct", params={"interval": 10, "beta": 0.5}),
                  batch_size=4, seed=7, iterations=iterations)
    fields.update(header)
    layers = [
        LayerSpec(name="conv1", kind="conv", m=64, n=8, k=27, has_weights=True, params=216,
                  act_elems=1728, nongemm=(NonGemmWork(kind="relu", elems=512),
                                           NonGemmWork(kind="maxpool", elems=512, out_elems=128,
                                                       group=4))),
        LayerSpec(name="fc", kind="linear", m=4, n=10, k=512, has_weights=True, params=5120,
                  act_elems=2048, preds=("conv1",)),
    ]
    bits = np.full((3, 2, 4), 8, dtype=np.uint8)
    bits[:, :, 3] = 32
    bits[1, 0, 0] = 6
    bits[2, 1, 2] = 12
    return Trace.build(
        header=TraceHeader(**fields), layers=layers, phase_start=np.array([0, 10, 50]),
        phase_bits=bits,
        metrics={"loss": Series(np.array([0, 10, 20]), np.array([2.0, 1.5, 1.25]))},
        signals={"gavg": LayerSignal(np.array([0, 0, 10]), np.array([0, 1, 0]),
                                     np.array([0.1, 0.2, 0.3]))},
    )


@st.composite
def traces(draw) -> Trace:
    """Random valid traces: random layer tables, phases, metrics and signals."""
    n_layers = draw(st.integers(0, 5))
    names = draw(st.lists(st.text(min_size=1, max_size=6), min_size=n_layers,
                          max_size=n_layers, unique=True))
    layers = [draw(_layer(name, names[:i])) for i, name in enumerate(names)]
    iterations = draw(st.integers(1, 400))
    starts = sorted({0, *draw(st.lists(st.integers(0, iterations - 1), max_size=6))})
    bits = draw(arrays(np.uint8, (len(starts), n_layers, 4),
                       elements=st.integers(1, 32) | st.sampled_from([4, 8])))
    metrics = draw(st.dictionaries(st.text(max_size=5), _series(iterations), max_size=3))
    signals = (draw(st.dictionaries(st.text(max_size=5), _signal(iterations, n_layers),
                                    max_size=2)) if n_layers else {})
    scalars = (st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
               | st.text(max_size=200) | st.booleans())
    version = draw(st.sampled_from([1, 2]))
    if version == 1:
        layers = [layer.model_copy(update={"nongemm": ()}) for layer in layers]
    header = TraceHeader(
        format_version=version,
        producer=draw(st.text(min_size=1, max_size=64)),
        producer_version=draw(st.text(max_size=64)),
        model=draw(st.text(min_size=1, max_size=64)), dataset=draw(st.text(max_size=64)),
        policy=PolicySpec(name=draw(st.sampled_from(POLICIES)),
                          params=draw(st.dictionaries(st.text(max_size=64), scalars,
                                                      max_size=3))),
        batch_size=draw(st.integers(1, 4096)), seed=draw(st.integers(-(2**63), 2**64 - 1)),
        iterations=iterations, schedule_source=draw(st.none() | st.text(max_size=200)),
        notes=draw(st.dictionaries(st.text(max_size=64), st.text(max_size=200), max_size=2)),
    )
    return Trace.build(header=header, layers=layers, phase_start=np.array(starts),
                       phase_bits=bits, metrics=metrics, signals=signals)


@st.composite
def _layer(draw, name: str, earlier: list[str]) -> LayerSpec:
    kind = draw(st.sampled_from(LAYER_KINDS))
    gemm = kind not in ("embedding", "norm") or draw(st.booleans())
    m, n, k = (draw(st.integers(1, 10**6)) for _ in range(3)) if gemm else (0, 0, 0)
    has_weights = kind != "attention_matmul" and draw(st.booleans())
    preds = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)) if earlier else []
    work = st.builds(NonGemmWork, kind=st.sampled_from(NONGEMM_KINDS),
                     elems=st.integers(0, 10**12), out_elems=st.none() | st.integers(0, 10**12),
                     group=st.integers(1, 10**6))
    return LayerSpec(name=name, kind=kind, m=m, n=n, k=k, has_weights=has_weights,
                     params=draw(st.integers(1, 10**9)) if has_weights else 0,
                     act_elems=draw(st.integers(0, 10**9)), preds=tuple(preds),
                     nongemm=tuple(draw(st.lists(work, max_size=3))))


@st.composite
def _series(draw, iterations: int) -> Series:
    its = sorted(draw(st.sets(st.integers(0, iterations - 1), max_size=20)))
    values = draw(st.lists(st.floats(allow_nan=False), min_size=len(its), max_size=len(its)))
    return Series(iteration=np.array(its, dtype=np.int64), value=np.array(values))


@st.composite
def _signal(draw, iterations: int, n_layers: int) -> LayerSignal:
    records = sorted(draw(st.lists(st.tuples(st.integers(0, iterations - 1),
                                             st.integers(0, n_layers - 1),
                                             st.floats(allow_nan=False)), max_size=20)))
    cols = list(zip(*records, strict=True)) if records else [(), (), ()]
    return LayerSignal(iteration=np.array(cols[0], dtype=np.int64),
                       layer=np.array(cols[1], dtype=np.int64),
                       value=np.array(cols[2], dtype=np.float64))


# --------------------------------------------------------------------------------- round trips


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trace=traces())
def test_random_traces_round_trip_identically_and_deterministically(trace: Trace) -> None:
    """Every valid trace survives encode -> decode unchanged, and re-encodes to the same bytes."""
    data = trace_to_bytes(trace)
    back = trace_from_bytes(data)
    assert back == trace
    assert trace_to_bytes(back) == data
    assert trace_to_bytes(trace) == data


@settings(max_examples=40, deadline=None)
@given(trace=traces())
def test_stored_segments_are_the_runs_of_equal_bits(trace: Trace) -> None:
    """The file holds exactly one segment per run of equal bits per (layer, operand)."""
    _, _, arr = parse_file(trace_to_bytes(trace))
    seg = arr["segments"]
    stored = list(zip(seg["layer"].tolist(), seg["operand"].tolist(), seg["start"].tolist(),
                      seg["bits"].tolist(), strict=True))
    assert stored == naive_segments(trace)


def test_file_round_trip_and_digest(tmp_path) -> None:
    """write_trace/read_trace round-trip; the digest is the sha256 of the file bytes."""
    trace = make_trace()
    path = tmp_path / "t.trace"
    write_trace(trace, path)
    assert read_trace(path) == trace
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert trace_digest(path) == expected == trace_digest(trace)
    assert trace_digest(str(path)) == expected
    assert trace_digest(make_trace(seed=8)) != expected


def test_metric_values_are_stored_bit_exactly() -> None:
    """NaN, infinities and signed zeros in metrics come back bit for bit."""
    trace = make_trace()
    values = np.array([np.nan, -np.inf, -0.0, 5e-324])
    trace = Trace.build(header=trace.header, layers=trace.layers, phase_start=trace.phase_start,
                        phase_bits=trace.phase_bits,
                        metrics={"loss": Series(np.array([0, 1, 2, 3]), values)})
    back = trace_from_bytes(trace_to_bytes(trace))
    assert back.metrics["loss"].value.tobytes() == values.tobytes()


def test_layout_matches_the_spec() -> None:
    """Preamble, padding, alignment, sorted compact JSON and the sha256 trailer as documented."""
    trace = make_trace()
    data = trace_to_bytes(trace)
    pre, header, arr = parse_file(data)
    assert pre == {"magic": b"RCTTRACE", "major": 2, "minor": 0,
                   "header_length": pre["header_length"], "data_length": pre["data_length"]}
    assert pre["header_length"] % 8 == 0 and pre["data_length"] % 8 == 0
    assert len(data) == 24 + pre["header_length"] + pre["data_length"] + 32
    assert data[-32:] == hashlib.sha256(data[:-32]).digest()
    text = data[24:24 + pre["header_length"]].decode("ascii").rstrip(" ")
    assert text == json.dumps(header, sort_keys=True, separators=(",", ":"))
    assert header["trace"] == trace.header.model_dump(mode="json")
    assert [LayerSpec(**{**x, "preds": tuple(x["preds"]),
                         "nongemm": tuple(NonGemmWork(**w) for w in x["nongemm"])})
            for x in header["layers"]] == list(trace.layers)
    assert header["layers"][0]["nongemm"] == [
        {"kind": "relu", "elems": 512, "out_elems": None, "group": 1},
        {"kind": "maxpool", "elems": 512, "out_elems": 128, "group": 4}]
    refs = [header["arrays"]["segments"][c] for c in ("layer", "operand", "start", "bits")]
    refs += [header["arrays"]["metrics"]["loss"][c] for c in ("iteration", "value")]
    refs += [header["arrays"]["signals"]["gavg"][c] for c in ("iteration", "layer", "value")]
    offsets = [r["offset"] for r in refs]
    assert offsets == sorted(offsets) and all(o % 8 == 0 for o in offsets)
    # conv1.w changes 8 -> 6 -> 8, fc.g 8 -> 12; the other six columns are one run each
    assert len(arr["segments"]["start"]) == 8 + 3 + 2 - 2
    np.testing.assert_array_equal(arr["signals"]["gavg"]["value"], [0.1, 0.2, 0.3])


def test_equal_traces_give_equal_bytes_whatever_the_dict_order() -> None:
    """Metric order in memory does not change the file."""
    a = make_trace()
    extra = Series(np.array([5]), np.array([0.5]))
    one = Trace.build(header=a.header, layers=a.layers, phase_start=a.phase_start,
                      phase_bits=a.phase_bits, metrics={"loss": a.metrics["loss"], "acc": extra})
    two = Trace.build(header=a.header, layers=a.layers, phase_start=a.phase_start,
                      phase_bits=a.phase_bits, metrics={"acc": extra, "loss": a.metrics["loss"]})
    assert trace_to_bytes(one) == trace_to_bytes(two)


def test_newer_minor_version_may_add_keys_same_minor_may_not() -> None:
    """Unknown keys are ignored in a file of a newer minor version, refused otherwise."""
    data = trace_to_bytes(make_trace())
    _, header, _ = parse_file(data)
    header["future_block"] = {"x": 1}
    header["layers"][0]["future_field"] = 3
    header["arrays"]["future_arrays"] = {}
    newer = pack_file(header, data_section(data), minor=1)
    assert trace_from_bytes(newer) == make_trace()
    with pytest.raises(InputError, match=r"future_\w+: unknown key \(allowed: the keys of "):
        trace_from_bytes(pack_file(header, data_section(data), minor=0))


# ---------------------------------------------------------------------------------- bad files


def _error(data: bytes) -> str:
    with pytest.raises(InputError) as err:
        trace_from_bytes(data, source="bad.trace")
    message = str(err.value)
    assert message.startswith("bad.trace: ") and "\n" not in message
    return message


@pytest.mark.parametrize("cut", [0, 5, 20, 30, 200, -200, -40, -1])
def test_truncated_files_are_refused_with_the_offset(cut: int) -> None:
    """A file cut anywhere (preamble, header, arrays, trailer) is refused, naming where."""
    data = trace_to_bytes(make_trace())
    size = cut % len(data)
    message = _error(data[:size])
    if size >= 24:
        assert f"length (byte {size}): truncated inside the" in message
    else:
        assert "preamble: truncated" in message


def test_truncation_names_the_part_cut() -> None:
    """The message says whether the cut is in the header, the data or the trailer."""
    data = trace_to_bytes(make_trace())
    pre, _, _ = parse_file(data)
    data_at = 24 + pre["header_length"]
    assert "inside the header" in _error(data[:data_at - 1])
    assert "inside the data section" in _error(data[:data_at + 1])
    assert "inside the checksum trailer" in _error(data[:-1])
    assert "unexpected bytes after the trailer" in _error(data + b"\0")


def test_wrong_magic_and_future_major_version() -> None:
    """Not a trace, or a trace of a major version this code does not read."""
    data = trace_to_bytes(make_trace())
    assert "magic (byte 0)" in _error(b"PK\x03\x04" + data[4:])
    future = pack_file(parse_file(data)[1], data_section(data), major=3)
    message = _error(future)
    assert "major version (byte 8): format 3.0" in message
    assert "reads only major versions 1 or 2" in message


def test_corrupted_byte_fails_the_checksum() -> None:
    """Any flipped byte inside the header or data is caught by the sha256 trailer."""
    data = bytearray(trace_to_bytes(make_trace()))
    trailer_at = len(data) - 32
    for at in (30, trailer_at - 3):
        bad = bytearray(data)
        bad[at] ^= 0x10
        assert f"checksum (byte {trailer_at})" in _error(bytes(bad))


def _edited(edit_header=None, edit_arrays=None) -> bytes:
    """A valid file whose header or arrays were changed, with a correct checksum."""
    data = trace_to_bytes(make_trace())
    _, header, arr = parse_file(data)
    section = bytearray(data_section(data))
    if edit_header:
        edit_header(header)
    if edit_arrays:
        edit_arrays(header["arrays"], section)
    return pack_file(header, bytes(section))


def test_negative_dims_name_the_layer_field() -> None:
    """Header values go through the model's validation and name the field."""
    def negative(h):
        h["layers"][1]["m"] = -4
    message = _error(_edited(negative))
    assert "header.layers[1] (fc).m: got -4" in message and "greater than or equal to 0" in message


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda h: h["trace"].update(batch_size=0), "header.trace.batch_size: got 0"),
    (lambda h: h["trace"].update(iterations="100"), "header.trace.iterations: got '100'"),
    (lambda h: h["layers"][0].update(kind="lstm"), "header.layers[0] (conv1).kind"),
    (lambda h: h["layers"][1].update(preds=["nope"]), "layers[1] (fc).preds: unknown"),
    (lambda h: h["trace"].update(format_version=1), "header.trace.format_version"),
    (lambda h: h["layers"][0]["nongemm"][0].update(kind="swish"),
     "header.layers[0] (conv1).nongemm[0].kind"),
    (lambda h: h["layers"][0]["nongemm"][1].update(group=0),
     "header.layers[0] (conv1).nongemm[1].group: got 0"),
    (lambda h: h["trace"].pop("model"), "header.trace.model: missing"),
    (lambda h: h["trace"].update(iterations=30), "start past the last iteration"),
])
def test_bad_header_values_name_the_field(edit, expected) -> None:
    """Each bad header value is reported with its field."""
    assert expected in _error(_edited(edit))


def test_bits_outside_range_name_the_segment() -> None:
    """A stored bitwidth of 0 or 40 is refused, naming the segment, layer and operand."""
    for value in (0, 40):
        def set_bits(refs, section, value=value):
            section[refs["segments"]["bits"]["offset"]] = value
        message = _error(_edited(edit_arrays=set_bits))
        assert f"arrays.segments[0]: bits out of range (layer conv1, operand w, start 0, " \
               f"bits {value})" in message
        assert "(allowed: 1..32)" in message


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda a, s: a["segments"]["bits"].update(offset=1 << 20),
     "header.arrays.segments.bits.offset"),
    (lambda a, s: a["segments"]["bits"].update(offset=3), "header.arrays.segments.bits.offset"),
    (lambda a, s: a["metrics"]["loss"]["value"].update(dtype="<f4"),
     "header.arrays.metrics.loss.value.dtype: '<f4' (allowed: '<f8')"),
    (lambda a, s: a["metrics"]["loss"]["value"].update(shape=[2]),
     "header.arrays.metrics.loss: column lengths differ"),
    (lambda a, s: a["signals"]["gavg"]["value"].update(
        offset=a["signals"]["gavg"]["layer"]["offset"]), "overlaps"),
    (lambda a, s: a["segments"]["start"].update(shape=[3]), "column lengths differ"),
])
def test_bad_directory_entries_are_refused(edit, expected) -> None:
    """Offsets outside the data section, misaligned, wrong dtype, lengths, overlaps."""
    assert expected in _error(_edited(edit_arrays=edit))


def test_missing_and_unordered_segments_are_refused() -> None:
    """Every (layer, operand) needs segments from iteration 0, sorted."""
    def swap_first_two_starts(refs, section):
        at = refs["segments"]["start"]["offset"]
        section[at:at + 16] = struct.pack("<qq", 10, 0)
    assert "arrays.segments[1]: out of order (layer conv1, operand w, start 0" in _error(
        _edited(edit_arrays=swap_first_two_starts))

    def late_first_start(refs, section):
        at = refs["segments"]["start"]["offset"]
        section[at:at + 8] = struct.pack("<q", 5)
    assert "arrays.segments[0]: a (layer, operand) whose first segment" in _error(
        _edited(edit_arrays=late_first_start))

    def drop_last(refs, section):
        for col in refs["segments"].values():
            col["shape"] = [col["shape"][0] - 1]
    assert "no segment for layer fc operand acc" in _error(_edited(edit_arrays=drop_last))

    def bad_layer(refs, section):
        section[refs["segments"]["layer"]["offset"]] = 9
    assert "layer/operand index out of range (layer #9" in _error(
        _edited(edit_arrays=bad_layer))


def test_header_that_is_not_json_names_the_byte() -> None:
    """A syntax error in the header is reported at its file offset."""
    data = trace_to_bytes(make_trace())
    pre, _, _ = parse_file(data)
    head = b'{"trace": ,' + b" " * (pre["header_length"] - 11)
    body = data[:24] + head + data_section(data)
    message = _error(body + hashlib.sha256(body).digest())
    assert "header (byte 34): invalid JSON" in message  # the comma: 24 + 10


def test_missing_file(tmp_path) -> None:
    """A missing file is an InputError naming it."""
    with pytest.raises(InputError, match="no such file"):
        read_trace(tmp_path / "absent.trace")


# ------------------------------------------------------------------------------ atomic writes


def _invalid_trace() -> Trace:
    good = make_trace()
    bits = good.phase_bits.copy()
    bits[0, 0, 0] = 0
    return Trace(header=good.header, layers=good.layers, phase_start=good.phase_start,
                 phase_bits=bits)


def test_invalid_trace_is_not_written(tmp_path) -> None:
    """An invalid object raises before anything is created; an existing file stays intact."""
    path = tmp_path / "t.trace"
    with pytest.raises(InputError, match=r"<trace>: bits\[layer 0\].w"):
        write_trace(_invalid_trace(), path)
    assert list(tmp_path.iterdir()) == []
    write_trace(make_trace(), path)
    before = path.read_bytes()
    with pytest.raises(InputError):
        write_trace(_invalid_trace(), path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("fail_in", ["fsync", "replace"])
def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch, fail_in: str) -> None:
    """An error after the temporary file exists removes it and leaves the target as it was."""
    path = tmp_path / "t.trace"
    write_trace(make_trace(), path)
    before = path.read_bytes()
    seen = []

    def boom(*args, **kwargs):
        seen.extend(p.name for p in tmp_path.iterdir())
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, fail_in, boom)
    with pytest.raises(InputError, match="t.trace: path: cannot write: No space left"):
        write_trace(make_trace(iterations=200), path)
    monkeypatch.undo()
    assert any(name.endswith(".tmp") for name in seen)  # the temp file did exist
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.trace"]


def test_interrupt_mid_write_leaves_nothing(tmp_path, monkeypatch) -> None:
    """Even a KeyboardInterrupt during the write removes the temporary file."""
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(atomic.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_trace(make_trace(), tmp_path / "t.trace")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_write_into_missing_folder(tmp_path) -> None:
    """An unwritable target is an InputError naming it."""
    with pytest.raises(InputError, match="t.trace: path: the folder does not exist"):
        write_trace(make_trace(), tmp_path / "no" / "t.trace")


def test_written_file_respects_umask(tmp_path) -> None:
    """The file gets ordinary permissions (0o666 minus the umask), not a temp file's 0o600."""
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    path = tmp_path / "t.trace"
    write_trace(make_trace(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# --------------------------------------------------------------------------------- catalogue


def test_catalogue_resolves_paths_then_bundled_names(tmp_path, monkeypatch) -> None:
    """An existing path wins; else a bundled name; else an error listing the bundled names."""
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    monkeypatch.setattr(catalog, "bundled_trace_dir", lambda: bundled)
    assert catalog.list_bundled_traces() == []
    with pytest.raises(InputError, match=r"bundled name: \(none\)"):
        catalog.resolve_trace("tiny")
    write_trace(make_trace(), bundled / "tiny.trace")
    write_trace(make_trace(seed=3), bundled / "other.trace")
    (bundled / "notes.txt").write_text("not a trace")
    assert catalog.list_bundled_traces() == ["other", "tiny"]
    assert catalog.resolve_trace("tiny") == bundled / "tiny.trace"
    assert catalog.resolve_trace("tiny.trace") == bundled / "tiny.trace"
    assert catalog.load_trace("other") == make_trace(seed=3)
    local = tmp_path / "tiny"
    write_trace(make_trace(seed=5), local)
    monkeypatch.chdir(tmp_path)
    assert catalog.resolve_trace("tiny") == local.relative_to(tmp_path)
    with pytest.raises(InputError, match="bundled name: other, tiny"):
        catalog.resolve_trace("resnet")
    with pytest.raises(InputError, match="is not a file"):
        catalog.resolve_trace(bundled)


def test_catalogue_without_a_traces_folder(tmp_path, monkeypatch) -> None:
    """A missing bundled folder means no bundled traces, not an error."""
    monkeypatch.setattr(catalog, "bundled_trace_dir", lambda: tmp_path / "missing")
    assert catalog.list_bundled_traces() == []


def test_real_bundled_traces_load() -> None:
    """Whatever is bundled in workloads/traces reads and validates."""
    for name in catalog.list_bundled_traces():
        assert catalog.load_trace(name).iterations >= 1


# ----------------------------------------------------------------------------- format 1 files


def v1_image(trace: Trace) -> bytes:
    """A format-1 file image of `trace` built from the spec: no `nongemm` key, major 1."""
    data = trace_to_bytes(trace)
    _, header, _ = parse_file(data)
    for layer in header["layers"]:
        del layer["nongemm"]
    header["trace"]["format_version"] = 1
    return pack_file(header, data_section(data), major=1)


def test_format_1_files_load_without_non_gemm_work_and_say_so() -> None:
    """A format-1 file loads; its layers have no non-GEMM work and the trace says it is not
    recorded; written again it gives the same bytes (so its digest is unchanged)."""
    trace = make_trace()
    old = v1_image(trace)
    back = trace_from_bytes(old)
    assert back.header.format_version == 1 and not back.nongemm_recorded
    assert all(layer.nongemm == () for layer in back.layers)
    assert back.layers[1] == trace.layers[1] and back.layers[0].m == trace.layers[0].m
    assert trace_to_bytes(back) == old
    assert trace.nongemm_recorded


def test_format_1_file_with_non_gemm_keys_is_refused() -> None:
    """`nongemm` is a format-2 key: in a format-1 header it is refused, naming the layer."""
    trace = make_trace()
    _, header, _ = parse_file(trace_to_bytes(trace))
    header["trace"]["format_version"] = 1
    message = _error(pack_file(header, data_section(trace_to_bytes(trace)), major=1))
    assert "header.layers[0] (conv1)" in message and "nongemm" in message


def test_format_1_trace_cannot_hold_non_gemm_work() -> None:
    """Building a format-1 trace with non-GEMM work is refused."""
    trace = make_trace()
    with pytest.raises(InputError, match=r"layers\[0\] \(conv1\)\.nongemm"):
        Trace.build(header=trace.header.model_copy(update={"format_version": 1}),
                    layers=trace.layers, phase_start=trace.phase_start,
                    phase_bits=trace.phase_bits)
