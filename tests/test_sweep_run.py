"""Running sweeps: rows equal direct simulations, resume, the trace cache, the CLI outputs."""

from __future__ import annotations

import csv
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwmodels.load import load_hardware
from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.replay import SimOptions, simulate
from rctsim.sweep import (
    LocalExecutor,
    SweepStore,
    TraceCache,
    pareto_front,
    parse_sweep_config,
    plan_sweep,
    run_sweep,
    sweep_table,
)
from rctsim.sweep.cache import settings_digest
from rctsim.sweep.table import comparable
from rctsim.synth import synth_trace
from rctsim.trace import read_trace, write_trace
from rctsim.trace.model import PolicySpec, Series, Trace
from tests.helpers import hardware
from tests.test_sweep_pareto import brute_force

SCHEDULES = {"rct": "w=8,a=8,g=8", "apt": "w=6,a=6,g=6", "qat": "qat", "fp32": "fp32"}


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("traces")
    for name in ("rct", "qat", "fp32"):
        write_trace(synth_trace("mlp", batch_size=8, iterations=50, schedule=SCHEDULES[name]),
                    folder / f"{name}.trace")
    return folder


class FakeTrainer:
    """Stands in for the trainer: a shape-only trace per settings, with an eval_acc."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, settings: dict) -> Trace:
        self.calls.append(settings)
        policy = settings["policy"]
        base = synth_trace("mlp", batch_size=8, iterations=settings["max_iterations"],
                           schedule=SCHEDULES[policy])
        header = base.header.model_copy(update={"policy": PolicySpec(
            name=policy, params=settings["policy_params"])})
        acc = 0.5 + settings["policy_params"].get("t_low", 0.0)
        last = settings["max_iterations"] - 1
        return Trace.build(header=header, layers=base.layers, phase_start=base.phase_start,
                           phase_bits=base.phase_bits,
                           metrics={"eval_acc": Series(np.array([last]), np.array([acc]))})


def _run(data: dict, folder: Path, store: Path, *, trainer=None, cache: Path | None = None):
    plan = plan_sweep(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=folder)
    kwargs = {"trainer": trainer} if trainer is not None else {}
    with SweepStore(store) as db:
        outcome = run_sweep(plan, store=db, executor=LocalExecutor(1),
                            cache=TraceCache(cache or folder / "cache"), **kwargs)
        return plan, outcome, sweep_table(plan, outcome.points, db)


GRID = {"hardware": {"scale_leakage": False,
                     "axes": {"sram_kb": [16, 256], "dataflow": ["ws", "os"]}},
        "policies": {"traces": ["rct.trace", "qat.trace", "fp32.trace"]}}


def test_rows_equal_direct_simulations(traces, tmp_path):
    """Every row's metrics are what `simulate` gives on an independently built hardware."""
    plan, outcome, rows = _run(GRID, traces, tmp_path / "s.db")
    assert len(rows) == 12 == outcome.computed and outcome.resumed == 0
    for row in rows:
        spec = hardware(global_size=row["sram_kb"] * 1024, dataflow=row["dataflow"])
        trace = read_trace(traces / row["trace_name"])
        direct = simulate(spec, trace, baseline=None,
                          options=SimOptions(keep_timeline=False))
        summary = direct.policies[row["policy"]]
        assert row["status"] == "ok"
        assert row["energy_pj"] == summary.energy_pj["total"]
        assert row["gemm_energy_pj"] == summary.energy_pj["gemm"]
        assert row["latency_s"] == summary.seconds
        assert row["param_memory_bytes"] == summary.memory_bytes["param_total"]
        assert row["peak_memory_bytes"] == summary.memory_bytes["peak_total"]
        assert row["dram_traffic_bytes"] == summary.traffic_bytes["dram_total"]
        assert row["hw_sha256"] == direct.hardware["sha256"]
        assert row["trace_sha256"] == direct.trace["sha256"]
        assert row["sram_bytes"] == row["sram_kb"] * 1024
        assert row["saving_total_energy"] is None and row["accuracy"] is None
    assert [r["point"] for r in rows] == list(range(12))
    assert [(r["sram_kb"], r["dataflow"], r["policy"]) for r in rows[:4]] == [
        (16, "ws", "rct"), (16, "ws", "qat"), (16, "ws", "fp32"), (16, "os", "rct")]


