"""Searching a sweep's space: determinism, resume, axis types, impossible points, the CLI."""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import yaml

pytest.importorskip("optuna")

from rctsim.cli import main  # noqa: E402
from rctsim.errors import InputError  # noqa: E402
from rctsim.sweep import (  # noqa: E402
    LocalExecutor,
    SweepStore,
    TraceCache,
    parse_sweep_config,
    plan_search,
    plan_sweep,
    run_search,
)
from rctsim.sweep.search_space import TRACE_AXIS  # noqa: E402
from rctsim.synth import synth_trace  # noqa: E402
from rctsim.trace import write_trace  # noqa: E402
from tests.test_sweep_run import FakeTrainer  # noqa: E402

SCHEDULES = {"rct": "w=8,a=8,g=8", "qat": "qat", "fp32": "fp32"}


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("search_traces")
    for name, schedule in SCHEDULES.items():
        write_trace(synth_trace("mlp", batch_size=8, iterations=20, schedule=schedule),
                    folder / f"{name}.trace")
    return folder


SPACE = {
    "version": 2,
    "hardware": {"axes": {
        "sram_kb": [16, 32, 64, 128],
        "sram_banked": [False, True],
        "sram_bank_kb": {"values": [4, 8], "when": {"sram_banked": True}},
        "dataflow": ["ws", "os", "is"],
        "dram_gb_per_s": {"start": 1.0, "stop": 20.0, "log": True},
        "clock_mhz": {"start": 100, "stop": 1000, "integer": True, "log": True},
    }},
    "policies": {"traces": ["rct.trace", "qat.trace", "fp32.trace"]},
    "objectives": ["energy", "latency", "sram"],
}


def _search(data: dict, folder: Path, store: Path, *, budget: int, method: str = "nsga2",
            seed: int = 0, batch: int = 4, trainer=None, cache: Path | None = None):
    plan = plan_search(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=folder)
    kwargs = {"trainer": trainer} if trainer is not None else {}
    with SweepStore(store) as db:
        outcome = run_search(plan, store=db, executor=LocalExecutor(1),
                             cache=TraceCache(cache or folder / "cache"), budget=budget,
                             method=method, seed=seed, batch=batch, **kwargs)
    return plan, outcome


def _params(outcome) -> list[dict]:
    return [e.params for e in outcome.evaluations]


@pytest.mark.parametrize("method", ["nsga2", "tpe", "random"])
def test_same_seed_same_store_same_points(traces, tmp_path, method):
    """Two fresh stores, one seed: the same points in the same order; a rerun on the store
    replays them without simulating anything; another seed gives other points."""
    _, first = _search(SPACE, traces, tmp_path / "a.db", budget=12, method=method)
    _, second = _search(SPACE, traces, tmp_path / "b.db", budget=12, method=method)
    assert len(first.evaluations) == 12 == first.simulated
    assert _params(first) == _params(second)
    _, again = _search(SPACE, traces, tmp_path / "a.db", budget=12, method=method)
    assert _params(again) == _params(first) and again.simulated == 0
    _, longer = _search(SPACE, traces, tmp_path / "a.db", budget=16, method=method)
    assert _params(longer)[:12] == _params(first) and longer.simulated == 4
    _, other = _search(SPACE, traces, tmp_path / "c.db", budget=12, method=method, seed=1)
    assert _params(other) != _params(first)


def test_conditional_and_log_axes_give_valid_points_only(traces, tmp_path):
    """A bank size only where banking is on; continuous values inside their range, integers
    where asked, drawn on a log scale; the stored hardware matches the values."""
    plan, outcome = _search(SPACE, traces, tmp_path / "s.db", budget=24, method="random")
    dists = plan.space.distributions()
    assert dists["dram_gb_per_s"].log and dists["clock_mhz"].log
    assert (dists["clock_mhz"].low, dists["clock_mhz"].high) == (100, 1000)
    with SweepStore(tmp_path / "s.db") as db:
        rows = db.rows(e.key for e in outcome.evaluations)
    banked = 0
    for e in outcome.evaluations:
        p = e.params
        assert ("sram_bank_kb" in p) == p["sram_banked"]
        assert 1.0 <= p["dram_gb_per_s"] <= 20.0 and isinstance(p["dram_gb_per_s"], float)
        assert 100 <= p["clock_mhz"] <= 1000 and isinstance(p["clock_mhz"], int)
        assert p[TRACE_AXIS] in ("rct.trace", "qat.trace", "fp32.trace")
        row = rows[e.key]
        assert row["sram_bytes"] == p["sram_kb"] * 1024
        assert row["clock_hz"] == p["clock_mhz"] * 1e6
        assert row["dram_bytes_per_s"] == pytest.approx(p["dram_gb_per_s"] * 1e9)
        banked += p["sram_banked"]
    assert 0 < banked < 24


