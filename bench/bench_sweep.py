"""Benchmark `rctsim sweep`: 240 hardware points x 3 policies on local worker processes.

    python bench/bench_sweep.py [--workers 2] [--synthetic] [--in-process]

Uses the bundled traces `resnet`, `resnet_qat`, `resnet_fp32` when they exist, else shape-only
ResNet-18 (CIFAR) traces (rct w=8,a=8,g=8; qat; fp32) made with `synth_trace`. Prints the plan
time, the sweep's wall time, points per second, the mean time of one point inside a worker, and
the time of a rerun that finds every point in the store. Numbers from one run on this machine.

`--in-process` instead runs every worker task (`simulate_job`, as the sweep cuts them for
`--workers` processes) in this process, one core, and splits the CPU time of a point into the
engine (`simulate_step`) and everything else (counting, pricing, placement, summary, result):
best of 3 passes.

The workers' CPU time (start-up included; from the operating system once they have exited)
is printed beside the wall time: on a shared machine other users' load shows in wall time.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from rctsim.sweep import (
    LocalExecutor,
    SweepStore,
    TraceCache,
    parse_sweep_config,
    plan_sweep,
    run_sweep,
    sweep_table,
)
from rctsim.synth import synth_trace
from rctsim.trace import list_bundled_traces, write_trace

BUNDLED = ("resnet", "resnet_qat", "resnet_fp32")
HARDWARE_AXES = {
    "sram_kb": [32, 64, 128, 256, 512],
    "array": ["8x8", "12x14", "16x16", "32x32"],
    "dataflow": ["ws", "os", "is"],
    "dram_gb_per_s": [3.2, 6.4, 12.8, 25.6],
}
"""5 x 4 x 3 x 4 = 240 hardware points."""


def traces(folder: Path, synthetic: bool) -> tuple[list[str], str]:
    """The three policy traces: bundled when present, else synthesised into `folder`."""
    if not synthetic and set(BUNDLED) <= set(list_bundled_traces()):
        return list(BUNDLED), "bundled traces " + ", ".join(BUNDLED)
    names = []
    for name, schedule in (("rct", "w=8,a=8,g=8"), ("qat", "qat"), ("fp32", "fp32")):
        write_trace(synth_trace("resnet18_cifar", batch_size=32, iterations=1000,
                                schedule=schedule), folder / f"{name}.trace")
        names.append(f"{name}.trace")
    return names, "synthetic resnet18_cifar traces (rct, qat, fp32)"


class _Recorder:
    """An executor that runs each task here and keeps it (the sweep cuts them as for
    `workers` local processes)."""

    streams = True

    def __init__(self, workers: int):
        self.workers = workers
        self.description = f"in this process, cut for {workers} workers"
        self.tasks: list = []

    def start(self) -> None:
        return None

    def share(self, path: Path) -> str:
        return str(path)

    def run(self, fn, tasks):
        for index, args in enumerate(tasks):
            self.tasks.append(args)
            yield index, fn(*args)


def in_process(plan, folder: Path, workers: int) -> None:
    """Every worker task of the plan run here, timed in CPU seconds: engine and the rest.
    The first pass is the sweep itself (cutting the tasks as for `workers` processes, into a
    store); the timed passes run those tasks again. (Imports here: bench_speed.py imports this
    file against an older checkout too.)"""
    import rctsim.replay
    from rctsim.sweep.work import simulate_job

    recorder = _Recorder(workers)
    with SweepStore(folder / "in_process.db") as store:
        start = time.process_time()
        outcome = run_sweep(plan, store=store, executor=recorder,
                            cache=TraceCache(folder / "cache"))
        first = time.process_time() - start
    tasks = recorder.tasks
    points = outcome.points
    engine = [0.0]
    step = rctsim.replay.simulate_step

    def timed(*a, **k):
        start = time.process_time()
        try:
            return step(*a, **k)
        finally:
            engine[0] += time.process_time() - start

    rctsim.replay.simulate_step = timed
    try:
        passes = []
        for _ in range(3):
            engine[0] = 0.0
            start = time.process_time()
            for path, job in tasks:
                simulate_job(path, job)
            passes.append((time.process_time() - start, engine[0]))
    finally:
        rctsim.replay.simulate_step = step
    total, eng = min(passes)
    n = len(points)
    print(f"{n} points in {len(tasks)} worker tasks, in this process (CPU time, best of 3): "
          f"{total / n * 1e3:.2f} ms per point = engine {eng / n * 1e3:.2f} ms + the rest "
          f"{(total - eng) / n * 1e3:.2f} ms")
    print(f"the sweep itself, first in this process (memos empty, store writes included): "
          f"{first / n * 1e3:.2f} ms per point")


def main() -> None:
    """Plan, run, rerun; print the numbers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--synthetic", action="store_true",
                        help="Use synthetic ResNet-18 (CIFAR) traces even if bundled ones exist.")
    parser.add_argument("--in-process", action="store_true",
                        help="Time the worker tasks in this process: engine and the rest.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names, what = traces(folder, args.synthetic)
        data = {"hardware": {"base": "edge_npu", "axes": HARDWARE_AXES},
                "policies": {"traces": names}}
        start = time.perf_counter()
        plan = plan_sweep(parse_sweep_config("bench", data), source="bench", base_dir=folder)
        t_plan = time.perf_counter() - start
        if args.in_process:
            print(what)
            in_process(plan, folder, args.workers)
            return
        executor = LocalExecutor(args.workers)
        with SweepStore(folder / "bench.db") as store:
            start = time.perf_counter()
            outcome = run_sweep(plan, store=store, executor=executor,
                                cache=TraceCache(folder / "cache"))
            t_run = time.perf_counter() - start
            rows = sweep_table(plan, outcome.points, store)
            start = time.perf_counter()
            again = run_sweep(plan, store=store, executor=executor,
                              cache=TraceCache(folder / "cache"))
            t_again = time.perf_counter() - start
        executor.close()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = used.ru_utime + used.ru_stime
    per_point = sum(r["elapsed_s"] for r in rows) / len(rows)
    print(f"{what}; {len(plan.hardware)} hardware points x {len(plan.policies)} policies = "
          f"{len(outcome.points)} points on {outcome.executor}")
    print(f"plan (validate {len(plan.hardware)} hardware variants): {t_plan:.2f} s")
    print(f"sweep: {t_run:.1f} s wall = {len(outcome.points) / t_run:.1f} points/s "
          f"(simulation stage {outcome.simulate_seconds:.1f} s incl. worker start-up; "
          f"{outcome.errors} points rejected by the model)")
    print(f"one point inside a worker: {per_point * 1e3:.0f} ms mean "
          f"(= {1 / per_point:.1f} points/s per core)")
    print(f"workers' CPU time: {worker_cpu:.1f} s, start-up included "
          f"(= {worker_cpu / len(outcome.points) * 1e3:.1f} ms per point)")
    print(f"rerun with the same store: {t_again:.2f} s, {again.computed} points recomputed")


if __name__ == "__main__":
    main()
