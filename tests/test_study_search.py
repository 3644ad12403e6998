"""The search study (studies/search/run.py), shrunken: a small space, few seeds, small budget."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("optuna")

from rctsim.synth import synth_trace  # noqa: E402
from rctsim.trace import write_trace  # noqa: E402

STUDY = Path(__file__).resolve().parents[1] / "studies" / "search"


def _run_module():
    name = "study_search_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, STUDY / "run.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture()
def small(tmp_path) -> Path:
    for name, schedule in (("rct", "w=8,a=8,g=8"), ("fp32", "fp32")):
        write_trace(synth_trace("mlp", batch_size=8, iterations=20, schedule=schedule),
                    tmp_path / f"{name}.trace")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "version": 2, "name": "small",
        "hardware": {"axes": {"sram_kb": [16, 32, 64], "sram_banked": [False, True],
                              "sram_bank_kb": {"values": [4, 8], "when": {"sram_banked": True}},
                              "dataflow": ["ws", "os"]}},
        "policies": {"traces": ["rct.trace", "fp32.trace"]},
        "objectives": ["energy", "latency", "sram"]}, sort_keys=False))
    return cfg


def test_shrunken_study_writes_fractions_and_a_full_budget_reaches_one(small, tmp_path):
    """3 x (1 + 2) x 2 x 2 = 36 points. With a budget of 36 random sampling evaluates the whole
    space, so its front is the brute force's: fraction exactly 1; NSGA-II (which may stop at
    its proposal limit in so small a space) never exceeds 1; the results name every seed."""
    run = _run_module()
    out = tmp_path / "out"
    out.mkdir()
    run.main(["--config", str(small), "--budget", "36", "--seeds", "2", "--workers", "1",
              "--out", str(out), "--store-dir", str(tmp_path)])
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [(r["method"], r["seed"]) for r in rows] == [
        ("nsga2", "0"), ("nsga2", "1"), ("tpe", "0"), ("tpe", "1"), ("random", "0"),
        ("random", "1")]
    for r in rows:
        if r["method"] == "random":
            assert r["evaluations"] == "36" and float(r["fraction"]) == pytest.approx(1.0)
        assert int(r["evaluations"]) <= 36 and 0 < float(r["fraction"]) <= 1 + 1e-12
    text = (out / "results.md").read_text()
    assert "36 points" in text and "| random | 100.0% |" in text


def test_shrunken_study_small_budget_stays_below_the_brute_force(small, tmp_path):
    """Budget 6 of 36: every fraction lies in [0, 1] (0: no point inside the reference box),
    and a rerun reads the stored brute force and replays the searches to the same numbers."""
    run = _run_module()
    out = tmp_path / "out"
    out.mkdir()
    args = ["--config", str(small), "--budget", "6", "--seeds", "2", "--workers", "1",
            "--out", str(out), "--store-dir", str(tmp_path)]
    run.main(args)
    first = (out / "results.csv").read_text()
    for r in csv.DictReader((out / "results.csv").open()):
        assert 0 <= float(r["fraction"]) <= 1 + 1e-12 and r["evaluations"] == "6"
    run.main(args)
    assert (out / "results.csv").read_text() == first
