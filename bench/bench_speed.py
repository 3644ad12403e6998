"""Replay and sweep speed of this checkout against today's release, same inputs, one run.

    python bench/bench_speed.py [--base-commit REV] [--base-dir DIR] [--phases N] [--repeat R]
                                [--rounds K] [--many-phases M] [--sweep-workers W] [--skip ...]

The release (`--base-commit`, default c0e2661, main before issue 15's second step) is unpacked
once with `git archive REV | tar -x` into DIR (kept for the next run). Each side runs in its own
subprocess of this Python with PYTHONPATH at its checkout (sweep workers inherit it) and the
two sides alternate for K rounds; the best round of each side is kept (a shared machine's load
hits both alike). Three measurements:

- replay: the same synthetic traces (N distinct phases: random per-layer weight-bit changes) of
  ResNet-18 at 224, MobileNetV2 and BERT-tiny (batch 32) on `edge_npu` without a baseline, best
  of R runs per round, per distinct phase. Every in-process memo (the mapping search's) is
  emptied before each timed run, so a run costs what the first run in a fresh process costs;
- sweep: `bench/bench_sweep.py`'s set (240 hardware points x 3 bundled traces) on W local
  worker processes (default 2), points per second of wall time;
- many phases: one trace of ResNet-18 at 224 with M distinct phases (default 10,000; a random
  walk of per-layer weight bits, repeated patterns dropped), one run per side (first round).

Prints the ratios and checks that totals (energy, cycles, DRAM bytes; every sweep point's
metrics) agree to 1e-12 relative. CPU seconds of the timing process are printed beside wall
seconds for the replays (other users' load on a shared machine shows in wall time only).
A benchmark, not a test: machines are noisy; compare numbers from one run only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = (("resnet18", 32), ("mobilenetv2", 32), ("bert_tiny", 32))
"""(shape model, batch) replayed on edge_npu."""
HARDWARE = "edge_npu"
ITERATIONS = 10_000
REL = 1e-12
TARGETS = {"resnet18_ms_per_phase": 4.0, "sweep_points_per_s": 400.0, "many_phases_s": 30.0}
"""Issue 15's targets."""


def _trace(model: str, batch: int, phases: int, seed: int = 0, iterations: int = ITERATIONS):
    import numpy as np

    from rctsim.synth import synth_trace
    from rctsim.trace.model import Trace

    base = synth_trace(model, batch_size=batch, iterations=iterations, schedule="w=8,a=8,g=8")
    rng = np.random.default_rng(seed)
    starts = np.arange(phases) * (iterations // phases)
    bits = np.repeat(base.phase_bits[:1], phases, axis=0).copy()
    for p in range(1, phases):
        bits[p] = bits[p - 1]
        layer = rng.integers(0, base.n_layers)
        bits[p, layer, 0] = 4 + (int(bits[p, layer, 0]) - 4 + 1 + rng.integers(0, 12)) % 13
    return Trace.build(header=base.header, layers=base.layers, phase_start=starts,
                       phase_bits=bits)


def _many_phase_trace(model: str, batch: int, phases: int, seed: int = 1):
    """`phases` distinct bit patterns, each one layer's weight bits away from the one before
    (a random walk; a pattern met again is skipped), one phase each."""
    import numpy as np

    from rctsim.synth import synth_trace
    from rctsim.trace.model import Trace

    base = synth_trace(model, batch_size=batch, iterations=phases * 10, schedule="w=8,a=8,g=8")
    rng = np.random.default_rng(seed)
    row = base.phase_bits[0].copy()
    seen, rows = {row.tobytes()}, [row.copy()]
    while len(rows) < phases:
        layer = rng.integers(0, base.n_layers)
        row[layer, 0] = 4 + (int(row[layer, 0]) - 4 + 1 + rng.integers(0, 12)) % 13
        if row.tobytes() not in seen:
            seen.add(row.tobytes())
            rows.append(row.copy())
    return Trace.build(header=base.header, layers=base.layers,
                       phase_start=np.arange(phases) * 10, phase_bits=np.stack(rows))


MEMOS = (("rctsim.mapping", "_choose_mapping"), ("rctsim.mapping", "_candidates_of"))
"""Process-wide memos of a checkout without `rctsim.reuse.clear_process_memos` (module, name)."""


def _clear_memos() -> None:
    """Empty the in-process memos of pure functions of whichever checkout runs (none in the
    release): `rctsim.reuse.clear_process_memos` where it exists, else MEMOS."""
    import importlib

    try:
        from rctsim.reuse import clear_process_memos
    except ImportError:
        clear_process_memos = None
    if clear_process_memos is not None:
        clear_process_memos()
        return
    for module, name in MEMOS:
        try:
            memo = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if memo is not None and hasattr(memo, "cache_clear"):
            memo.cache_clear()


def _totals(res, tr) -> dict:
    pr = res.policies[tr.header.policy.name]
    return {"distinct_phases": pr.distinct_phases, "energy_pj": pr.energy_pj["total"],
            "cycles": pr.cycles["total"],
            "dram_bytes": pr.traffic_bytes["dram_read"] + pr.traffic_bytes["dram_write"]}


def replay_worker(phases: int, repeat: int) -> dict:
    """Time the cases with whatever `rctsim` is importable; JSON-ready numbers."""
    from rctsim.replay import simulate

    out = {}
    for model, batch in CASES:
        tr = _trace(model, batch, phases)
        simulate(HARDWARE, tr, baseline=None)  # warm: imports, presets, tables
        best, best_cpu = math.inf, math.inf
        for _ in range(repeat):
            _clear_memos()
            start, cpu = time.perf_counter(), time.process_time()
            res = simulate(HARDWARE, tr, baseline=None)
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        out[model] = {"seconds": best, "cpu_seconds": best_cpu, **_totals(res, tr)}
    return out


def many_worker(phases: int) -> dict:
    """One replay of the many-phase trace."""
    from rctsim.replay import simulate

    tr = _many_phase_trace("resnet18", 32, phases)
    simulate(HARDWARE, _trace("bert_tiny", 32, 1), baseline=None)  # warm imports only
    _clear_memos()
    start, cpu = time.perf_counter(), time.process_time()
    res = simulate(HARDWARE, tr, baseline=None)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            **_totals(res, tr)}


