"""Worker tasks: simulate a batch of hardware points on one trace (the trace is read once)."""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hwmodels.components import dram_model
from hwmodels.schema import HardwareSpec
from rctsim.errors import InputError
from rctsim.replay import SimOptions, simulate
from rctsim.reuse import ReplayCache, machine_keys
from rctsim.sweep.metrics import result_metrics
from rctsim.trace.io import read_trace, trace_from_bytes


@dataclass(frozen=True)
class SimJob:
    """Hardware points to simulate on one trace."""

    items: tuple[tuple[str, HardwareSpec], ...]
    """(point key, hardware) pairs."""
    options: SimOptions
    baseline: str | None


@dataclass(frozen=True)
class PointOutcome:
    """What a worker sends back for one point."""

    key: str
    status: str
    """`ok`, or `error` when the model rejects the point (e.g. no tile fits the buffer)."""
    error: str | None
    metrics: dict[str, float | None]
    elapsed_s: float


def simulate_job(trace_ref: str | Path | bytes, job: SimJob) -> list[PointOutcome]:
    """Simulate every item of `job` on the trace (a file path, or the file's bytes).

    The job's points share one ReplayCache (rctsim.reuse), dropped when the job ends: points
    that differ only in DRAM bandwidth or latency reuse every op count, price and prepared
    phase of the one before."""
    trace = (trace_from_bytes(trace_ref) if isinstance(trace_ref, bytes)
             else read_trace(trace_ref))
    cache = ReplayCache()
    outcomes = []
    for key, spec in job.items:
        start = time.perf_counter()
        try:
            result = simulate(spec, trace, baseline=job.baseline, options=job.options,
                              cache=cache)
            status, error, metrics = "ok", None, result_metrics(result)
        except InputError as err:
            status, error, metrics = "error", str(err), {}
        outcomes.append(PointOutcome(key, status, error, metrics,
                                     time.perf_counter() - start))
    return outcomes


def reuse_keys(spec: HardwareSpec) -> tuple[str, str]:
    """The keys a ReplayCache files a hardware point's work under (rctsim.reuse.machine_key,
    as `rctsim.replay.simulate` calls it): the machine key (the description less its name,
    description and DRAM, plus the DRAM's energy per byte read and written), and the same less
    the array's dataflow. Points of one trace with the same machine key (hardware that differs
    only in DRAM bandwidth or latency) reuse every op count and prepared phase of the first
    one in a job; the second key only orders groups (dataflow variants next to each other
    share the element-wise ops where the component models are the defaults).

    Only the DRAM cost model is built (the one number of it the key reads). A description
    whose DRAM model fails gets a key of its own: the worker reports the failure."""
    try:
        return machine_keys(spec, dram_model(spec))
    except Exception as err:  # ordering only: simulate() in the worker reports it properly
        own = f"unkeyed:{id(spec)}:{type(err).__name__}"
        return own, own


def reuse_order(keys: Sequence[tuple[Hashable, Hashable]]) -> list[int]:
    """Positions of `keys` (each item's `reuse_keys`, or any (outer, inner) pair) in work
    order: items with the same inner key next to each other, groups with the same outer key
    next to each other, groups and items otherwise in order of first appearance."""
    outer: dict[Hashable, int] = {}
    inner: dict[Hashable, int] = {}
    for machine, elementwise in keys:
        outer.setdefault(elementwise, len(outer))
        inner.setdefault(machine, len(inner))
    return sorted(range(len(keys)), key=lambda i: (outer[keys[i][1]], inner[keys[i][0]], i))


def _runs(items: list, labels: Sequence[Hashable]) -> list[list]:
    """`items` cut where the label changes."""
    runs: list[list] = []
    for i, item in enumerate(items):
        if i and labels[i] == labels[i - 1]:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def split_jobs(items: list[tuple[str, HardwareSpec]], *, workers: int, options: SimOptions,
               baseline: str | None, max_size: int = 16,
               groups: Sequence[Hashable] | None = None,
               clusters: Sequence[Hashable] | None = None) -> list[SimJob]:
    """Items of one trace cut into jobs small enough to keep every worker busy (about four
    jobs per worker, at most `max_size` points each), along reuse groups.

    `groups`: each item's reuse group (`reuse_keys`: machine key), `clusters` its group of
    groups (the machine key less the dataflow; None: each group its own), the items of a group
    and of a cluster next to each other (`reuse_order`); without `groups` both are computed
    and the items ordered so. A job holds whole groups (points of a group share one
    ReplayCache: a group cut in two counts its ops twice), and whole clusters where they fit
    in the size aimed at (they share the element-wise ops); only a group larger than
    `max_size` is cut, into near-equal pieces."""
    if groups is None:
        keys = [reuse_keys(spec) for _, spec in items]
        order = reuse_order(keys)
        items = [items[i] for i in order]
        groups = [keys[i][0] for i in order]
        clusters = [keys[i][1] for i in order]
    if len(groups) != len(items) or (clusters is not None and len(clusters) != len(items)):
        raise ValueError("one group (and cluster) per item")
    size = max(1, min(max_size, -(-len(items) // (4 * max(workers, 1)))))
    labelled = list(zip(items, groups, strict=True))
    units: list[list] = []  # what a job takes whole: a cluster, a group, a piece of a group
    for cluster in _runs(labelled, groups if clusters is None else clusters):
        if len(cluster) <= size:
            units.append(cluster)
            continue
        for run in _runs(cluster, [g for _, g in cluster]):
            count = -(-len(run) // max_size)
            bounds = [len(run) * i // count for i in range(count + 1)]  # near-equal pieces
            units += [run[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    jobs: list[list] = []
    for unit in units:
        if jobs and len(jobs[-1]) + len(unit) <= size:
            jobs[-1] += unit
        else:
            jobs.append(list(unit))
    return [SimJob(tuple(item for item, _ in job), options, baseline) for job in jobs]
