"""Seeded fuzzing of every input: each case is accepted, or refused with exit 2 and one line.

Truncated and byte-flipped traces, hostile header fields, hardware YAML, sweep configs,
command-line arguments and damaged sweep stores. A case fails the test if anything but an
`InputError` escapes (a traceback), or if the command line prints more than one error line.
Seeded (`SEED`) and sized to run in a few seconds; the case counts are constants below.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import struct
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwmodels.load import load_hardware
from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.report.sweep_report import read_store_rows
from rctsim.sweep import parse_sweep_config, plan_sweep
from rctsim.sweep.flags import overlay, parse_values
from rctsim.synth import synth_trace
from rctsim.trace import trace_from_bytes, trace_to_bytes, write_trace

SEED = 14
"""Seed of every random choice in this file."""
CASES = {"truncate": 200, "flip": 200, "flip_resealed": 200, "header": 150, "yaml": 60,
         "sweep": 60, "cli": 60, "store": 30}
"""Cases per fuzzer."""

HOSTILE = [None, True, -1, 0, 2**63, -(2**63) - 1, 10**30, 1e308, -1e308, float("nan"),
           float("inf"), 1.5, "", "[/]", "x" * 5000, "[bold]x[/bold]", [], {}, [[[[1]]]],
           {"a": {"b": {"c": 1}}}, "9" * 50, "-", "\u202e", "a\nb", "../../etc/passwd"]
"""Values written into fields: wrong types, extremes, markup, long and odd strings."""


def _value(rng: random.Random):
    return rng.choice(HOSTILE)


def _clean(fn) -> str | None:
    """Run `fn`; None if it succeeded, else the InputError's line (anything else fails)."""
    try:
        fn()
    except InputError as err:
        text = str(err)
        assert "\n" not in text and text, text
        return text
    return None


def _cli_clean(args: list[str], capsys) -> None:
    """`rctsim ARGS` exits 0, or 2 with exactly one `rctsim: error:` line, no traceback."""
    try:
        main(args)
        code = 0
    except SystemExit as done:
        code = done.code or 0
    _, err = capsys.readouterr()
    assert code in (0, 2), (args, code, err)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("rctsim: error: "), (args, err)
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def image() -> bytes:
    """A small, valid trace file image with a metric and two phases."""
    trace = synth_trace("mlp", batch_size=8, iterations=20, schedule="w=8,a=8,g=8")
    return trace_to_bytes(trace)


def _reseal(body: bytes) -> bytes:
    """`body` (a file without its trailer) with a matching sha256 trailer."""
    return body + hashlib.sha256(body).digest()


def test_truncated_traces(image):
    rng = random.Random(SEED)
    cuts = sorted({rng.randrange(len(image)) for _ in range(CASES["truncate"])})
    for cut in cuts:
        assert _clean(lambda c=cut: trace_from_bytes(image[:c], "t.trace")) is not None


def test_byte_flipped_traces(image):
    rng = random.Random(SEED + 1)
    for _ in range(CASES["flip"]):
        data = bytearray(image)
        at = rng.randrange(len(data))
        data[at] ^= rng.randrange(1, 256)
        assert _clean(lambda d=bytes(data): trace_from_bytes(d, "t.trace")) is not None


def test_byte_flipped_traces_with_a_valid_checksum(image):
    """Flips past the checksum: the parser itself meets the damage."""
    rng = random.Random(SEED + 2)
    for _ in range(CASES["flip_resealed"]):
        data = bytearray(image[:-32])
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        sealed = _reseal(bytes(data))
        _clean(lambda d=sealed: trace_from_bytes(d, "t.trace"))


def _edit_header(image: bytes, edit) -> bytes:
    _, major, minor, h_len, d_len = struct.unpack_from("<8sHHIQ", image)
    header = json.loads(image[24:24 + h_len])
    edit(header)
    text = json.dumps(header).encode()  # NaN and Infinity as JSON extensions, on purpose
    text += b" " * (-len(text) % 8)
    body = struct.pack("<8sHHIQ", b"RCTTRACE", major, minor, len(text), d_len) + text + \
        image[24 + h_len:-32]
    return _reseal(body)


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    yield path


def _set(obj, path, value) -> None:
    """Set the leaf at `path`; a no-op where an earlier edit replaced a container on the way."""
    for part in path[:-1]:
        if not isinstance(obj, dict | list):
            return
        obj = obj[part]
    if isinstance(obj, dict | list):
        obj[path[-1]] = value