def sweep_worker(workers: int) -> dict:
    """bench_sweep.py's set on `workers` local processes: wall seconds and every point's
    metrics (by point key)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_sweep import HARDWARE_AXES, traces

    from rctsim.sweep import (
        LocalExecutor,
        SweepStore,
        TraceCache,
        parse_sweep_config,
        plan_sweep,
        run_sweep,
        sweep_table,
    )

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names, what = traces(folder, False)
        data = {"hardware": {"base": HARDWARE, "axes": HARDWARE_AXES},
                "policies": {"traces": names}}
        plan = plan_sweep(parse_sweep_config("bench", data), source="bench", base_dir=folder)
        executor = LocalExecutor(workers)
        with SweepStore(folder / "bench.db") as store:
            start = time.perf_counter()
            outcome = run_sweep(plan, store=store, executor=executor,
                                cache=TraceCache(folder / "cache"))
            seconds = time.perf_counter() - start
            rows = sweep_table(plan, outcome.points, store)
        executor.close()
    skip = {"elapsed_s", "finished_at", "rctsim_version"}
    metrics = {r["key"]: {k: v for k, v in r.items() if k not in skip
                          and isinstance(v, float | int) and not isinstance(v, bool)}
               for r in rows}
    return {"what": what, "points": len(outcome.points), "seconds": seconds,
            "errors": outcome.errors, "metrics": metrics}


def _side(checkout: Path, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                          env=env, cwd=checkout, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{checkout}: {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(got["rctsim"]) != checkout / "rctsim":
        raise SystemExit(f"the worker for {checkout} imported rctsim from {got['rctsim']}")
    return got["out"]


def _worst(a: dict, b: dict, fields) -> float:
    return max((abs(a[f] - b[f]) / abs(b[f]) if b[f] else abs(a[f]) for f in fields),
               default=0.0)


def _base_checkout(rev: str, base_dir: Path) -> str:
    """Unpack `rev` into `base_dir` once (git archive: no worktree entry); its short hash."""
    short = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                           capture_output=True, text=True, check=True).stdout.strip()
    if not (base_dir / "rctsim").is_dir():
        base_dir.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base_dir)], input=archive, check=True)
    return short


def main() -> None:
    """Run both sides and print the ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-commit", default="c0e2661")
    ap.add_argument("--base-dir", type=Path, default=None,
                    help="where the release is unpacked (default /tmp/rctsim-bench-REV)")
    ap.add_argument("--phases", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--many-phases", type=int, default=10_000)
    ap.add_argument("--sweep-workers", type=int, default=2)
    ap.add_argument("--skip", nargs="*", default=[], choices=["replay", "sweep", "many"])
    ap.add_argument("--worker", choices=["replay", "sweep", "many"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        import rctsim

        out = {"replay": lambda: replay_worker(args.phases, args.repeat),
               "sweep": lambda: sweep_worker(args.sweep_workers),
               "many": lambda: many_worker(args.many_phases)}[args.worker]()
        print(json.dumps({"rctsim": str(Path(rctsim.__file__).resolve().parent), "out": out}))
        return
    base_dir = (args.base_dir or Path(f"/tmp/rctsim-bench-{args.base_commit}")).resolve()
    rev = _base_checkout(args.base_commit, base_dir)
    sides = (("base", base_dir), ("new", ROOT))
    best: dict[str, dict[str, dict]] = {"base": {}, "new": {}}

    def keep(side: str, name: str, got: dict) -> None:
        if name not in best[side] or got["seconds"] < best[side][name]["seconds"]:
            best[side][name] = got

    for round_ in range(args.rounds):
        for side, checkout in sides:
            if "replay" not in args.skip:
                for model, got in _side(checkout, "--worker", "replay", "--phases",
                                        str(args.phases), "--repeat", str(args.repeat)).items():
                    keep(side, model, got)
            if "sweep" not in args.skip:
                keep(side, "sweep", _side(checkout, "--worker", "sweep", "--sweep-workers",
                                          str(args.sweep_workers)))
            if "many" not in args.skip and round_ == 0:  # minutes a side: one round
                keep(side, "many", _side(checkout, "--worker", "many", "--many-phases",
                                         str(args.many_phases)))
    load = os.getloadavg()
    print(f"base = {rev} ({base_dir}), new = {ROOT}; best of {args.rounds} alternating rounds; "
          f"{os.cpu_count()} CPUs, load average at the end {load[0]:.1f} {load[1]:.1f}")
    bad = 0
    base, new = best["base"], best["new"]
    fields = ("energy_pj", "cycles", "dram_bytes")
    if "replay" not in args.skip:
        print(f"\nreplay on {HARDWARE}, {args.phases} distinct phases, best of {args.repeat} "
              "runs per round, memos emptied before each run")
        print(f"{'model':<12} {'base ms/phase':>14} {'new ms/phase':>13} {'speed-up':>9} "
              f"{'(CPU time)':>10}  identical")
        for model, _ in CASES:
            b, n = base[model], new[model]
            per_b = b["seconds"] / b["distinct_phases"] * 1e3
            per_n = n["seconds"] / n["distinct_phases"] * 1e3
            worst = _worst(n, b, fields)
            bad += worst > REL
            print(f"{model:<12} {per_b:>14.2f} {per_n:>13.2f} {per_b / per_n:>8.2f}x "
                  f"{b['cpu_seconds'] / n['cpu_seconds']:>9.2f}x  "
                  f"{'yes' if worst <= REL else 'NO'} (worst relative difference {worst:.1e})")
        per_n = new["resnet18"]["seconds"] / new["resnet18"]["distinct_phases"] * 1e3
        print(f"target: <= {TARGETS['resnet18_ms_per_phase']:g} ms per distinct phase "
              f"(ResNet-18 224): {per_n:.2f} ms")
    if "sweep" not in args.skip:
        b, n = base["sweep"], new["sweep"]
        worst = 0.0
        if set(b["metrics"]) == set(n["metrics"]):
            pairs = [(n["metrics"][key], want) for key, want in b["metrics"].items()]
        elif len(b["metrics"]) == len(n["metrics"]):
            # point keys hash the options and version: compare the same plan's points in order
            print("sweep: point keys differ (options or version changed); compared in plan order")
            pairs = list(zip(n["metrics"].values(), b["metrics"].values(), strict=True))
        else:
            bad += 1
            pairs = []
            print("sweep: the two sides computed different numbers of points")
        for got, want in pairs:
            worst = max(worst, _worst(got, want, want))
        bad += worst > REL
        rate_b, rate_n = b["points"] / b["seconds"], n["points"] / n["seconds"]
        print(f"\nsweep: {n['what']}, {n['points']} points on {args.sweep_workers} local "
              f"workers (wall time, worker start-up included)")
        print(f"base {rate_b:.1f} points/s, new {rate_n:.1f} points/s: {rate_n / rate_b:.2f}x; "
              f"identical: {'yes' if worst <= REL else 'NO'} (worst relative difference "
              f"{worst:.1e} over every metric of every point)")
        print(f"target: >= {TARGETS['sweep_points_per_s']:g} points/s: {rate_n:.1f}")
    if "many" not in args.skip:
        b, n = base["many"], new["many"]
        worst = _worst(n, b, fields)
        bad += worst > REL
        print(f"\nmany phases: ResNet-18 224 (batch 32), {n['distinct_phases']} distinct phases "
              f"on {HARDWARE}, one run per side")
        print(f"base {b['seconds']:.1f} s (CPU {b['cpu_seconds']:.1f} s), new {n['seconds']:.1f} "
              f"s (CPU {n['cpu_seconds']:.1f} s): {b['seconds'] / n['seconds']:.2f}x; identical: "
              f"{'yes' if worst <= REL else 'NO'} (worst relative difference {worst:.1e})")
        print(f"target: <= {TARGETS['many_phases_s']:g} s: {n['seconds']:.1f} s")
    if bad:
        raise SystemExit(f"{bad} measurement(s) differ by more than {REL:g} relative (where "
                         "the model changed between the two versions, results differ by design; "
                         "tests/test_speed_identity.py checks the fast path against the "
                         "straightforward one of the same version)")


if __name__ == "__main__":
    main()
