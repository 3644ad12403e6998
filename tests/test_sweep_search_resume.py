"""A search killed with `kill -9` and rerun finishes its budget without evaluating any point
twice, and proposes the points an uninterrupted search does."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

pytest.importorskip("optuna")

from rctsim.synth import synth_trace  # noqa: E402
from rctsim.trace import write_trace  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUDGET = 40


@pytest.fixture()
def config(tmp_path) -> Path:
    for name, schedule in (("rct", "w=8,a=8,g=8"), ("qat", "qat"), ("fp32", "fp32")):
        write_trace(synth_trace("resnet18_cifar", batch_size=32, iterations=100,
                                schedule=schedule), tmp_path / f"{name}.trace")
    cfg = tmp_path / "search.yaml"
    cfg.write_text(json.dumps({
        "version": 2,
        "hardware": {"axes": {"sram_kb": [32, 64, 128, 256], "dataflow": ["ws", "os", "is"],
                              "dram_gb_per_s": {"start": 2.0, "stop": 16.0, "log": True}}},
        "policies": {"traces": ["rct.trace", "qat.trace", "fp32.trace"]}}))
    return cfg


def _count(db: Path, table: str) -> int:
    try:
        with closing(sqlite3.connect(db, timeout=1)) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _evals(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [p for (p,) in conn.execute("SELECT params FROM search_evals ORDER BY idx")]


def _cli(cfg: Path, db: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "rctsim", "sweep", str(cfg), "--store", str(db), "--quiet",
            "--show", "0", "--search", "nsga2", "--budget", str(BUDGET), "--batch", "8",
            "--seed", "4", "--workers", str(workers)]


def test_kill_9_during_a_search_then_rerun_finishes_the_budget(config, tmp_path):
    db = tmp_path / "killed.db"
    proc = subprocess.Popen(_cli(config, db, 2), cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while _count(db, "points") < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = _count(db, "points")
    assert 0 < at_kill < BUDGET, f"killed with {at_kill} of {BUDGET} points stored"
    rerun = subprocess.run(_cli(config, db, 2), cwd=REPO, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    # every point stored before the kill is read back, only the rest is simulated
    assert f"simulated now {BUDGET - at_kill}," in rerun.stdout
    assert f"{BUDGET} of {BUDGET} evaluations" in rerun.stdout
    assert _count(db, "points") == BUDGET == _count(db, "search_evals")
    whole = tmp_path / "whole.db"
    done = subprocess.run(_cli(config, whole, 1), cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert _evals(db) == _evals(whole)
