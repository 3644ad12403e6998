"""Benchmark `rctsim run`: one ResNet-18 (224) step cold, and a long trace with ~200 phases.

    python bench/bench_run.py

Prints wall times measured in this one run (a benchmark, not a test: machines are noisy).
The SCALE-Sim comparison of the forward layers is bench/bench_vs_scalesim.py.
"""

from __future__ import annotations

import time

import numpy as np

from rctsim.replay import simulate
from rctsim.synth import synth_trace
from rctsim.trace.model import Trace


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def long_trace(iterations: int = 50_000, phases: int = 200, seed: int = 0) -> Trace:
    """ResNet-18 (CIFAR) with ~`phases` bitwidth changes at random moments and layers."""
    base = synth_trace("resnet18_cifar", batch_size=32, iterations=iterations,
                       schedule="w=8,a=8,g=8")
    rng = np.random.default_rng(seed)
    starts = np.unique(np.concatenate([[0], rng.integers(1, iterations, phases - 1)]))
    bits = np.repeat(base.phase_bits[:1], len(starts), axis=0).copy()
    for p in range(1, len(starts)):
        bits[p] = bits[p - 1]
        layer = rng.integers(0, base.n_layers)
        bits[p, layer, 0] = np.clip(int(bits[p, layer, 0]) + rng.choice([-1, 1]), 4, 16)
    return Trace.build(header=base.header, layers=base.layers, phase_start=starts,
                       phase_bits=bits)


def main() -> None:
    """Run both benchmarks and print their numbers."""
    step = synth_trace("resnet18", batch_size=1, iterations=1, schedule="w=8,a=8,g=8")
    t_step, res = _timed(lambda: simulate("edge_npu", step, baseline=None))
    t_step_qat, _ = _timed(lambda: simulate("edge_npu", step, baseline="qat"))
    print(f"ResNet-18 224, batch 1, one step on edge_npu (cold): {t_step:.3f} s "
          f"({res.policies['rct'].macs['total']:.3g} MACs); with the QAT baseline: "
          f"{t_step_qat:.3f} s")
    trace = long_trace()
    t_long, res = _timed(lambda: simulate("edge_npu", trace, baseline="qat"))
    pr = res.policies["rct"]
    print(f"50,000-iteration ResNet-18 (CIFAR) trace, {pr.phases} phases "
          f"({pr.distinct_phases} distinct), with the QAT baseline: {t_long:.2f} s "
          f"= {t_long / pr.phases * 1e3:.1f} ms per phase, "
          f"{pr.iterations / t_long:,.0f} simulated iterations per second")


if __name__ == "__main__":
    main()
