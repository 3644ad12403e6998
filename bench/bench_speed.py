"""Replay speed of this checkout against an earlier commit, on the same inputs, in one run.

    python bench/bench_speed.py [--base-commit REV] [--base-dir DIR] [--phases N] [--repeat R]
                                [--rounds K]

The earlier commit is checked out once with `git worktree add --detach DIR REV` (kept for the
next run). Each side runs in its own subprocess of this Python with PYTHONPATH at its checkout,
replays the same synthetic traces (N distinct phases: random per-layer weight-bit changes) on
`edge_npu` without a baseline; the two sides alternate for K rounds of R warm runs each, and the
best run of each side is reported per distinct phase (a shared machine's load hits both alike).
Prints the ratios and checks that total energy, cycles and DRAM bytes agree to 1e-12 relative.
A benchmark, not a test: machines are noisy; compare numbers from one run only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = (("resnet18", 32), ("mobilenetv2", 32), ("bert_tiny", 32))
"""(shape model, batch) replayed on edge_npu."""
HARDWARE = "edge_npu"
ITERATIONS = 10_000
REL = 1e-12


def _trace(model: str, batch: int, phases: int, seed: int = 0):
    import numpy as np

    from rctsim.synth import synth_trace
    from rctsim.trace.model import Trace

    base = synth_trace(model, batch_size=batch, iterations=ITERATIONS, schedule="w=8,a=8,g=8")
    rng = np.random.default_rng(seed)
    starts = np.arange(phases) * (ITERATIONS // phases)
    bits = np.repeat(base.phase_bits[:1], phases, axis=0).copy()
    for p in range(1, phases):
        bits[p] = bits[p - 1]
        layer = rng.integers(0, base.n_layers)
        bits[p, layer, 0] = 4 + (int(bits[p, layer, 0]) - 4 + 1 + rng.integers(0, 12)) % 13
    return Trace.build(header=base.header, layers=base.layers, phase_start=starts,
                       phase_bits=bits)


def worker(phases: int, repeat: int) -> dict:
    """Time the cases with whatever `rctsim` is importable; JSON-ready numbers."""
    import rctsim
    from rctsim.replay import simulate

    out = {"rctsim": str(Path(rctsim.__file__).resolve().parent), "cases": {}}
    for model, batch in CASES:
        tr = _trace(model, batch, phases)
        res = simulate(HARDWARE, tr, baseline=None)  # warm: imports, first-use caches
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            res = simulate(HARDWARE, tr, baseline=None)
            best = min(best, time.perf_counter() - start)
        pr = res.policies[tr.header.policy.name]
        out["cases"][model] = {
            "distinct_phases": pr.distinct_phases, "seconds": best,
            "energy_pj": pr.energy_pj["total"], "cycles": pr.cycles["total"],
            "dram_bytes": pr.traffic_bytes["dram_read"] + pr.traffic_bytes["dram_write"]}
    return out


def _side(checkout: Path, phases: int, repeat: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker",
                           "--phases", str(phases), "--repeat", str(repeat)],
                          env=env, cwd=checkout, capture_output=True, text=True, check=True)
    got = json.loads(done.stdout)
    if Path(got["rctsim"]) != checkout / "rctsim":
        raise SystemExit(f"the worker for {checkout} imported rctsim from {got['rctsim']}")
    return got["cases"]


def main() -> None:
    """Run both sides and print the ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-commit", default="07ba608")
    ap.add_argument("--base-dir", type=Path, default=Path("/tmp/speedbase"))
    ap.add_argument("--phases", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.phases, args.repeat)))
        return
    base_dir = args.base_dir.resolve()
    if not (base_dir / "rctsim").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_dir),
                        args.base_commit], check=True)
    rev = subprocess.run(["git", "-C", str(base_dir), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=True).stdout.strip()
    base, new = {}, {}
    for _ in range(args.rounds):
        for side, checkout in ((base, base_dir), (new, ROOT)):
            for model, got in _side(checkout, args.phases, args.repeat).items():
                if model not in side or got["seconds"] < side[model]["seconds"]:
                    side[model] = got
    print(f"replay on {HARDWARE}, {args.phases} distinct phases, best of {args.rounds} x "
          f"{args.repeat} warm runs; base = {rev} ({base_dir}), new = {ROOT}")
    print(f"{'model':<12} {'base ms/phase':>14} {'new ms/phase':>13} {'speed-up':>9}  identical")
    bad = 0
    for model, _ in CASES:
        b, n = base[model], new[model]
        per_b = b["seconds"] / b["distinct_phases"] * 1e3
        per_n = n["seconds"] / n["distinct_phases"] * 1e3
        same = all(math.isclose(n[f], b[f], rel_tol=REL, abs_tol=0.0)
                   for f in ("energy_pj", "cycles", "dram_bytes"))
        worst = max(abs(n[f] - b[f]) / abs(b[f]) if b[f] else abs(n[f])
                    for f in ("energy_pj", "cycles", "dram_bytes"))
        bad += not same
        print(f"{model:<12} {per_b:>14.2f} {per_n:>13.2f} {per_b / per_n:>8.2f}x  "
              f"{'yes' if same else 'NO'} (worst relative difference {worst:.1e})")
    if bad:
        raise SystemExit(f"{bad} case(s) differ by more than {REL:g} relative")


if __name__ == "__main__":
    main()
