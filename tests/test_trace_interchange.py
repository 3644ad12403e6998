"""Trace interchange: `trace export --csv/--json` and `trace import F.csv|F.json` round trips,
hand-written tables with and without bits, and bad tables refused in one line."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.trace.catalog import load_trace
from rctsim.trace.interchange import read_table, trace_to_csv, trace_to_json
from rctsim.trace.io import read_trace


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return done.value.code or 0, out, err


@pytest.mark.parametrize("name", ["resnet", "charlm"])
def test_json_round_trip_is_exact(tmp_path, capsys, name) -> None:
    """export --json then import gives back the same trace: header, layers, phases, metrics and
    per-layer signals."""
    original = load_trace(name)
    table, back = tmp_path / "t.json", tmp_path / "back.trace"
    assert run_cli(["trace", "export", name, "--json", str(table)], capsys)[0] == 0
    code, out, err = run_cli(["trace", "import", str(table), "--out", str(back)], capsys)
    assert code == 0, err
    assert read_trace(back) == original


def test_csv_round_trip_keeps_table_bits_and_header(tmp_path, capsys) -> None:
    """export --csv then import: same header, layers and phases (a CSV carries no metrics)."""
    original = load_trace("resnet")
    table, back = tmp_path / "t.csv", tmp_path / "back.trace"
    assert run_cli(["trace", "export", "resnet", "--csv", str(table)], capsys)[0] == 0
    assert run_cli(["trace", "import", str(table), "--out", str(back)], capsys)[0] == 0
    got = read_trace(back)
    assert got.header == original.header and got.layers == original.layers
    assert np.array_equal(got.phase_start, original.phase_start)
    assert np.array_equal(got.phase_bits, original.phase_bits)


def test_csv_rows_are_the_phases_times_layers(tmp_path) -> None:
    """One row per phase and layer, bits equal to the trace's bits at the phase start."""
    trace = load_trace("resnet")
    text = trace_to_csv(trace)
    rows = list(csv.DictReader(io.StringIO("\n".join(
        line for line in text.splitlines() if not line.startswith("#")))))
    assert len(rows) == len(trace.phase_start) * trace.n_layers
    for row in rows[:: max(1, len(rows) // 17)]:
        layer = trace.layer_index(row["name"])
        bits = trace.bits_at(int(row["phase_start"]))[layer]
        assert [int(row[op]) for op in ("w", "a", "g", "acc")] == bits.tolist()
        assert int(row["phase_stop"]) > int(row["phase_start"])
    doc = trace_to_json(trace)
    assert sum(p["stop"] - p["start"] for p in doc["phases"]) == trace.iterations


def test_hand_written_csv_without_bits_takes_a_schedule(tmp_path, capsys) -> None:
    """A bare layer table from another tool: required columns only, then --bits."""
    table = tmp_path / "mine.csv"
    table.write_text("name,kind,m,n,k,params,preds\n"
                     "conv,conv,1024,16,27,432,\n"
                     "fc,linear,4,10,4096,40970,conv\n")
    out = tmp_path / "mine.trace"
    code, stdout, err = run_cli(["trace", "import", str(table), "--bits", "w=6,a=8,g=8",
                                 "--batch-size", "4", "--iterations", "20", "--out", str(out)],
                                capsys)
    assert code == 0, err
    trace = read_trace(out)
    assert [la.name for la in trace.layers] == ["conv", "fc"]
    assert trace.layers[1].preds == ("conv",) and trace.layers[0].has_weights
    assert trace.header.model == "mine" and trace.iterations == 20
    assert trace.bits_at(19).tolist() == [[6, 8, 8, 32], [6, 8, 8, 32]]
    assert f"{1024 * 16 * 27 + 4 * 10 * 4096:,} forward MACs" in stdout
    assert f"{432 + 40970:,} params" in stdout


def test_hand_written_csv_with_bits_and_minimal_header(tmp_path, capsys) -> None:
    table = tmp_path / "run.csv"
    table.write_text('# header {"policy": {"name": "rct"}, "batch_size": 2}\n'
                     "phase_start,phase_stop,name,kind,m,n,k,params,w,a,g,acc\n"
                     "0,5,fc,linear,2,3,4,12,8,8,8,32\n"
                     "5,9,fc,linear,2,3,4,12,6,8,8,32\n")
    out = tmp_path / "run.trace"
    assert run_cli(["trace", "import", str(table), "--out", str(out)], capsys)[0] == 0
    trace = read_trace(out)
    assert trace.iterations == 9 and trace.phase_start.tolist() == [0, 5]
    assert trace.bits_at(4)[0, 0] == 8 and trace.bits_at(5)[0, 0] == 6
    assert trace.header.policy.name == "rct" and trace.header.producer == "rctsim.import"


@pytest.mark.parametrize(("text", "match"), [
    ("name,kind,m,n\nfc,linear,2,3\n", "column k: missing"),
    ("name,kind,m,n,k,params,speed\nfc,linear,2,3,4,12,9\n", "column speed: unknown column"),
    ("name,kind,m,n,k,params\nfc,linear,2,3,x,12\n", r"row 2\.k"),
    ('# header {"policy": {"name": "rct"}, "batch_size": 2}\n'
     "phase_start,phase_stop,name,kind,m,n,k,params,w,a,g,acc\n"
     "0,5,fc,linear,2,3,4,12,8,8,8,32\n6,9,fc,linear,2,3,4,12,6,8,8,32\n", "contiguous phases"),
    ('# header {"policy": {"name": "rct"}, "batch_size": 2}\n'
     "phase_start,phase_stop,name,kind,m,n,k,params,w,a,g,acc\n"
     "0,5,fc,linear,2,3,4,12,40,8,8,32\n", "a bitwidth of 40"),
])
def test_bad_tables_one_line(tmp_path, text, match) -> None:
    table = tmp_path / "bad.csv"
    table.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        read_table(table)
    assert "\n" not in str(err.value)


def test_table_with_bits_refuses_a_schedule_and_needs_a_policy(tmp_path, capsys) -> None:
    table = tmp_path / "t.csv"
    table.write_text("phase_start,phase_stop,name,kind,m,n,k,params,w,a,g,acc\n"
                     "0,5,fc,linear,2,3,4,12,8,8,8,32\n")
    out = tmp_path / "t.trace"
    code, _, err = run_cli(["trace", "import", str(table), "--out", str(out)], capsys)
    assert code == 2 and "header.policy: missing" in err and not out.exists()
    code, _, err = run_cli(["trace", "import", str(table), "--qat", "--out", str(out)], capsys)
    assert code == 2 and "its own bits" in err


def test_json_table_without_phases_and_errors(tmp_path, capsys) -> None:
    doc = {"layers": [{"name": "fc", "kind": "linear", "m": 2, "n": 3, "k": 4, "params": 12}]}
    table = tmp_path / "t.json"
    table.write_text(json.dumps(doc))
    out = tmp_path / "t.trace"
    code, _, err = run_cli(["trace", "import", str(table), "--fp32", "--batch-size", "2",
                            "--out", str(out)], capsys)
    assert code == 0, err
    assert read_trace(out).header.policy.name == "fp32"
    table.write_text(json.dumps({**doc, "extra": 1}))
    with pytest.raises(InputError, match="extra: unknown key"):
        read_table(table)
    code, _, err = run_cli(["trace", "export", "resnet"], capsys)
    assert code == 2 and "--csv FILE and/or --json FILE" in err