def test_hostile_header_fields(image):
    rng = random.Random(SEED + 3)
    _, _, _, h_len, _ = struct.unpack_from("<8sHHIQ", image)
    paths = [p for p in _leaves(json.loads(image[24:24 + h_len])) if p]
    for _ in range(CASES["header"]):
        path, value = rng.choice(paths), _value(rng)
        data = _edit_header(image, lambda h, p=path, v=value: _set(h, p, v))
        _clean(lambda d=data: trace_from_bytes(d, "t.trace"))


def test_hostile_trace_files_through_the_command_line(image, tmp_path, capsys):
    rng = random.Random(SEED + 4)
    path = tmp_path / "f.trace"
    for i in range(20):
        data = bytearray(image)
        if i % 2:
            data = data[:rng.randrange(len(data))]
        else:
            data[rng.randrange(24, len(data) - 32)] ^= 0xFF
            data = bytearray(_reseal(bytes(data[:-32])))
        path.write_bytes(bytes(data))
        _cli_clean(["trace", "info", str(path)], capsys)
        _cli_clean(["run", "--trace", str(path), "--baseline", "none"], capsys)


def test_hostile_hardware_yaml(tmp_path, capsys):
    rng = random.Random(SEED + 5)
    base = load_hardware("edge_npu").model_dump(mode="json")
    paths = [p for p in _leaves(base) if p]
    path = tmp_path / "h.yaml"
    for i in range(CASES["yaml"]):
        data = json.loads(json.dumps(base))
        for _ in range(rng.randrange(1, 3)):
            _set(data, rng.choice(paths), _value(rng))
        text = yaml.safe_dump(data, allow_unicode=True)
        if i % 5 == 0:  # raw damage to the text as well
            at = rng.randrange(len(text))
            text = text[:at] + rng.choice([":", "- ", "{", "  ", "\t", "&a", "*a", "!!python"]) \
                + text[at:]
        path.write_text(text, encoding="utf-8")
        _cli_clean(["hw", "validate", str(path)], capsys)
        if i % 4 == 0:
            _cli_clean(["hw", "show", str(path)], capsys)


SWEEP_KEYS = {
    ("name",): None, ("seed",): None, ("hardware", "base"): None,
    ("hardware", "sample"): None, ("hardware", "axes", "sram_kb"): None,
    ("hardware", "axes", "array"): None, ("hardware", "axes", "clock_mhz"): None,
    ("hardware", "axes", "array.int_bits"): None, ("policies", "traces"): None,
    ("policies", "sample"): None, ("simulation", "baseline"): None,
    ("simulation", "workspace_fraction"): None, ("objectives",): None,
    ("area", "mm2_per_kb"): None,
}
"""Fields of a sweep config the fuzzer writes into."""


def _sweep_value(rng: random.Random):
    pick = rng.randrange(4)
    if pick == 0:
        return _value(rng)
    if pick == 1:
        return [_value(rng) for _ in range(rng.randrange(0, 3))]
    if pick == 2:
        return {k: _value(rng) for k in rng.sample(["start", "stop", "num", "step", "factor",
                                                    "scale", "integer"], rng.randrange(1, 4))}
    return rng.choice([[16, 32], "16x16", ["ws"], 0.5, 3, ["energy", "latency"]])


def test_hostile_sweep_configs(tmp_path):
    rng = random.Random(SEED + 6)
    write_trace(synth_trace("mlp", batch_size=8, iterations=4, schedule="w=8,a=8,g=8"),
                tmp_path / "rct.trace")
    for _ in range(CASES["sweep"]):
        data: dict = {"policies": {"traces": ["rct.trace"]},
                      "hardware": {"axes": {"sram_kb": [16, 32]}}}
        for path in rng.sample(list(SWEEP_KEYS), rng.randrange(1, 4)):
            node = data
            for part in path[:-1]:
                node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) \
                    else node
            if isinstance(node, dict):
                node[path[-1]] = _sweep_value(rng)

        def plan(d=data):
            config = parse_sweep_config("s.yaml", d)
            plan_sweep(config, source="s.yaml", base_dir=tmp_path)

        _clean(plan)


FLAG_VALUES = ["64,128", "{start: 16, stop: 512, factor: 2}", "1.0e+308", "-5", "0", "abc",
               "[/]", "{start: 1}", "[[[1]]]", "9" * 60, "", ",", "{a: 1, a: 2}", "16x16,8x8",
               "{start: 1, stop: 1.0e+17, step: 1}", "{start: -1, stop: 5, scale: log}"]
"""Values given to sweep axis flags."""


