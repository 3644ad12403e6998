"""Benchmark `rctsim sweep`: 240 hardware points x 3 policies on local worker processes.

    python bench/bench_sweep.py [--workers 2] [--synthetic]

Uses the bundled traces `resnet`, `resnet_qat`, `resnet_fp32` when they exist, else shape-only
ResNet-18 (CIFAR) traces (rct w=8,a=8,g=8; qat; fp32) made with `synth_trace`. Prints the plan
time, the sweep's wall time, points per second, the mean time of one point inside a worker, and
the time of a rerun that finds every point in the store. Numbers from one run on this machine.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    """Plan, run, rerun; print the numbers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--synthetic", action="store_true",
                        help="Use synthetic ResNet-18 (CIFAR) traces even if bundled ones exist.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names, what = traces(folder, args.synthetic)
        data = {"hardware": {"base": "edge_npu", "axes": HARDWARE_AXES},
                "policies": {"traces": names}}
        start = time.perf_counter()
        plan = plan_sweep(parse_sweep_config("bench", data), source="bench", base_dir=folder)
        t_plan = time.perf_counter() - start
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
    per_point = sum(r["elapsed_s"] for r in rows) / len(rows)
    print(f"{what}; {len(plan.hardware)} hardware points x {len(plan.policies)} policies = "
          f"{len(outcome.points)} points on {outcome.executor}")
    print(f"plan (validate {len(plan.hardware)} hardware variants): {t_plan:.2f} s")
    print(f"sweep: {t_run:.1f} s wall = {len(outcome.points) / t_run:.1f} points/s "
          f"(simulation stage {outcome.simulate_seconds:.1f} s incl. worker start-up; "
          f"{outcome.errors} points rejected by the model)")
    print(f"one point inside a worker: {per_point * 1e3:.0f} ms mean "
          f"(= {1 / per_point:.1f} points/s per core)")
    print(f"rerun with the same store: {t_again:.2f} s, {again.computed} points recomputed")


if __name__ == "__main__":
    main()
