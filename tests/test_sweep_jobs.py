"""How a sweep cuts its points into worker jobs and rounds (issue 15).

- reuse groups are the ReplayCache's machine keys: hardware points that differ only in DRAM
  timing share one, anything counting reads (buffer size, dataflow, DRAM energy) makes another;
- jobs hold whole groups (only a group larger than the job size is cut), every point once;
- a round claims whole groups; a local pool takes tasks lazily and hands the next one to a
  worker before the caller sees a result;
- rows equal those of the old fixed-size cutting and of `simulate` called per point; two
  streaming sweeps on one store simulate each point once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rctsim.replay import SimOptions, simulate
from rctsim.reuse import ReplayCache
from rctsim.sweep import (
    LocalExecutor,
    SweepStore,
    TraceCache,
    parse_sweep_config,
    plan_sweep,
    run_sweep,
    runner,
    sweep_table,
)
from rctsim.sweep.metrics import result_metrics
from rctsim.sweep.store import TIMING_COLUMNS, new_owner
from rctsim.sweep.work import SimJob, reuse_keys, reuse_order, split_jobs
from rctsim.synth import synth_trace
from rctsim.trace import read_trace, write_trace

TIMING_AXES = {"dram_gb_per_s", "dram.latency_ns", "dram.channels"}
"""Axes that reach only the engine (DRAM timing): points differing in these alone share work."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("jobs")
    for name, schedule in (("rct", "w=8,a=8,g=8"), ("qat", "qat")):
        write_trace(synth_trace("mlp", batch_size=8, iterations=20, schedule=schedule),
                    path / f"{name}.trace")
    return path


def _plan(folder: Path, axes: dict, traces=("rct.trace",)):
    data = {"hardware": {"axes": axes}, "policies": {"traces": list(traces)}}
    return plan_sweep(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=folder)


AXES = {"sram_kb": [32, 64], "dataflow": ["ws", "os"], "dram_gb_per_s": [3.2, 12.8],
        "dram.latency_ns": [0, 80], "dram.energy_pj_per_bit": [4.0, 9.0]}


def test_reuse_groups_are_the_caches_machine_keys(folder):
    """Points share a key exactly when their axis values differ only in DRAM timing; and
    simulating a key's points with one ReplayCache makes one machine entry, two keys two."""
    plan = _plan(folder, {**AXES, "dram.channels": [1, 2]})
    points = plan.hardware
    keys = [reuse_keys(p.spec)[0] for p in points]

    def rest(p):
        return {k: v for k, v in p.params.items() if k not in TIMING_AXES}

    for a, ka in zip(points, keys, strict=True):
        for b, kb in zip(points, keys, strict=True):
            assert (ka == kb) == (rest(a) == rest(b)), (a.params, b.params)
    assert len(set(keys)) == 2 * 2 * 2  # sram x dataflow x DRAM energy
    trace = read_trace(folder / "rct.trace")
    options = SimOptions(keep_timeline=False)
    first = [p for p, k in zip(points, keys, strict=True) if k == keys[0]]
    other = next(p for p, k in zip(points, keys, strict=True) if k != keys[0])
    cache = ReplayCache(max_machines=64)
    for p in first:
        simulate(p.spec, trace, baseline=None, options=options, cache=cache)
    assert len(first) == 8 and len(cache) == 1
    simulate(other.spec, trace, baseline=None, options=options, cache=cache)
    assert len(cache) == 2


def test_reuse_order_puts_groups_together_dataflow_variants_next(folder):
    """Keys in order of first appearance, groups with one element-wise key side by side."""
    keys = [("a", "x"), ("b", "y"), ("c", "x"), ("a", "x"), ("b", "y"), ("d", "z")]
    assert reuse_order(keys) == [0, 3, 2, 1, 4, 5]
    plan = _plan(folder, {"dataflow": ["ws", "os"], "sram_kb": [32, 64],
                          "dram_gb_per_s": [3.2, 12.8]})
    ordered = [plan.hardware[i].params for i in
               reuse_order([reuse_keys(p.spec) for p in plan.hardware])]
    assert [(p["sram_kb"], p["dataflow"]) for p in ordered] == [
        (32, "ws"), (32, "ws"), (32, "os"), (32, "os"),
        (64, "ws"), (64, "ws"), (64, "os"), (64, "os")]


def _items(sizes: list[int]) -> tuple[list, list]:
    items, groups = [], []
    for g, n in enumerate(sizes):
        for i in range(n):
            items.append((f"{g}.{i}", None))
            groups.append(g)
    return items, groups


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=30),
       workers=st.integers(1, 8), max_size=st.integers(1, 24))
