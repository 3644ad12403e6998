"""The front table a sweep prints: a continuous axis to 4 significant digits (the CSV keeps
every digit), the trace once, `1 point` in the singular."""

from __future__ import annotations

import csv
import re

import pytest
import yaml

pytest.importorskip("optuna")

from rctsim.cli import main  # noqa: E402
from rctsim.synth import synth_trace  # noqa: E402
from rctsim.trace import write_trace  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("front_traces")
    for name, schedule in {"rct": "w=8,a=8,g=8", "qat": "qat"}.items():
        write_trace(synth_trace("mlp", batch_size=8, iterations=20, schedule=schedule),
                    folder / f"{name}.trace")
    return folder


def _sweep(folder, tmp_path, capsys, config: dict, *args: str) -> tuple[str, list[dict]]:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    front = tmp_path / "front.csv"
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(cfg), "--store", str(tmp_path / "s.db"), "--workers", "1",
              "--quiet", "--pareto-csv", str(front), "--trace-cache", str(folder / "cache"),
              *args])
    assert exc.value.code in (0, None)
    with front.open() as f:
        return capsys.readouterr().out, list(csv.DictReader(f))


def _table(text: str) -> tuple[list[str], list[list[str]]]:
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("┃"))
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines
            if line.startswith("│")]
    return [c.strip() for c in header.split("┃")[1:-1]], rows


def test_search_front_rounds_floats_and_shows_the_trace_once(folder, tmp_path, capsys):
    config = {"version": 2, "name": "front",
              "hardware": {"base": "edge_npu", "axes": {
                  "sram_kb": [16, 64], "dram_gb_per_s": {"start": 1.0, "stop": 20.0,
                                                         "log": True}}},
              "policies": {"traces": [str(folder / "rct.trace"), str(folder / "qat.trace")]},
              "objectives": ["energy", "latency"]}
    text, front = _sweep(folder, tmp_path, capsys, config, "--search", "random",
                         "--budget", "8", "--seed", "1")
    header, rows = _table(text)
    assert header.count("trace") == 1 and "trace_name" not in header
    assert len(rows) == len(front) >= 1
    n = len(front)
    assert f"Pareto front ({n} point{'' if n == 1 else 's'})" in text
    column = header.index("dram_gb_per_s")
    shown = {row[column] for row in rows}
    for point in front:
        full = point["dram_gb_per_s"]
        assert len(re.sub(r"\D", "", full)) > 4  # the CSV keeps full precision
        assert f"{float(full):.4g}" in shown and full not in text
    traces = {row[header.index("trace")] for row in rows}
    assert traces <= {p["trace_name"] for p in front}


def test_grid_front_heads_the_trace_column_trace(folder, tmp_path, capsys):
    config = {"version": 2, "name": "grid",
              "hardware": {"base": "edge_npu", "axes": {"sram_kb": [16, 64]}},
              "policies": {"traces": [str(folder / "rct.trace")]},
              "objectives": ["energy", "sram"]}
    text, front = _sweep(folder, tmp_path, capsys, config)
    header, rows = _table(text)
    assert header.count("trace") == 1 and "trace_name" not in header
    assert {row[header.index("trace")] for row in rows} == {p["trace_name"] for p in front}
    n = len(front)
    assert f"Pareto front ({n} point{'' if n == 1 else 's'})" in text


def test_a_front_over_several_models_says_so(folder, tmp_path, capsys):
    """Traces of two models in one sweep: the summary notes that one front compares them;
    one model's traces get no such note."""
    other = folder / "lstm.trace"
    if not other.exists():
        write_trace(synth_trace("lstm_lm", batch_size=2, iterations=5, schedule="w=8,a=8,g=8",
                                seq_len=4, vocab=50, hidden=8, layers=1), other)
    base = {"version": 2, "name": "models",
            "hardware": {"base": "edge_npu", "axes": {"sram_kb": [64]}},
            "objectives": ["energy", "latency"]}
    mixed = {**base, "policies": {"traces": [str(folder / "rct.trace"), str(other)]}}
    text, _ = _sweep(folder, tmp_path, capsys, mixed)
    assert "note: the traces are of 2 models (lstm_lm, mlp)" in " ".join(text.split())
    single = {**base, "name": "one", "policies": {"traces": [str(folder / "rct.trace"),
                                                             str(folder / "qat.trace")]}}
    (tmp_path / "one").mkdir()
    text, _ = _sweep(folder, tmp_path / "one", capsys, single)
    assert "models (" not in text


def test_front_headers_name_the_quantity_and_cells_carry_the_unit(folder, tmp_path, capsys):
    """`energy` heads cells in joules (not `energy_pj` over mJ values); the CSV keeps the store
    column and its picojoules."""
    config = {"version": 2, "name": "units",
              "hardware": {"base": "edge_npu", "axes": {"sram_kb": [16, 64]}},
              "policies": {"traces": [str(folder / "rct.trace")]},
              "objectives": ["energy", "latency", "sram"]}
    text, front = _sweep(folder, tmp_path, capsys, config)
    header, rows = _table(text)
    assert {"energy", "latency", "sram"} <= set(header)
    assert not {"energy_pj", "latency_s", "sram_bytes"} & set(header)
    best = min(front, key=lambda p: float(p["energy_pj"]))
    cell = rows[0][header.index("energy")]
    value, unit = cell.split()
    scale = {"J": 1.0, "mJ": 1e-3, "µJ": 1e-6, "nJ": 1e-9, "kJ": 1e3}[unit]
    assert float(value) * scale == pytest.approx(float(best["energy_pj"]) * 1e-12, rel=5e-3)
    assert rows[0][header.index("latency")].endswith("s")
    assert rows[0][header.index("sram")].endswith("B")
