"""A sweep killed with `kill -9` halfway and rerun gives the table of an uninterrupted run."""

from __future__ import annotations

import csv
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

from rctsim.cli import main
from rctsim.sweep.store import TIMING_COLUMNS
from rctsim.synth import synth_trace
from rctsim.trace import write_trace

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def config(tmp_path) -> Path:
    for name, schedule in (("rct", "w=8,a=8,g=8"), ("qat", "qat"), ("fp32", "fp32")):
        write_trace(synth_trace("resnet18_cifar", batch_size=32, iterations=100,
                                schedule=schedule), tmp_path / f"{name}.trace")
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(json.dumps({
        "hardware": {"axes": {"sram_kb": [32, 64, 128, 256], "dataflow": ["ws", "os", "is"]}},
        "policies": {"traces": ["rct.trace", "qat.trace", "fp32.trace"]}}))
    return cfg


def _rows(db: Path) -> int:
    try:
        with closing(sqlite3.connect(db, timeout=1)) as conn:
            return conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _table(path: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_COLUMNS}
            for row in csv.DictReader(path.open())]


def _cli(cfg: Path, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rctsim", "sweep", str(cfg), "--store", str(db), "--quiet",
            "--show", "0", *extra]


def test_kill_9_halfway_then_rerun_gives_the_uninterrupted_table(config, tmp_path):
    """Whole rows only after the kill; the rerun computes the rest; tables are identical."""
    db = tmp_path / "killed.db"
    proc = subprocess.Popen(_cli(config, db, "--workers", "2"), cwd=REPO,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _rows(db) < 6 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = _rows(db)
    assert 0 < at_kill < 36, f"killed with {at_kill} of 36 rows stored"
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM points WHERE status IS NULL OR "
                            "(status = 'ok' AND (energy_pj IS NULL OR accuracy IS NOT NULL "
                            "OR latency_s IS NULL))").fetchone()[0] == 0
    rerun = subprocess.run(_cli(config, db, "--workers", "2", "--csv",
                                str(tmp_path / "resumed.csv")),
                           cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"simulated now {36 - at_kill}, already in the store {at_kill}" in rerun.stdout
    with pytest.raises(SystemExit) as exc:
        main(_cli(config, tmp_path / "whole.db", "--workers", "1", "--csv",
                  str(tmp_path / "whole.csv"))[3:])
    assert exc.value.code in (0, None)
    resumed, whole = _table(tmp_path / "resumed.csv"), _table(tmp_path / "whole.csv")
    assert len(whole) == 36 and resumed == whole
