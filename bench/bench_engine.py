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
in <= 1.5 ms per phase, checked on the default engine (C where built).

Then, where the library was built, the cost of one `simulate_step` call on the C engine, per
step, in the three ways the replay and sweeps call it: `timeline` (keep_timeline, the stall
split: what a plain `rctsim run` asks for its first distinct phase), `split` (no timeline, the
stall split: every other distinct phase) and `sweep` (no timeline, no split: what sweep points
ask). `old` is the Python around the library as main had it before this change
(`old_simulate_step` below: ops converted on every call, two calls into the library, the log
read element by element into tuples, an Interval per logged interval sorted and joined by
`engine._merge`, an OpTiming per op), `list` the current code given a list, `kept` the current
code given a `StepWork` kept across calls (its conversions made once, as a replay that keeps
one per phase would). The three are checked to return the same timing (`repr`, timeline
included). Issue 15's target for the timeline call: <= 1 ms for ResNet-18 at 224.
A benchmark, not a test: machines are noisy; compare numbers from one run only.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_speed import CASES, HARDWARE, _trace  # noqa: E402

TARGET_MS = {"resnet18": 1.5}
"""Issue 15's target for the engine time of one distinct ResNet-18-224 phase (both runs)."""
TIMELINE_TARGET_MS = {"resnet18": 1.0}
"""Issue 15's target for one `simulate_step` call with the timeline (ResNet-18 at 224)."""
CALLS = {"timeline": {"keep_timeline": True, "split_latency": True},
         "split": {"keep_timeline": False, "split_latency": True},
         "sweep": {"keep_timeline": False, "split_latency": False}}
"""The three ways the replay and sweeps call the engine."""


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


def old_simulate_step(work, *, dram_bytes_per_cycle, sram_bytes_per_cycle=math.inf,
                      latency_cycles=0.0, keep_timeline=False, merge=True, split_latency=True):
    """`simulate_step` on the C engine as main had it before the timeline and per-call work
    moved into the library (main 90cd925, rctsim/engine.py and engine_c.py): the same Python
    around the same C loop, for the `old` column. The loop is reached through today's entry
    point with DRAM bandwidth 1 (x / 1.0 is x) and no stall split or join asked of it."""
    from rctsim import engine, engine_c
    from rctsim.engine import BUFFERS, MAX_PERIOD, Interval, OpTiming, StepTiming, _merge

    lib = engine_c._library()
    bw = dram_bytes_per_cycle
    eff = [max(w.compute_cycles, w.sram_bytes / sram_bytes_per_cycle) for w in work]
    # engine_c.Prepared
    n_ops = len(work)
    chunks = [c if c > 1 else 1 for c in (w.chunks for w in work)]
    rd = array("d", [w.dram_read_bytes / n / bw for w, n in zip(work, chunks, strict=True)])
    cy = array("d", [e / n for e, n in zip(eff, chunks, strict=True)])
    wr = array("d", [w.dram_write_bytes / n / bw for w, n in zip(work, chunks, strict=True)])
    off = array("q", [0])
    idx: list[int] = []
    for w in work:
        if w.after and w.dram_read_bytes > 0:
            idx.extend(w.after)
        off.append(len(idx))
    dep = array("q", idx or [0])
    cnt = array("q", chunks or [0])
    total_chunks = sum(chunks)
    addrs = [a.buffer_info()[0] for a in (rd, cy, wr, cnt, off, dep)]

    def run_prepared(latency, keep):  # engine_c.run_prepared
        idle = array("d", bytes(8 * max(1, n_ops)))
        out = array("d", [0.0, 0.0])
        counts = array("q", [0, 0, -1])
        cap = min(5 * total_chunks + 8, engine_c.LOG_ROOM) if keep else 0
        lanes = array("B", bytes(max(1, cap)))
        ops = array("q", bytes(8 * max(1, cap)))
        starts = array("d", bytes(8 * max(1, cap)))
        ends = array("d", bytes(8 * max(1, cap)))
        rc = lib.rct_engine_step(n_ops, addrs[0], addrs[1], addrs[2], 1.0, addrs[3], addrs[4],
                                 addrs[5], float(latency), int(bool(keep)), int(bool(merge)),
                                 BUFFERS, MAX_PERIOD, 0, None, out.buffer_info()[0],
                                 idle.buffer_info()[0], None, None, counts.buffer_info()[0],
                                 cap, *(a.buffer_info()[0] for a in (lanes, ops, starts, ends)))
        assert rc == 0 and counts[1] <= cap
        labels = [w.label for w in work]
        log = [(engine_c._LANES[lanes[k]], labels[ops[k]], starts[k], ends[k])
               for k in range(counts[1])]
        return out[0], idle.tolist()[:n_ops], out[1], [Interval(*iv) for iv in log], counts[0]

    total, idle, busy, timeline, simulated = run_prepared(latency_cycles, keep_timeline)
    has_dram = any(w.dram_read_bytes > 0 or w.dram_write_bytes > 0 for w in work)
    idle0 = idle
    if split_latency and latency_cycles > 0 and has_dram and any(idle):
        idle0 = run_prepared(0.0, False)[1]
    ops = []
    for w, e, wait, wait0 in zip(work, eff, idle, idle0, strict=True):
        wait = max(0.0, wait)
        lat = min(wait, max(0.0, wait - wait0))
        ops.append(OpTiming(float(w.compute_cycles), float(e - w.compute_cycles),
                            float(wait - lat), float(lat)))
    compute_total = float(sum(w.compute_cycles for w in work))
    total = float(total)
    assert engine is not None
    return StepTiming(
        compute_cycles=compute_total, stall_cycles=max(0.0, total - compute_total),
        total_cycles=total, dram_busy_cycles=busy,
        timeline=tuple(_merge(timeline)) if keep_timeline else (),
        stall_dram_bandwidth=sum(o.dram_bandwidth for o in ops),
        stall_sram_bandwidth=sum(o.sram_bandwidth for o in ops),
        stall_dram_latency=sum(o.dram_latency for o in ops),
        ops=tuple(ops), simulated_chunks=simulated)


