"""Dying workers, a dying sweep and sweeps sharing a store (issue 14 item 3).

- a lost local worker costs a bounded retry of its tasks, then one line naming the failure and
  the store that keeps what finished (exit status 3);
- a Dask scheduler without workers is one line, and no empty store is left;
- `kill -9` of a sweep's main process leaves no worker behind;
- two sweeps started together on one store simulate every point exactly once between them.
"""

from __future__ import annotations

import functools
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

import rctsim.sweep as sweep_package
from rctsim.cli import main
from rctsim.errors import InputError, RunFailure
from rctsim.sweep import runner
from rctsim.sweep.executors import LocalExecutor
from rctsim.sweep.store import SweepStore, new_owner
from rctsim.sweep.work import simulate_job
from rctsim.synth import synth_trace
from rctsim.trace import write_trace

REPO = Path(__file__).resolve().parents[1]


def square_or_die_once(marks: str, i: int) -> int:
    """Kill this worker the first time task `i` runs; return i*i the second time."""
    mark = Path(marks) / str(i)
    if not mark.exists():
        mark.touch()
        os._exit(1)
    return i * i


def always_die(log: str, i: int) -> int:
    """Record an attempt, then kill this worker."""
    with open(log, "a") as fh:
        fh.write(f"{i}\n")
    os._exit(1)


def die_on_big_buffers(trace_ref, job):
    """simulate_job, except that a job with a global buffer over 64 KB kills its worker."""
    if any(spec.global_buffer.size_bytes > 64 * 1024 for _, spec in job.items):
        os._exit(1)
    return simulate_job(trace_ref, job)


def test_a_lost_local_worker_costs_one_retry_of_its_tasks(tmp_path):
    executor = LocalExecutor(2)
    try:
        results = dict(executor.run(square_or_die_once, [(str(tmp_path), i) for i in range(2)]))
    finally:
        executor.close()
    assert results == {0: 0, 1: 1}


def test_a_worker_that_keeps_dying_stops_the_run_after_bounded_retries(tmp_path):
    log = tmp_path / "attempts"
    executor = LocalExecutor(2, retries=2)
    try:
        with pytest.raises(RunFailure) as err:
            list(executor.run(always_die, [(str(log), 0)]))
    finally:
        executor.close()
    assert "local worker lost" in str(err.value) and "\n" not in str(err.value)
    assert log.read_text().split() == ["0", "0", "0"]  # the first try and two retries


@pytest.fixture()
def sweep_config(tmp_path) -> Path:
    write_trace(synth_trace("mlp", batch_size=8, iterations=10, schedule="w=8,a=8,g=8"),
                tmp_path / "rct.trace")
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(json.dumps({
        "hardware": {"axes": {"sram_kb": [16, 32, 64, 128, 256], "dataflow": ["ws", "os"]}},
        "policies": {"traces": ["rct.trace"]}}))
    return cfg


def _rows(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]