def test_baseline_fills_the_savings(traces, tmp_path):
    """With `baseline: qat` the saving columns equal the run's own comparison."""
    data = {**GRID, "simulation": {"baseline": "qat"},
            "policies": {"traces": ["rct.trace"]}}
    _, _, rows = _run(data, traces, tmp_path / "s.db")
    row = rows[0]
    direct = simulate(hardware(global_size=16 * 1024, dataflow="ws"),
                      read_trace(traces / "rct.trace"), baseline="qat",
                      options=SimOptions(keep_timeline=False))
    assert row["saving_total_energy"] == direct.comparison["savings"]["total_energy"]
    assert row["saving_param_memory"] == direct.comparison["savings"]["param_memory"]


def test_a_mixed_precision_baseline_fills_the_savings(traces, tmp_path):
    """Any named baseline may fill the saving columns (here mixed-bf16)."""
    data = {**GRID, "simulation": {"baseline": "mixed-bf16"},
            "policies": {"traces": ["rct.trace"]}}
    _, _, rows = _run(data, traces, tmp_path / "s.db")
    direct = simulate(hardware(global_size=16 * 1024, dataflow="ws"),
                      read_trace(traces / "rct.trace"), baseline="mixed-bf16",
                      options=SimOptions(keep_timeline=False))
    savings = direct.comparison["savings"]
    assert rows[0]["saving_param_memory_with_optimizer"] == \
        savings["param_memory_with_optimizer"]
    assert rows[0]["saving_total_energy"] == savings["total_energy"]


def test_rerun_skips_finished_points_and_adds_new_ones(traces, tmp_path):
    """A rerun computes nothing; a wider grid computes only the points not stored."""
    _, first, rows = _run(GRID, traces, tmp_path / "s.db")
    _, again, rows_again = _run(GRID, traces, tmp_path / "s.db")
    assert (again.computed, again.resumed) == (0, 12)
    assert rows_again == rows
    wider = {**GRID, "hardware": {"scale_leakage": False,
                                  "axes": {"sram_kb": [16, 256, 1024],
                                           "dataflow": ["ws", "os"]}}}
    _, more, rows_more = _run(wider, traces, tmp_path / "s.db")
    assert (more.computed, more.resumed) == (6, 12)
    def strip(r):
        return {k: v for k, v in r.items() if k != "point"}

    old = {r["key"]: strip(r) for r in rows}
    kept = [strip(r) for r in rows_more if r["key"] in old]
    assert kept == [old[r["key"]] for r in kept] and len(kept) == 12


def test_a_point_the_model_rejects_is_stored_as_an_error(traces, tmp_path):
    """A buffer too small for any tile is an `error` row, never simulated again (its costs are
    written as overrides: 32 bytes is below any bank the CACTI table covers)."""
    base = load_hardware("edge_npu").model_dump(mode="json", exclude_none=True)
    base["memories"][0].update(read_energy_pj=1.0, write_energy_pj=1.0, leakage_mw=0.0,
                               area_mm2=0.0, banks=1)
    (traces / "tiny_ok.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    data = {"hardware": {"base": "tiny_ok.yaml", "axes": {"sram_bytes": [32, 65536]}},
            "policies": {"traces": ["rct.trace"]}}
    _, outcome, rows = _run(data, traces, tmp_path / "s.db")
    assert outcome.errors == 1
    bad, good = rows
    assert bad["status"] == "error" and "fits no mapping" in bad["error"]
    assert bad["energy_pj"] is None and good["status"] == "ok"
    _, again, _ = _run(data, traces, tmp_path / "s.db")
    assert again.computed == 0 and again.errors == 1


def test_trained_traces_are_cached_across_sweeps(traces, tmp_path):
    """Each distinct setting is trained once; a second sweep with another store reuses it."""
    trainer = FakeTrainer()
    data = {"hardware": {"axes": {"sram_kb": [64, 128]}},
            "policies": {"train": {"model": "mlp", "max_iterations": 20},
                         "axes": {"policy": ["rct", "qat"], "t_low": [0.01, 0.05]}},
            "objectives": ["energy", "accuracy"]}
    cache = tmp_path / "cache"
    plan, outcome, rows = _run(data, traces, tmp_path / "a.db", trainer=trainer, cache=cache)
    assert len(trainer.calls) == 3 == outcome.trained and len(rows) == 6
    assert {settings_digest(s) for s in trainer.calls} == {
        p.stem for p in cache.glob("*.trace")}
    assert sorted(r["accuracy"] for r in rows) == pytest.approx([0.5, 0.5, 0.51, 0.51, 0.55,
                                                                0.55])
    _, outcome2, rows2 = _run(data, traces, tmp_path / "b.db", trainer=trainer, cache=cache)
    assert len(trainer.calls) == 3 and outcome2.trained == 0
    assert comparable(rows2) == comparable(rows)