def time_calls(steps: list[tuple[list, dict]], repeat: int) -> dict:
    """Best ms per `simulate_step` call on the C engine (3 rounds of `repeat` calls in a row
    for each of old / list / kept, alternating: one variant's memory traffic, old's large
    buffers, does not land on the next one's first call), mean over the steps, for each way of
    calling (CALLS); the first step's alone too."""
    from rctsim.engine import StepWork, simulate_step

    ways = {"old": lambda w, kept, kw: old_simulate_step(w, **kw),
            "list": lambda w, kept, kw: simulate_step(w, engine="c", **kw),
            "kept": lambda w, kept, kw: simulate_step(kept, engine="c", **kw)}
    best = {(c, v): [float("inf")] * len(steps) for c in CALLS for v in ways}
    for i, (work, rates) in enumerate(steps):
        kept = StepWork(work)
        for call, flags in CALLS.items():
            kw = {**rates, **flags}
            ref = repr(ways["old"](work, kept, kw))
            for v, fn in ways.items():
                assert repr(fn(work, kept, kw)) == ref, f"step {i} {call}: {v} differs from old"
            for _ in range(3):  # rounds, alternating; `repeat` calls in a row each
                for v, fn in ways.items():
                    for _ in range(repeat):
                        start = time.perf_counter()
                        fn(work, kept, kw)
                        best[call, v][i] = min(best[call, v][i], time.perf_counter() - start)
    return {key: (1e3 * sum(b) / len(b), 1e3 * b[0]) for key, b in best.items()}


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
    if "c" not in engines:
        return
    print("\nper simulate_step call, C engine, ms (mean over the steps; ResNet-18: its first"
          " step alone in brackets)")
    print(f"{'model':<12} {'call':<9} {'old':>13} {'list':>13} {'kept':>13} {'old/list':>8}"
          f" {'old/kept':>8}")
    for model, batch in CASES:
        got = time_calls(capture(model, batch, args.phases), args.repeat)
        for call in CALLS:
            o, li, k = (got[call, v] for v in ("old", "list", "kept"))
            cells = [f"{m:.3f}" + (f" [{f:.3f}]" if model == "resnet18" else "")
                     for m, f in (o, li, k)]
            print(f"{model:<12} {call:<9} {cells[0]:>13} {cells[1]:>13} {cells[2]:>13}"
                  f" {o[0] / li[0]:>8.1f} {o[0] / k[0]:>8.1f}")
        if model in TIMELINE_TARGET_MS:
            ms = got["timeline", "list"][1]
            ok = "met" if ms <= TIMELINE_TARGET_MS[model] else "NOT met"
            print(f"  target <= {TIMELINE_TARGET_MS[model]} ms for the first step's timeline"
                  f" call (list): {ok}")
    print("identical: old, list and kept, every step and call (repr, timeline included)")


if __name__ == "__main__":
    main()
