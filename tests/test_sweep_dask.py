"""The Dask executor (a LocalCluster on loopback) gives the same table as local processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from rctsim.sweep import (
    DaskExecutor,
    LocalExecutor,
    SweepStore,
    TraceCache,
    parse_sweep_config,
    plan_sweep,
    run_sweep,
    sweep_table,
)
from rctsim.sweep.table import comparable
from rctsim.synth import synth_trace
from rctsim.trace import write_trace

distributed = pytest.importorskip("distributed")


def _table(folder: Path, store: Path, executor) -> list[dict]:
    data = {"hardware": {"axes": {"sram_kb": [16, 64, 256], "dataflow": ["ws", "os"]}},
            "policies": {"traces": ["rct.trace", "qat.trace"]}}
    plan = plan_sweep(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=folder)
    with SweepStore(store) as db:
        outcome = run_sweep(plan, store=db, executor=executor, cache=TraceCache(folder))
        assert outcome.computed == 12
        return sweep_table(plan, outcome.points, db)


def test_dask_local_cluster_equals_local_executor(tmp_path):
    """Same rows (timing aside) whether a LocalCluster or this process computes them."""
    for name, schedule in (("rct", "w=8,a=8,g=8"), ("qat", "qat")):
        write_trace(synth_trace("mlp", batch_size=8, iterations=20, schedule=schedule),
                    tmp_path / f"{name}.trace")
    local = _table(tmp_path, tmp_path / "local.db", LocalExecutor(1))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        executor = DaskExecutor(client)
        assert executor.workers == 2 and "127.0.0.1" in executor.description
        remote = _table(tmp_path, tmp_path / "dask.db", executor)
        executor.close()
    assert comparable(remote) == comparable(local) and len(local) == 12


def test_unreachable_scheduler_is_one_line():
    """A scheduler that is not there fails with one line naming --dask."""
    from rctsim.errors import InputError

    with pytest.raises(InputError, match="--dask: cannot reach tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout_s=0.5)


def test_cli_dask_flag_gives_the_local_table(tmp_path, capsys):
    """`rctsim sweep --dask tcp://127.0.0.1:PORT` writes the table `--workers 1` writes."""
    import csv
    import json

    from rctsim.cli import main
    from rctsim.sweep.store import TIMING_COLUMNS

    write_trace(synth_trace("mlp", batch_size=8, iterations=20, schedule="w=8,a=8,g=8"),
                tmp_path / "rct.trace")
    cfg = tmp_path / "s.yaml"
    cfg.write_text(json.dumps({"hardware": {"axes": {"sram_kb": [16, 64]}},
                               "policies": {"traces": ["rct.trace"]}}))

    def table(*flags: str) -> list[dict]:
        out = tmp_path / f"{len(flags)}.csv"
        with pytest.raises(SystemExit) as exc:
            main(["sweep", str(cfg), "--store", str(tmp_path / f"{len(flags)}.db"), "--quiet",
                  "--csv", str(out), *flags])
        assert exc.value.code in (0, None)
        return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS}
                for r in csv.DictReader(out.open())]

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = table("--dask", cluster.scheduler_address)
    assert "on dask tcp://127.0.0.1" in capsys.readouterr().out
    assert remote == table("--workers", "1") and len(remote) == 2