def test_real_trainer_point(traces, tmp_path):
    """The bundled trainer makes the trace; its final eval_acc is the accuracy column."""
    data = {"hardware": {"axes": {"sram_kb": [64]}},
            "policies": {"train": {"model": "mlp", "max_iterations": 4, "epochs": 1}},
            "objectives": ["energy", "accuracy"]}
    _, outcome, rows = _run(data, traces, tmp_path / "s.db", cache=tmp_path / "cache")
    (row,) = rows
    (path,) = (tmp_path / "cache").glob("*.trace")
    trace = read_trace(path)
    assert outcome.trained == 1 and row["status"] == "ok"
    assert row["accuracy"] == float(trace.metrics["eval_acc"].value[-1])
    assert row["iterations"] == 4 and row["policy"] == "rct"
    assert row["train_settings"]["policy_params"]["t_low"] == 0.02


def test_accuracy_objective_needs_traces_with_accuracy(traces, tmp_path):
    """A shape-only trace has no accuracy: one line before any simulation."""
    data = {**GRID, "objectives": ["accuracy"]}
    with pytest.raises(InputError, match="records no eval_acc"):
        _run(data, traces, tmp_path / "s.db")
    with closing(sqlite3.connect(tmp_path / "s.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 0


def test_cli_writes_tables_and_the_front(traces, tmp_path, capsys, monkeypatch):
    """CSV/JSON of all points and of the front; the front equals brute force on the table."""
    monkeypatch.chdir(tmp_path)  # the store's default folder
    cfg = tmp_path / "s.yaml"
    cfg.write_text(json.dumps({"name": "cli", **GRID, "policies": {"traces": [
        str(traces / f"{p}.trace") for p in ("rct", "qat", "fp32")]}}))
    out = {k: tmp_path / f"{k}.{ext}" for k, ext in (("all", "csv"), ("allj", "json"),
                                                        ("front", "csv"), ("frontj", "json"))}
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(cfg), "--workers", "1", "--quiet", "--objective", "energy",
              "--objective", "latency", "--csv", str(out["all"]), "--json", str(out["allj"]),
              "--pareto-csv", str(out["front"]), "--pareto-json", str(out["frontj"])])
    assert exc.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "sweep cli: 12 points (4 hardware x 3 policy points)" in printed
    assert "simulated now 12, already in the store 0, rejected by the model 0" in printed
    assert (tmp_path / "cli.db").is_file()  # NAME.db in the current directory
    rows = list(csv.DictReader(out["all"].open()))
    values = np.array([[float(r["energy_pj"]), float(r["latency_s"])] for r in rows])
    expected = [rows[i]["key"] for i in np.flatnonzero(brute_force(values, [False, False]))]
    front = list(csv.DictReader(out["front"].open()))
    assert [r["key"] for r in front] == expected and expected
    doc = json.loads(out["frontj"].read_text())
    assert doc["pareto_front"] and [r["key"] for r in doc["rows"]] == expected
    assert doc["objectives"][0] == {"name": "energy", "column": "energy_pj", "sense": "min"}
    assert len(json.loads(out["allj"].read_text())["rows"]) == 12


def test_pareto_front_helper_matches_table(traces, tmp_path):
    """`pareto_front` over table rows keeps the rows brute force keeps."""
    plan, _, rows = _run(GRID, traces, tmp_path / "s.db")
    front = pareto_front(rows, plan.objectives)
    values = np.array([[r[o.column] for o in plan.objectives] for r in rows], dtype=float)
    keep = brute_force(values, [o.maximise for o in plan.objectives])
    assert [r["key"] for r in front] == [r["key"] for r, k in zip(rows, keep, strict=True) if k]


def test_bad_trace_found_late_leaves_no_store(tmp_path, capsys):
    """A damaged trace is refused with one line, and the store this run created is removed."""
    from rctsim.cli import main

    bad = tmp_path / "bad.trace"
    bad.write_bytes(b"RCTTRACE" + bytes(40))
    store = tmp_path / "s.db"
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--trace", str(bad), "--sram-kb", "64", "--store", str(store),
              "--quiet"])
    assert exc.value.code == 2
    assert "bad.trace" in capsys.readouterr().err
    assert not list(tmp_path.glob("s.db*"))
