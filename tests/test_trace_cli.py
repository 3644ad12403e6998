"""`rctsim trace info|list`: the JSON schema's values against hand computation, human output,
and bad files giving exit status 2 with one line on stderr."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from rctsim.cli import main
from rctsim.synth import synth_trace
from rctsim.trace import catalog
from rctsim.trace.io import trace_to_bytes, write_trace
from rctsim.trace.model import (
    LayerSignal,
    LayerSpec,
    PolicySpec,
    Series,
    Trace,
    TraceHeader,
)


def make_trace(seed: int = 7) -> Trace:
    """Two layers; conv1.w is 8, 6, 8 bits over [0,10), [10,50), [50,100); fc.g 8 then 12."""
    layers = [
        LayerSpec(name="conv1", kind="conv", m=64, n=8, k=27, has_weights=True, params=216,
                  act_elems=1728),
        LayerSpec(name="fc", kind="linear", m=4, n=10, k=512, has_weights=True, params=5120,
                  act_elems=2048, preds=("conv1",)),
    ]
    bits = np.full((3, 2, 4), 8, dtype=np.uint8)
    bits[:, :, 3] = 32
    bits[1, 0, 0] = 6
    bits[2, 1, 2] = 12
    header = TraceHeader(producer="test", producer_version="0", model="tiny", dataset="none",
                         policy=PolicySpec(name="rct", params={"interval": 10}), batch_size=4,
                         seed=seed, iterations=100)
    return Trace.build(
        header=header, layers=layers, phase_start=np.array([0, 10, 50]), phase_bits=bits,
        metrics={"loss": Series(np.array([0, 10, 20, 30]), np.array([2.0, 1.5, 1.25, 1.4])),
                 "eval_acc": Series(np.array([49, 99]), np.array([0.62, 0.58]))},
        signals={"gavg": LayerSignal(np.array([0, 0, 10, 20]), np.array([0, 1, 0, 0]),
                                     np.array([0.1, 0.2, 0.3, np.nan]))},
    )


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run `rctsim ARGS` in-process; return (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return done.value.code or 0, out, err


@pytest.fixture
def trace_file(tmp_path):
    path = tmp_path / "tiny.trace"
    write_trace(make_trace(), path)
    return path


def test_info_json_values(trace_file, capsys) -> None:
    """Every summary value matches a hand computation from the trace's definition."""
    code, out, _ = run_cli(["trace", "info", str(trace_file), "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert next(iter(info)) == "schema_version" and info["schema_version"] == 2
    assert info["file"] == str(trace_file)
    assert info["sha256"] == hashlib.sha256(trace_file.read_bytes()).hexdigest()
    assert info["size_bytes"] == trace_file.stat().st_size
    assert info["header"]["model"] == "tiny" and info["header"]["seed"] == 7
    assert info["policy"] == {"name": "rct", "params": {"interval": 10}}
    assert (info["iterations"], info["n_layers"], info["n_phases"]) == (100, 2, 3)
    assert info["phases"] == [{"start": 0, "stop": 10}, {"start": 10, "stop": 50},
                              {"start": 50, "stop": 100}]
    conv, fc = info["layers"]
    assert {k: conv[k] for k in ("name", "kind", "m", "n", "k", "has_weights", "params",
                                 "act_elems", "preds", "macs")} == {
        "name": "conv1", "kind": "conv", "m": 64, "n": 8, "k": 27, "has_weights": True,
        "params": 216, "act_elems": 1728, "preds": [], "macs": 64 * 8 * 27}
    assert fc["preds"] == ["conv1"]
    assert conv["mean_bits"] == pytest.approx({"w": (10 * 8 + 40 * 6 + 50 * 8) / 100,
                                               "a": 8, "g": 8, "acc": 32})
    assert fc["mean_bits"]["g"] == pytest.approx((50 * 8 + 50 * 12) / 100)
    assert info["totals"] == {"params": 216 + 5120, "act_elems": 1728 + 2048,
                              "macs": 64 * 8 * 27 + 4 * 10 * 512}
    metrics = info["metrics"]
    assert metrics["loss"] == {"count": 4, "first": {"iteration": 0, "value": 2.0},
                               "last": {"iteration": 30, "value": 1.4},
                               "min": {"iteration": 20, "value": 1.25}}
    assert metrics["eval_acc"] == {"count": 2, "last": {"iteration": 99, "value": 0.58},
                                   "best": {"iteration": 49, "value": 0.62}}
    assert metrics["series"]["loss"]["mean"] == pytest.approx((2.0 + 1.5 + 1.25 + 1.4) / 4)
    assert metrics["signals"]["gavg"]["count"] == 4
    per_layer = metrics["signals"]["gavg"]["per_layer"]
    assert per_layer[0]["layer"] == "conv1" and per_layer[0]["count"] == 3
    assert per_layer[0]["mean"] == pytest.approx((0.1 + 0.3) / 2)  # the NaN record is skipped
    assert per_layer[1] == {"layer": "fc", "count": 1, "mean": 0.2}


def test_info_human_output(trace_file, capsys) -> None:
    """The rich tables show the header, each layer's mean bits and the metrics."""
    code, out, err = run_cli(["trace", "info", str(trace_file)], capsys)
    assert code == 0 and err == ""
    for text in ("tiny", "rct (interval=10)", "conv1", "7.20", "10.00", "32.00",
                 "first 2 @ 0", "min 1.25 @ 20", "best 0.62 @ 49", "gavg mean", "0.2"):
        assert text in out, text


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    folder = tmp_path / "bundled"
    folder.mkdir()
    monkeypatch.setattr(catalog, "bundled_trace_dir", lambda: folder)
    return folder


def test_list_and_info_by_name(bundled, capsys) -> None:
    """`trace list` shows the bundled traces; `trace info NAME` finds one by name."""
    code, out, _ = run_cli(["trace", "list", "--json"], capsys)
    assert (code, json.loads(out)) == (0, {"schema_version": 2, "traces": []})
    code, out, _ = run_cli(["trace", "list"], capsys)
    assert code == 0 and "no bundled traces" in out
    write_trace(make_trace(), bundled / "tiny_rct.trace")
    code, out, _ = run_cli(["trace", "list", "--json"], capsys)
    path = bundled / "tiny_rct.trace"
    assert json.loads(out)["traces"] == [{
        "name": "tiny_rct", "file": str(path), "model": "tiny", "dataset": "none",
        "policy": "rct", "iterations": 100, "n_layers": 2, "n_phases": 3,
        "size_bytes": path.stat().st_size}]
    code, out, _ = run_cli(["trace", "list"], capsys)
    assert "tiny_rct" in out and "rct" in out
    code, out, _ = run_cli(["trace", "info", "tiny_rct", "--json"], capsys)
    assert code == 0 and json.loads(out)["file"] == str(path)


def test_unknown_trace_lists_bundled_names(bundled, capsys) -> None:
    """A name that is neither a file nor bundled is exit 2, listing the bundled names."""
    write_trace(make_trace(), bundled / "tiny_rct.trace")
    code, out, err = run_cli(["trace", "info", "resnet"], capsys)
    assert code == 2 and out == ""
    assert err == ("rctsim: error: resnet: trace: no such file and no bundled trace of that "
                   "name (allowed: an existing trace file or a bundled name: tiny_rct)\n")
    code, out, err = run_cli(["trace", "info", "tiny_rtc"], capsys)
    assert code == 2 and "bundled trace of that name (did you mean 'tiny_rct'?)" in err


# ----------------------------------------------------------------------------------- bad files


def _repacked(data: bytes, edit_header=None, edit_section=None, major: int = 2) -> bytes:
    """Re-assemble `data` per the spec after editing its header JSON or data section."""
    _, _, _, hlen, dlen = struct.unpack_from("<8sHHIQ", data)
    header = json.loads(data[24:24 + hlen])
    section = bytearray(data[24 + hlen:24 + hlen + dlen])
    if edit_header:
        edit_header(header)
    if edit_section:
        edit_section(header["arrays"], section)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    body = struct.pack("<8sHHIQ", b"RCTTRACE", major, 0, len(text), len(section))
    body += text + bytes(section)
    return body + hashlib.sha256(body).digest()


def _set_first_bits(refs, section):
    section[refs["segments"]["bits"]["offset"]] = 33


def _flip_byte(data: bytes, at: int) -> bytes:
    bad = bytearray(data)
    bad[at] ^= 0xFF
    return bytes(bad)


GOOD = trace_to_bytes(make_trace())
HEADER_LENGTH = struct.unpack_from("<I", GOOD, 12)[0]
BAD_FILES = {
    "truncated in preamble": (GOOD[:13], "preamble: truncated"),
    "truncated in header": (GOOD[:100], "length (byte 100): truncated inside the header"),
    "truncated in arrays": (GOOD[:24 + HEADER_LENGTH + 20],
                            f"length (byte {24 + HEADER_LENGTH + 20}): truncated inside the data"),
    "truncated in trailer": (GOOD[:-5], "truncated inside the checksum trailer"),
    "empty": (b"", "preamble: truncated: file is 0 bytes"),
    "wrong magic": (b"GIF89a" + GOOD[6:], "magic (byte 0)"),
    "future major": (_repacked(GOOD, major=3),
                     "major version (byte 8): format 3.0 (allowed: format 1 or 2"),
    "negative dims": (_repacked(GOOD, lambda h: h["layers"][0].update(k=-9)),
                      "header.layers[0] (conv1).k: got -9"),
    "bits 33": (_repacked(GOOD, edit_section=_set_first_bits),
                "arrays.segments[0]: bits out of range (layer conv1, operand w, start 0, bits 33)"
                " (allowed: 1..32)"),
    "corrupted byte": (_flip_byte(GOOD, len(GOOD) - 60), f"checksum (byte {len(GOOD) - 32})"),
    "corrupted header": (_flip_byte(GOOD, 40), f"checksum (byte {len(GOOD) - 32})"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_exits_2_with_one_line(case: str, tmp_path, capsys) -> None:
    """Exit status 2, exactly one stderr line naming the file and the field or offset."""
    data, expected = BAD_FILES[case]
    path = tmp_path / "bad.trace"
    path.write_bytes(data)
    for args in (["trace", "info", str(path)], ["trace", "info", str(path), "--json"]):
        code, out, err = run_cli(args, capsys)
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"rctsim: error: {path}: ")
        assert expected in err, err


def test_bad_file_in_a_real_process(tmp_path) -> None:
    """The installed entry point behaves the same in a separate process."""
    path = tmp_path / "bad.trace"
    path.write_bytes(GOOD[:-1])
    done = subprocess.run([sys.executable, "-c", "from rctsim.cli import main; main()", "trace",
                           "info", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{path}: length (byte {len(GOOD) - 1}): truncated" in done.stderr


def test_info_without_metrics_says_so_in_one_line(tmp_path, capsys) -> None:
    """A trace that records no metrics (a synthesised one) gets one line, not an empty table."""
    path = tmp_path / "synth.trace"
    write_trace(synth_trace("mlp", batch_size=8, iterations=10, schedule="w=8,a=8,g=8"), path)
    code, out, _ = run_cli(["trace", "info", str(path)], capsys)
    assert code == 0 and "Metrics: none recorded" in out
    assert "Metrics (value @ iteration)" not in out


def test_bad_bits_names_the_option(tmp_path, capsys) -> None:
    """A schedule missing an operand names --bits and the operand, exit 2, no file."""
    out_file = tmp_path / "x.trace"
    code, out, err = run_cli(["trace", "synth", "--model", "mlp", "--bits", "w=8,a=8",
                              "--out", str(out_file)], capsys)
    assert code == 2 and not out_file.exists()
    assert err.startswith("rctsim: error: bits schedule (--bits): g: missing in 'w=8,a=8'")