def test_sweep_losing_workers_names_the_failure_and_the_store(sweep_config, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.setattr(runner, "simulate_job", die_on_big_buffers)
    db = tmp_path / "s.db"
    with pytest.raises(SystemExit) as done:
        main(["sweep", str(sweep_config), "--store", str(db), "--workers", "2", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert done.value.code == 3
    assert err.count("\n") == 0 and "Traceback" not in err
    kept = _rows(db)
    # 16, 32 and 64 KB (x 2 dataflows) finish; 128 and 256 KB kill their worker every time
    assert kept == 6
    assert "local worker lost" in err and f"the store {db} keeps the 6 finished" in err


def test_dask_scheduler_without_workers_is_one_line_and_leaves_no_store(sweep_config,
                                                                        tmp_path, capsys,
                                                                        monkeypatch):
    distributed = pytest.importorskip("distributed")
    from rctsim.sweep.executors import DaskExecutor

    with distributed.LocalCluster(n_workers=0, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with pytest.raises(InputError, match="has no workers"):
            DaskExecutor(cluster.scheduler_address, connect_timeout_s=0.5)
        db = tmp_path / "empty.db"
        monkeypatch.setattr(sweep_package, "DaskExecutor",
                            functools.partial(DaskExecutor, connect_timeout_s=0.5))
        with pytest.raises(SystemExit) as done:
            main(["sweep", str(sweep_config), "--store", str(db), "--dask",
                  cluster.scheduler_address, "--quiet"])
    err = capsys.readouterr().err.strip()
    assert done.value.code == 2 and "\n" not in err and "has no workers" in err
    assert not db.exists()


def _children(pid: int) -> set[int]:
    """Process ids whose parent is `pid` (from /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_kill_9_of_the_sweep_leaves_no_orphan_workers(sweep_config, tmp_path):
    cfg = tmp_path / "slow.yaml"
    cfg.write_text(json.dumps({
        "hardware": {"axes": {"sram_kb": list(range(16, 16 + 40)),
                              "dataflow": ["ws", "os", "is"]}},
        "policies": {"traces": ["rct.trace"]}}))
    proc = subprocess.Popen([sys.executable, "-m", "rctsim", "sweep", str(cfg), "--store",
                             str(tmp_path / "k.db"), "--workers", "2", "--quiet"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            workers = {c for c in _children(proc.pid)
                       if b"multiprocessing" in Path(f"/proc/{c}/cmdline").read_bytes()}
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        assert len(workers) >= 2, "the sweep never started its workers"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        left = [w for w in workers if _alive(w)]
    finally:
        if proc.poll() is None:
            proc.kill()
    for w in left:  # clean up before failing
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived the sweep"


def test_two_sweeps_on_one_store_simulate_each_point_once(sweep_config, tmp_path):
    db = tmp_path / "shared.db"
    cli = [sys.executable, "-m", "rctsim", "sweep", str(sweep_config), "--store", str(db),
           "--workers", "1", "--quiet", "--show", "0"]
    procs = [subprocess.Popen(cli + ["--csv", str(tmp_path / f"{i}.csv")], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    simulated = [int(out.split("simulated now ")[1].split(",")[0]) for out, _ in outs]
    assert sum(simulated) == 10 == _rows(db)
    for i in range(2):
        assert len((tmp_path / f"{i}.csv").read_text().strip().splitlines()) == 1 + 10


def test_leases_exclude_other_live_owners_and_free_dead_ones(tmp_path):
    with SweepStore(tmp_path / "l.db") as store:
        me, other = new_owner(), new_owner()
        assert store.claim(["a", "b", "c"], me, limit=2) == ["a", "b"]
        assert store.claim(["a", "b", "c"], other, limit=5) == ["c"]
        assert store.leased_elsewhere(["a", "b", "c"], other) == {"a", "b"}
        store.release(me)
        assert store.claim(["a", "b", "c"], other, limit=5) == ["a", "b", "c"]
        # a lease held by a process of this host that no longer exists is free at once
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        host = other.split(":")[0]
        store.conn.execute("UPDATE leases SET owner = ?", (f"{host}:{dead}:x",))
        assert store.claim(["a"], me, limit=1) == ["a"]


def length_or_die_once(data: bytes, marks: str) -> int:
    """The length of the shared bytes; kill this (Dask) worker the first time."""
    mark = Path(marks) / "died"
    if not mark.exists():
        mark.touch()
        os._exit(1)
    return len(data)


def test_a_lost_dask_worker_and_its_scattered_trace_are_replaced(tmp_path):
    distributed = pytest.importorskip("distributed")
    from rctsim.sweep.executors import DaskExecutor

    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"x" * 1000)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  protocol="tcp://", host="127.0.0.1", dashboard_address=None,
                                  silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        executor = DaskExecutor(client)
        results = dict(executor.run(length_or_die_once,
                                    [(executor.share(payload), str(tmp_path))]))
    assert results == {0: 1000}