def test_jobs_hold_whole_groups_and_every_point_once(sizes, workers, max_size):
    items, groups = _items(sizes)
    jobs = split_jobs(items, workers=workers, options=SimOptions(), baseline=None,
                      max_size=max_size, groups=groups)
    flat = [item for job in jobs for item in job.items]
    assert flat == items  # every point once, in order
    assert all(0 < len(job.items) <= max_size for job in jobs)
    target = max(1, min(max_size, -(-len(items) // (4 * workers))))
    where: dict[int, set[int]] = {}
    for j, job in enumerate(jobs):
        for item in job.items:
            where.setdefault(_group(item), set()).add(j)
    for g, n in enumerate(sizes):
        counts = [sum(1 for item in jobs[j].items if _group(item) == g) for j in sorted(where[g])]
        if n <= max_size:
            assert counts == [n], f"group {g} of {n} cut"
        else:  # cut into near-equal pieces of at most max_size
            assert len(counts) == -(-n // max_size) and max(counts) - min(counts) <= 1
    for a, b in zip(jobs, jobs[1:], strict=False):  # no two neighbours fit in one job
        head = sum(1 for item in b.items if _group(item) == _group(b.items[0]))
        assert len(a.items) + head > target


def _group(item) -> int:
    return int(item[0].split(".")[0])


@settings(max_examples=200, deadline=None)
@given(clusters=st.lists(st.lists(st.integers(1, 12), min_size=1, max_size=4), min_size=1,
                         max_size=12),
       workers=st.integers(1, 4), max_size=st.integers(1, 24))
def test_jobs_keep_clusters_of_groups_together_where_they_fit(clusters, workers, max_size):
    sizes = [n for cluster in clusters for n in cluster]
    items, groups = _items(sizes)
    owner = [c for c, cluster in enumerate(clusters) for _ in cluster]
    labels = [owner[g] for g in groups]
    jobs = split_jobs(items, workers=workers, options=SimOptions(), baseline=None,
                      max_size=max_size, groups=groups, clusters=labels)
    assert [item for job in jobs for item in job.items] == items
    assert all(0 < len(job.items) <= max_size for job in jobs)
    target = max(1, min(max_size, -(-len(items) // (4 * workers))))
    job_of = {item[0]: j for j, job in enumerate(jobs) for item in job.items}
    for g, n in enumerate(sizes):
        if n <= max_size:
            assert len({job_of[f"{g}.{i}"] for i in range(n)}) == 1
    for c, cluster in enumerate(clusters):
        if sum(cluster) <= target:
            assert len({job_of[item[0]] for item, label in zip(items, labels, strict=True)
                        if label == c}) == 1


def test_split_jobs_finds_the_groups_itself(folder):
    """Without `groups`, items are regrouped by machine key (a group's points end up in one
    job even when the caller interleaves them)."""
    plan = _plan(folder, {"dram_gb_per_s": [3.2, 12.8], "sram_kb": [32, 64, 128]})
    items = [(str(i), p.spec) for i, p in enumerate(plan.hardware)]  # dram-major: interleaved
    jobs = split_jobs(items, workers=1, options=SimOptions(), baseline=None, max_size=2)
    assert sorted(k for job in jobs for k, _ in job.items) == sorted(k for k, _ in items)
    for job in jobs:
        assert len({reuse_keys(spec)[0] for _, spec in job.items}) == 1
        assert len(job.items) == 2


def test_a_round_claims_whole_groups(tmp_path):
    with SweepStore(tmp_path / "c.db") as store:
        me, other, third = new_owner(), new_owner(), new_owner()
        keys = ["a1", "a2", "b1", "b2", "b3", "c1"]
        group = {k: k[0] for k in keys}.__getitem__
        assert store.claim(keys, other, limit=1) == ["a1"]
        assert store.claim(keys, me, limit=2, group=group) == ["a2", "b1", "b2", "b3"]
        assert store.claim(keys, third, limit=1, group=group) == ["c1"]
        assert store.claim(["x1", "x2"], me, limit=0, group=group) == []


def _recording(log: list):
    def source():
        for i in range(10):
            log.append(("took", i))
            yield (i,)
    return source()


def square(i: int) -> int:
    return i * i


def test_a_local_pool_takes_the_next_task_before_the_caller_sees_a_result():
    log: list = []
    executor = LocalExecutor(2, preload=())
    try:
        for index, result in executor.run(square, _recording(log)):
            log.append(("result", index, result))
    finally:
        executor.close()
    took = [entry[1] for entry in log if entry[0] == "took"]
    assert took == list(range(10))
    assert sorted(e[1:] for e in log if e[0] == "result") == [(i, i * i) for i in range(10)]
    first = next(n for n, e in enumerate(log) if e[0] == "result")
    assert 2 * 2 < first  # AHEAD x workers taken at once, then more before any result


def test_a_lost_worker_mid_stream_retries_its_tasks_and_takes_the_rest(tmp_path):
    from tests.test_robust_workers import square_or_die_once

    executor = LocalExecutor(2, preload=())
    try:
        results = list(executor.run(square_or_die_once,
                                    ((str(tmp_path), i) for i in range(5))))
    finally:
        executor.close()
    assert sorted(results) == [(i, i * i) for i in range(5)]


def old_split_jobs(items, *, workers, options, baseline, max_size=16, **_groups):
    """The cutting before issue 15's scheduling: fixed-size slices, groups ignored."""
    size = max(1, min(max_size, -(-len(items) // (4 * max(workers, 1)))))
    return [SimJob(tuple(items[i:i + size]), options, baseline)
            for i in range(0, len(items), size)]


def _sweep(plan, folder: Path, db: Path, workers: int):
    executor = LocalExecutor(workers)
    try:
        with SweepStore(db) as store:
            outcome = run_sweep(plan, store=store, executor=executor,
                                cache=TraceCache(folder / "cache"))
            return outcome, sweep_table(plan, outcome.points, store)
    finally:
        executor.close()


def _stable(rows):
    return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows]


def test_rows_equal_the_old_cutting_and_direct_simulation(folder, tmp_path, monkeypatch):
    axes = {"sram_kb": [32, 64], "dataflow": ["ws", "os"], "dram_gb_per_s": [3.2, 6.4, 12.8]}
    plan = _plan(folder, axes, traces=("rct.trace", "qat.trace"))
    monkeypatch.setattr(runner, "JOB_SIZE", 2)  # several rounds and jobs, groups of 3 cut
    monkeypatch.setattr(runner, "ROUND_MIN", 5)
    outcome, rows = _sweep(plan, folder, tmp_path / "new.db", 2)
    assert outcome.computed == len(rows) == 24
    monkeypatch.setattr(runner, "split_jobs", old_split_jobs)
    _, old = _sweep(plan, folder, tmp_path / "old.db", 2)
    assert _stable(rows) == _stable(old)
    for row, point in zip(rows, outcome.points, strict=True):
        direct = simulate(point.hardware.spec, read_trace(point.trace.path),
                          baseline=plan.baseline, options=plan.options)
        assert row["key"] == point.key and row["status"] == "ok"
        for name, value in result_metrics(direct).items():
            assert row[name] == value, name


def test_two_streaming_sweeps_on_one_store_simulate_each_point_once(folder, tmp_path,
                                                                   monkeypatch):
    """Small rounds, so each sweep claims many while its workers run the last ones."""
    monkeypatch.setattr(runner, "JOB_SIZE", 1)
    monkeypatch.setattr(runner, "ROUND_MIN", 2)
    plan = _plan(folder, {"sram_kb": [16, 32, 64, 128, 256], "dataflow": ["ws", "os", "is"],
                          "dram_gb_per_s": [3.2, 12.8]}, traces=("rct.trace", "qat.trace"))
    claims: list[int] = []
    claim = SweepStore.claim

    def counted(self, *args, **kwargs):
        got = claim(self, *args, **kwargs)
        claims.append(len(got))
        return got

    monkeypatch.setattr(SweepStore, "claim", counted)
    db = tmp_path / "shared.db"
    with SweepStore(db):
        pass
    outcomes: list = []
    errors: list = []

    def one() -> None:
        try:
            outcomes.append(_sweep(plan, folder, db, 2)[0])
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    total = len(outcomes[0].points)
    assert total == 60 and sum(o.computed for o in outcomes) == total
    with SweepStore(db) as store:
        assert len(store.rows(p.key for p in outcomes[0].points)) == total
    assert sum(1 for n in claims if n) >= 60 // 8  # rounds of 8 (2 workers x 4 x 1)


def test_work_order_is_trace_by_trace_with_each_group_together(folder):
    """The work order holds the plan's points once each, trace by trace, a group's points
    next to each other."""
    from rctsim.sweep.plan import sweep_points, trace_info

    plan = _plan(folder, AXES, traces=("rct.trace", "qat.trace"))
    traces = [trace_info(folder / f"{n}.trace", n) for n in ("rct", "qat")]
    points = sweep_points(plan, traces)
    order = runner.work_order(points, traces)
    assert sorted(order.keys) == sorted(p.key for p in points)
    assert len(set(order.keys)) == len(points) == 2 * 32
    by_key = {p.key: p for p in points}
    assert [by_key[k].trace.name for k in order.keys] == ["rct"] * 32 + ["qat"] * 32
    groups = [order.group[k] for k in order.keys]
    runs = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(runs) == len(set(runs)) == 2 * 8  # each group one run of 4 (DRAM variants)
    assert all(groups.count(g) == 4 for g in runs)
    clusters = [order.cluster[k] for k in order.keys]
    runs = [c for i, c in enumerate(clusters) if i == 0 or clusters[i - 1] != c]
    assert len(runs) == len(set(runs)) == 2 * 4  # sram x DRAM energy: both dataflows, 8 points
    assert all(clusters.count(c) == 8 for c in runs)


def test_workers_started_for_nothing_are_ended_not_waited_for(tmp_path, monkeypatch):
    """A sweep that finds every point stored closes its early-started pool at once, even
    while the workers still import (here a module that takes 60 s to import)."""
    import os
    import time

    (tmp_path / "slow_import.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    executor = LocalExecutor(2, preload=("slow_import",))
    executor.start()
    pids = list(executor._pool._processes)
    assert len(pids) == 2
    start = time.monotonic()
    executor.close()
    assert time.monotonic() - start < 30
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
