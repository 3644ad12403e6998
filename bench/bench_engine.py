"""The step engine alone: the SimPy engine (the reference) against the Python fast engine
(rctsim/engine_fast.py) and the compiled one (rctsim/_engine.c) on the same OpWork lists, in
one run.

    python bench/bench_engine.py [--phases N] [--repeat R]

The OpWork lists are those the replay hands the engine for N distinct phases (default 4) of
bench/bench_speed.py's synthetic traces: ResNet-18 at 224, MobileNetV2 and BERT-tiny (batch 32)
on `edge_npu`, captured by wrapping `replay.simulate_step` during one replay. Each step is then
simulated as a replay simulates a distinct phase (both runs: the step and its zero-latency
twin that splits a wait into DRAM bandwidth and DRAM latency; no timeline), by each engine in
turn, best of R (default 7) per step. Prints ms per step for each engine, the ratios to SimPy
and the chunks replayed per step, and asserts that the engines return bit-identical timings
(every field, compared by `repr`), timeline included. The C column is left out (with a line
saying so) where the library was not built. Issue 15's target for the engine: ResNet-18 at 224
in <= 1.5 ms per phase, checked on the default engine (C where built). A benchmark, not a test:
machines are noisy; compare numbers from one run only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_speed import CASES, HARDWARE, _trace  # noqa: E402

TARGET_MS = {"resnet18": 1.5}
"""Issue 15's target for the engine time of one distinct ResNet-18-224 phase (both runs)."""


def capture(model: str, batch: int, phases: int) -> list[tuple[list, dict]]:
    """(OpWork list, engine rates) of every step simulated while replaying the trace."""
    from rctsim import replay

    steps: list[tuple[list, dict]] = []
    real = replay.simulate_step

    def record(work, **kw):
        steps.append((list(work), {k: v for k, v in kw.items()
                                   if k in ("dram_bytes_per_cycle", "sram_bytes_per_cycle",
                                            "latency_cycles")}))
        return real(work, **kw)

    replay.simulate_step = record
    try:
        replay.simulate(HARDWARE, _trace(model, batch, phases), baseline=None)
    finally:
        replay.simulate_step = real
    return steps


def time_steps(steps: list[tuple[list, dict]], repeat: int, engines: tuple[str, ...]) -> dict:
    """Best-of-`repeat` seconds per step for each engine (alternating), and the identity."""
    from rctsim.engine import simulate_step

    best = {e: [float("inf")] * len(steps) for e in engines}
    chunks = 0
    for i, (work, rates) in enumerate(steps):
        out = {e: simulate_step(work, engine=e, keep_timeline=True, **rates) for e in engines}
        for e in engines:
            assert repr(out[e]) == repr(out["simpy"]), f"step {i}: {e} differs from simpy"
        chunks += out["simpy"].simulated_chunks
        for _ in range(repeat):
            for e in engines:
                start = time.perf_counter()
                simulate_step(work, engine=e, split_latency=True, **rates)
                best[e][i] = min(best[e][i], time.perf_counter() - start)
    return {**{f"{e}_ms": 1e3 * sum(best[e]) / len(steps) for e in engines},
            "chunks": chunks / len(steps), "ops": sum(len(w) for w, _ in steps) / len(steps)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phases", type=int, default=4, help="distinct phases per model")
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per step and engine")
    args = ap.parse_args()
    from rctsim.engine import default_engine
    from rctsim.engine_c import available

    engines = ("simpy", "fast", "c") if available() else ("simpy", "fast")
    if not available():
        print("the compiled engine (rctsim/_engine.c) is not built: no C column")
    head = f"{'model':<12} {'steps':>5} {'ops':>5} {'chunks':>7} {'simpy ms':>9} {'fast ms':>8}"
    head += f" {'c ms':>7}" if "c" in engines else ""
    head += f" {'simpy/fast':>10}" + (f" {'simpy/c':>8}" if "c" in engines else "")
    print(head)
    for model, batch in CASES:
        steps = capture(model, batch, args.phases)
        r = time_steps(steps, args.repeat, engines)
        line = (f"{model:<12} {len(steps):>5} {r['ops']:>5.0f} {r['chunks']:>7.0f}"
                f" {r['simpy_ms']:>9.2f} {r['fast_ms']:>8.2f}")
        line += f" {r['c_ms']:>7.3f}" if "c" in engines else ""
        line += f" {r['simpy_ms'] / r['fast_ms']:>10.2f}"
        line += f" {r['simpy_ms'] / r['c_ms']:>8.1f}" if "c" in engines else ""
        print(line)
        if model in TARGET_MS:
            ms = r[f"{default_engine()}_ms"]
            ok = "met" if ms <= TARGET_MS[model] else "NOT met"
            print(f"  target <= {TARGET_MS[model]} ms per phase ({default_engine()}, the default):"
                  f" {ok}")
    print(f"identical: every step, bit for bit (timeline included), {', '.join(engines)}")


if __name__ == "__main__":
    main()