def test_grid_expands_conditional_axes(traces):
    """A grid gives a bank size only where banking is on: 4 sizes x (1 + 2) x 3 = 36."""
    data = {"version": 2, "hardware": {"axes": {
        "sram_kb": [16, 32, 64, 128], "sram_banked": [False, True],
        "sram_bank_kb": {"values": [4, 8], "when": {"sram_banked": True}},
        "dataflow": ["ws", "os", "is"]}}, "policies": {"traces": ["rct.trace"]}}
    plan = plan_sweep(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=traces)
    params = [h.params for h in plan.hardware]
    assert len(params) == 36
    assert sum(1 for p in params if not p["sram_banked"]) == 12
    assert all(("sram_bank_kb" in p) == p["sram_banked"] for p in params)
    banks = {(h.params["sram_kb"], h.params.get("sram_bank_kb")): h.spec.global_buffer.banks
             for h in plan.hardware}
    assert banks[(64, None)] == 1 and banks[(64, 8)] == 8 and banks[(16, 4)] == 4
    search = plan_search(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=traces)
    assert search.space.size == 36 and len(search.space.enumerate()) == 36


@pytest.mark.parametrize(("when", "problem"), [
    ({"clock_mhz": 100}, "is not an unconditional axis"),
    ({"sram_kb": 48}, "is not a value of sram_kb"),
    ({}, "a mapping"),
])
def test_bad_conditions_are_one_line(traces, when, problem):
    data = {"hardware": {"axes": {"sram_kb": [16, 32],
                                  "sram_bank_kb": {"values": [4], "when": when},
                                  "dataflow": ["ws"]}},
            "policies": {"traces": ["rct.trace"]}}
    with pytest.raises(InputError, match=problem):
        plan_sweep(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=traces)
    with pytest.raises(InputError, match=problem):
        plan_search(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=traces)


def test_impossible_points_are_recorded_with_their_reason(traces, tmp_path):
    """A bank size that does not divide the buffer: stored in search_evals as infeasible with
    the reason, no points row, told to the sampler as a violated constraint."""
    data = {"hardware": {"axes": {"sram_kb": [24, 32, 40], "sram_bank_kb": [16, 8],
                                  "dataflow": ["ws", "os"]}},
            "policies": {"traces": ["rct.trace"]}, "objectives": ["energy", "latency"]}
    _, outcome = _search(data, traces, tmp_path / "s.db", budget=12, method="random")
    bad = [e for e in outcome.evaluations if e.status == "infeasible"]
    expected = {(kb, bank) for kb in (24, 32, 40) for bank in (16, 8) if (kb * 1024) % (bank
                                                                                         * 1024)}
    assert {(e.params["sram_kb"], e.params["sram_bank_kb"]) for e in bad} == expected
    assert len(outcome.evaluations) == 12 and len(bad) == 2 * len(expected) == 4
    for e in bad:
        assert e.key is None and "sram_bank_kb" in e.reason and "does not divide" in e.reason
    with closing(sqlite3.connect(tmp_path / "s.db")) as conn:
        stored = conn.execute("SELECT status, reason, key FROM search_evals WHERE status = "
                              "'infeasible'").fetchall()
        assert len(stored) == len(bad) and all(r[1] and r[2] is None for r in stored)
        assert conn.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 12 - len(bad)


def test_trained_policy_axes_use_the_trace_cache(traces, tmp_path):
    """A search over t_low trains each distinct setting once; a second search with another
    seed finds the traces in the cache."""
    data = {"hardware": {"axes": {"sram_kb": [16, 64]}},
            "policies": {"train": {"model": "mlp", "max_iterations": 6, "epochs": 1},
                         "axes": {"t_low": [0.01, 0.02, 0.03]}},
            "objectives": ["energy", "accuracy:max"]}
    trainer = FakeTrainer()
    _, first = _search(data, traces, tmp_path / "s.db", budget=6, method="random",
                       trainer=trainer, cache=tmp_path / "cache")
    assert len(first.evaluations) == 6 and first.trained == len(trainer.calls) == 3
    _, second = _search(data, traces, tmp_path / "t.db", budget=6, method="nsga2",
                        trainer=trainer, cache=tmp_path / "cache")
    assert second.trained == 0 and len(trainer.calls) == 3