def test_hostile_sweep_flags(tmp_path):
    rng = random.Random(SEED + 7)
    flags = ["sram_kb", "array", "dataflow", "dram_gb_per_s", "precision_mode", "clock_mhz",
             "t_low", "array.rows"]
    for _ in range(CASES["cli"]):
        axes = {}

        def parse(axes=axes):
            for name in rng.sample(flags, rng.randrange(1, 3)):
                axes[name] = parse_values(f"--{name}", rng.choice(FLAG_VALUES))
            data = overlay("command line", {}, axes=axes, traces=["resnet"], hw=None,
                           model=None, sample=rng.choice([None, 0, 3, 10**9]), seed=None,
                           objectives=None, baseline=rng.choice([None, "qat", "xyz"]))
            plan_sweep(parse_sweep_config("command line", data), source="command line",
                       base_dir=tmp_path)

        _clean(parse)


CLI_CASES = [
    ["gemm", "{n}", "{n}", "{n}"], ["gemm", "64", "64", "64", "--bits", "{s}"],
    ["gemm", "64", "64", "64", "--array", "{s}"], ["gemm", "8", "8", "8", "--hw", "{s}"],
    ["trace", "info", "{s}"], ["hw", "show", "{s}"], ["hw", "validate", "{s}"],
    ["run", "--trace", "{s}", "--baseline", "none"], ["run", "--hw", "{s}"],
    ["run", "--baseline", "{s}"], ["report", "{s}", "-o", "{out}"],
    ["synth", "--model", "{s}", "--bits", "w=8,a=8,g=8", "--out", "{out}"],
    ["synth", "--model", "mlp", "--bits", "{s}", "--out", "{out}"],
]
"""Command-line shapes; `{n}` a number-like value, `{s}` any value, `{out}` an output path."""
CLI_VALUES = ["0", "-1", "1e308", "99999999999999999999", "nan", "abc", "[/]", "x" * 5000,
              "/dev/zero", "/dev/null", ".", "", "w=99", "a=8,b=8,acc=0", "fp32", "16x0",
              "resnet", "edge_npu", "1,2", "{a: 1}"]
"""Values substituted into the shapes."""


def test_hostile_command_lines(tmp_path, capsys):
    rng = random.Random(SEED + 8)
    for _ in range(CASES["cli"]):
        shape = rng.choice(CLI_CASES)
        args = [a.replace("{n}", rng.choice(CLI_VALUES[:5]))
                .replace("{s}", rng.choice(CLI_VALUES))
                .replace("{out}", str(tmp_path / "out.x")) for a in shape]
        _cli_clean(args, capsys)
        (tmp_path / "out.x").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def store_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("store")
    write_trace(synth_trace("mlp", batch_size=8, iterations=4, schedule="w=8,a=8,g=8"),
                folder / "rct.trace")
    db = folder / "s.db"
    try:
        main(["sweep", "--trace", str(folder / "rct.trace"), "--sram-kb", "16,32,64",
              "--store", str(db), "--workers", "1", "--quiet", "--show", "0"])
    except SystemExit as done:
        assert not done.code
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def _corrupt(db: Path, rng: random.Random) -> None:
    kind = rng.randrange(5)
    if kind == 0:
        data = db.read_bytes()
        db.write_bytes(data[:rng.randrange(len(data))])
    elif kind == 1:
        data = bytearray(db.read_bytes())
        at = rng.randrange(len(data))
        size = rng.randrange(1, 512)
        data[at:at + size] = bytes(np.random.default_rng(rng.randrange(2**32)).integers(
            0, 256, len(data[at:at + size]), dtype=np.uint8))
        db.write_bytes(bytes(data))
    else:
        column = rng.choice(["params", "policy_params", "options", "energy_pj", "status",
                             "key", "latency_s"])
        value = rng.choice(["{not json", "[" * 5000, "null", "1e999", "", "x" * 10000, None])
        with closing(sqlite3.connect(db)) as conn:
            if kind == 2:
                conn.execute(f"UPDATE points SET {column} = ?", (value,))
            elif kind == 3:
                conn.execute(f"ALTER TABLE points DROP COLUMN {column}") \
                    if column != "key" else conn.execute("DROP TABLE points")
            else:
                conn.execute("UPDATE meta SET value = ?", (str(value),))
            conn.commit()


def test_damaged_stores(store_file, tmp_path, capsys):
    rng = random.Random(SEED + 9)
    pristine = store_file.read_bytes()
    db = tmp_path / "d.db"
    for i in range(CASES["store"]):
        db.write_bytes(pristine)
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        try:
            _corrupt(db, rng)
        except sqlite3.DatabaseError:
            continue  # the damage already stops SQLite itself from editing it
        _clean(lambda: read_store_rows(db))
        if i % 3 == 0:
            _cli_clean(["report", str(db), "-o", str(tmp_path / "r.html")], capsys)
