"""Worker tasks: simulate a batch of hardware points on one trace (the trace is read once)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from hwmodels.schema import HardwareSpec
from rctsim.errors import InputError
from rctsim.replay import SimOptions, simulate
from rctsim.reuse import ReplayCache
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


def split_jobs(items: list[tuple[str, HardwareSpec]], *, workers: int, options: SimOptions,
               baseline: str | None, max_size: int = 16) -> list[SimJob]:
    """Items of one trace cut into jobs small enough to keep every worker busy."""
    size = max(1, min(max_size, -(-len(items) // (4 * max(workers, 1)))))
    return [SimJob(tuple(items[i:i + size]), options, baseline)
            for i in range(0, len(items), size)]