def test_search_cli_outputs_and_report(traces, tmp_path, capsys):
    """`rctsim sweep CFG --search random --budget 6` stores 6 evaluations, writes the table
    and a report with the hypervolume and importance figures."""
    from rctsim.report.page import page_manifest
    from rctsim.report.sweep_report import SEARCH_FIGURES, SWEEP_FIGURES

    cfg = traces / "search.yaml"
    cfg.write_text(yaml.safe_dump(SPACE, sort_keys=False))
    db, out_csv = tmp_path / "s.db", tmp_path / "s.csv"
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(cfg), "--search", "random", "--budget", "6", "--store", str(db),
              "--workers", "1", "--quiet", "--csv", str(out_csv), "--seed", "3"])
    assert exc.value.code in (0, None)
    text = capsys.readouterr().out
    assert "6 of 6 evaluations" in text and "simulated now 6" in text
    assert len(out_csv.read_text().splitlines()) == 7
    html = tmp_path / "r.html"
    with pytest.raises(SystemExit) as exc:
        main(["report", str(db), "-o", str(html)])
    assert exc.value.code in (0, None)
    assert page_manifest(html.read_text())["figures"] == [*SWEEP_FIGURES, *SEARCH_FIGURES]


@pytest.mark.parametrize("args", [["--search", "nsga2"], ["--budget", "3"],
                                  ["--search", "annealing", "--budget", "3"]])
def test_search_cli_bad_options_are_one_line(traces, tmp_path, capsys, args):
    cfg = traces / "search_bad.yaml"
    cfg.write_text(yaml.safe_dump(SPACE, sort_keys=False))
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(cfg), "--store", str(tmp_path / "s.db"), "--quiet", *args])
    assert exc.value.code == 2
    assert not (tmp_path / "s.db").exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_old_config_loads_with_version_one():
    assert parse_sweep_config("s.yaml", {"name": "x"}).version == 1
    with pytest.raises(InputError, match="version"):
        parse_sweep_config("s.yaml", {"version": 3})


def test_search_json_rows_name_method_and_seed(traces, tmp_path):
    """The Python API returns rows in evaluation order with the method and seed."""
    import rctsim.sweep

    cfg = traces / "search_api.yaml"
    cfg.write_text(yaml.safe_dump(SPACE, sort_keys=False))
    points = rctsim.sweep.search(cfg, budget=5, method="tpe", seed=2, store=tmp_path / "s.db",
                                 executor=LocalExecutor(1), trace_cache=tmp_path / "cache")
    assert [r["point"] for r in points.rows] == list(range(5))
    assert {(r["search_method"], r["search_seed"]) for r in points.rows} == {("tpe", 2)}
    assert points.search.simulated == 5 and len(points.front()) >= 1
    assert math.isfinite(points.rows[0]["energy_pj"])
    from rctsim.report.page import page_manifest

    points.report(tmp_path / "r.html")
    assert "fig-hypervolume" in page_manifest((tmp_path / "r.html").read_text())["figures"]


def test_search_on_dask_proposes_and_stores_what_local_processes_do(traces, tmp_path):
    """A LocalCluster evaluates the same points to the same rows as this process."""
    distributed = pytest.importorskip("distributed")
    from rctsim.sweep import DaskExecutor

    data = {"hardware": {"axes": {"sram_kb": [16, 32, 64], "dataflow": ["ws", "os"],
                                  "dram_gb_per_s": {"start": 1.0, "stop": 8.0, "log": True}}},
            "policies": {"traces": ["rct.trace", "qat.trace"]}}
    plan, local = _search(data, traces, tmp_path / "local.db", budget=8, method="tpe")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, SweepStore(tmp_path / "dask.db") as db:
        remote = run_search(plan, store=db, executor=DaskExecutor(client),
                            cache=TraceCache(traces / "cache"), budget=8, method="tpe",
                            batch=4)
        rows = db.rows(e.key for e in remote.evaluations)
    assert _params(remote) == _params(local) and remote.simulated == 8
    with SweepStore(tmp_path / "local.db") as db:
        expected = db.rows(e.key for e in local.evaluations)
    assert {k: r["energy_pj"] for k, r in rows.items()} == {
        k: r["energy_pj"] for k, r in expected.items()}


def test_impossible_points_are_told_as_violated_constraints():
    """The sampler sees an impossible point as a violated constraint (and a feasible one as
    satisfied), which NSGA-II's constrained domination and TPE rank behind feasible points."""
    import optuna

    from rctsim.sweep.pareto import Objective
    from rctsim.sweep.search_run import CONSTRAINT, Evaluation, _tell, make_sampler

    objectives = (Objective("energy", "energy_pj", False), Objective("acc", "accuracy", True))
    study = optuna.create_study(directions=["minimize", "maximize"],
                                sampler=make_sampler("nsga2", 0))
    ok = Evaluation(0, 0, {}, "k", "ok", None, (1.0, 0.5))
    bad = Evaluation(1, 1, {}, None, "infeasible", "hardware.axes.x: no", None)
    _tell(study, study.ask(), ok, objectives)
    _tell(study, study.ask(), bad, objectives)
    first, second = study.trials
    assert first.constraints == {CONSTRAINT: 0.0} and first.values == [1.0, 0.5]
    assert second.constraints == {CONSTRAINT: 1.0}
    assert second.user_attrs["infeasible"] == "hardware.axes.x: no"
    assert second.values[0] > 1e299 and second.values[1] < -1e299
