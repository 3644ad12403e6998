"""Trace file size and load time for a long, wide trace (format 1).

Builds a 100,000-iteration x 100-layer RCT-like trace (each layer changes its w/a/g bits about
50 times at random moments; loss every 10 iterations, eval accuracy every 1,000, Gavg for every
layer every 100), writes it, and prints the file size and the median write, load and digest
times. Plain script: `python bench/bench_trace_load.py [--iterations N] [--layers L]`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from rctsim.trace import (
    LayerSignal,
    LayerSpec,
    PolicySpec,
    Series,
    Trace,
    TraceHeader,
    read_trace,
    trace_digest,
    write_trace,
)


def build_trace(iterations: int, n_layers: int, changes: int, seed: int = 0) -> Trace:
    """A synthetic trace with `changes` random bit changes per layer."""
    rng = np.random.default_rng(seed)
    layers = [LayerSpec(name=f"layer{i}", kind="conv", m=32 * 16 * 16, n=64, k=64 * 9,
                        has_weights=True, params=64 * 64 * 9, act_elems=32 * 64 * 16 * 16,
                        preds=(f"layer{i - 1}",) if i else ()) for i in range(n_layers)]
    moments = [np.concatenate(([0], np.sort(rng.choice(np.arange(1, iterations), changes,
                                                        replace=False))))
               for _ in range(n_layers)]
    phase_start = np.unique(np.concatenate(moments))
    phase_bits = np.full((len(phase_start), n_layers, 4), 32, dtype=np.uint8)
    for i, at in enumerate(moments):
        steps = rng.choice([-1, 1], size=(len(at), 3))
        steps[0] = 0
        layer_bits = np.clip(8 + np.cumsum(steps, axis=0), 2, 16)
        phase_bits[:, i, :3] = layer_bits[np.searchsorted(at, phase_start, side="right") - 1]
    loss_it = np.arange(0, iterations, 10)
    acc_it = np.arange(0, iterations, 1000)
    gavg_it = np.repeat(np.arange(0, iterations, 100), n_layers)
    header = TraceHeader(producer="bench", producer_version="0", model="bench_convnet",
                         dataset="none", policy=PolicySpec(name="rct", params={"interval": 100}),
                         batch_size=32, seed=seed, iterations=iterations)
    return Trace.build(
        header=header, layers=layers, phase_start=phase_start, phase_bits=phase_bits,
        metrics={"loss": Series(loss_it, 2.3 * np.exp(-loss_it / iterations)
                                + 0.01 * rng.random(len(loss_it))),
                 "eval_acc": Series(acc_it, np.linspace(0.1, 0.9, len(acc_it)))},
        signals={"gavg": LayerSignal(gavg_it, np.tile(np.arange(n_layers), len(gavg_it)
                                                      // n_layers), rng.random(len(gavg_it)))},
    )


def median_seconds(fn, runs: int) -> float:
    """Median wall time of `runs` calls of `fn`."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    """Build, write and load the trace; print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--layers", type=int, default=100)
    parser.add_argument("--changes", type=int, default=50, help="bit changes per layer")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    trace = build_trace(args.iterations, args.layers, args.changes)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.trace"
        write_s = median_seconds(lambda: write_trace(trace, path), args.runs)
        load_s = median_seconds(lambda: read_trace(path), args.runs)
        digest_s = median_seconds(lambda: trace_digest(path), args.runs)
        size = path.stat().st_size
        assert read_trace(path) == trace
    dense = trace.iterations * trace.n_layers * 4
    print(f"trace: {trace.iterations:,} iterations x {trace.n_layers} layers, "
          f"{len(trace.phase_start):,} phases")
    print(f"file size: {size:,} bytes ({size / 2**20:.2f} MiB; dense bits per iteration "
          f"would be {dense:,} bytes)")
    print(f"median write:  {write_s * 1e3:8.1f} ms over {args.runs} runs")
    print(f"median load:   {load_s * 1e3:8.1f} ms over {args.runs} runs (target: well under 1 s)")
    print(f"median digest: {digest_s * 1e3:8.1f} ms over {args.runs} runs")


if __name__ == "__main__":
    main()
