"""Search against brute force on a space small enough to enumerate (docs/sweeps.md, "Search").

    python studies/search/run.py [--workers N] [--budget 500] [--seeds 5]

Evaluates every point of `config.yaml` once (the brute force; kept in `brute_force.db` next to
this file, so a rerun only reads it), then searches with NSGA-II, multi-objective TPE and uniform
random sampling, `--budget` evaluations each, for `--seeds` seeds, on the same store: a search's
points are read from the brute force's rows (same keys), so no point is simulated twice, and a
rerun replays each search from its recorded evaluations. Writes `results.md` and `results.csv`
(hypervolume fraction per method and seed). `brute_force.db` is not committed (about 10 MB).

Hypervolume (rctsim.sweep.search_metrics): objectives normalised by the ideal (0) and nadir (1)
of the brute-force front, reference point 1.1 in each; also, for comparison, normalised over
every feasible point of the space (its worst point at 1).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from rctsim.sweep import LocalExecutor, SweepStore, TraceCache, default_cache_dir, pareto_front
from rctsim.sweep.config import load_sweep_config
from rctsim.sweep.search_metrics import Normaliser, hypervolume_curve
from rctsim.sweep.search_run import evaluate_space, plan_search, run_search

HERE = Path(__file__).resolve().parent
"""The study's folder (outputs are written here)."""
METHODS = ("nsga2", "tpe", "random")
"""The search methods and the uniform random baseline."""
CHECKPOINT_SHARES = (0.2, 0.4, 0.6, 0.8, 1.0)
"""Shares of the budget at which the hypervolume fraction is tabled (100, 200, ... of 500)."""


def checkpoints(budget: int) -> list[int]:
    """Evaluation counts at which the hypervolume fraction is tabled."""
    return sorted({max(1, round(budget * share)) for share in CHECKPOINT_SHARES})


def study(config: Path, *, workers: int, budget: int, seeds: int, out: Path,
          store_dir: Path) -> dict:
    """Brute force, then every search; returns the numbers results.md shows."""
    settings = load_sweep_config(config)
    plan = plan_search(settings, source=str(config), base_dir=config.parent)
    executor = LocalExecutor(workers)
    cache = TraceCache(default_cache_dir())
    brute_db = store_dir / "brute_force.db"
    timings = {}
    try:
        start = time.perf_counter()
        with SweepStore(brute_db) as db:
            before = db.count()
            brute = evaluate_space(plan, store=db, executor=executor, cache=cache)
            rows = db.rows(b["key"] for b in brute if b["key"])
            timings["brute_force_simulated"] = db.count() - before
        timings["brute_force_s"] = time.perf_counter() - start
        all_rows = [rows[b["key"]] for b in brute if b["key"]]
        norm = Normaliser(all_rows, plan.sweep.objectives)
        best = norm.hypervolume(all_rows)
        wide = Normaliser(all_rows, plan.sweep.objectives, scope="all")
        wide_best = wide.hypervolume(all_rows)
        runs = []
        start = time.perf_counter()
        for method in METHODS:
            for seed in range(seeds):
                t0 = time.perf_counter()
                with SweepStore(brute_db) as db:
                    outcome = run_search(plan, store=db, executor=executor, cache=cache,
                                         budget=budget, method=method, seed=seed)
                    found = db.rows(e.key for e in outcome.evaluations if e.key)
                seconds = time.perf_counter() - t0
                ordered = [found[e.key] for e in outcome.evaluations if e.key]
                curve = hypervolume_curve(ordered, norm)
                runs.append({"method": method, "seed": seed, "evaluations":
                             len(outcome.evaluations), "trials": outcome.trials,
                             "fraction": curve[-1] / best if curve else 0.0,
                             "fraction_all": wide.hypervolume(ordered) / wide_best,
                             "curve": [c / best for c in curve], "seconds": seconds,
                             "front": len(pareto_front(ordered, plan.sweep.objectives))})
                print(f"{method} seed {seed}: {runs[-1]['fraction']:.4f} of the brute-force "
                      f"hypervolume, {seconds:.1f} s", file=sys.stderr)
        timings["searches_s"] = time.perf_counter() - start
    finally:
        executor.close()
    feasible = sum(1 for b in brute if b["status"] == "ok")
    return {"plan": plan, "points": len(brute), "feasible": feasible,
            "brute_front": len(pareto_front(all_rows, plan.sweep.objectives)),
            "hypervolume": best, "hypervolume_all": wide_best, "runs": runs,
            "timings": timings, "budget": budget}


def write_results(result: dict, out: Path, total_s: float, workers: int) -> None:
    """results.csv (one row per method and seed) and results.md."""
    runs = result["runs"]
    marks = checkpoints(result["budget"])
    with (out / "results.csv").open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["method", "seed", "evaluations", "trials", "front_points",
                         *(f"fraction_at_{c}" for c in marks), "fraction",
                         "fraction_space_normalised"])
        for r in runs:
            at = [f"{r['curve'][c - 1]:.6f}" if len(r["curve"]) >= c else "" for c in marks]
            writer.writerow([r["method"], r["seed"], r["evaluations"], r["trials"], r["front"],
                             *at, f"{r['fraction']:.6f}", f"{r['fraction_all']:.6f}"])
    plan = result["plan"]
    lines = [
        "# Search against brute force",
        "",
        "Produced by `python studies/search/run.py` (numbers below are from its last run).",
        "",
        f"Space: `studies/search/config.yaml`, {result['points']:,} points "
        f"({', '.join(plan.space.names())}); {result['feasible']:,} simulate, "
        f"{result['points'] - result['feasible']:,} are rejected by the model. Objectives: "
        f"{', '.join(str(o) for o in plan.sweep.objectives)}. The brute-force front has "
        f"{result['brute_front']} points.",
        "",
        "Hypervolume: every objective normalised by the brute-force front's ideal (0) and nadir "
        "(1), reference point 1.1 in each (docs/sweeps.md); the fraction is a search's front "
        f"hypervolume over the brute force's ({result['hypervolume']:.4f}). Budget "
        f"{result['budget']} "
        "distinct evaluations per search (a proposal of an already evaluated point is told "
        "its stored result and does not count); batches of 16.",
        "",
        "| method | mean | " + " | ".join(f"seed {r['seed']}" for r in runs
                                         if r["method"] == METHODS[0]) + " |",
        "|---|---|" + "---|" * sum(1 for r in runs if r["method"] == METHODS[0]),
    ]
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        mean = float(np.mean([r["fraction"] for r in mine]))
        lines.append(f"| {method} | {mean:.1%} | "
                     + " | ".join(f"{r['fraction']:.1%}" for r in mine) + " |")
    lines += ["", "The same fractions with the objectives normalised over every feasible point "
              "of the space instead (its worst point at 1, reference 1.1; brute force "
              f"{result['hypervolume_all']:.4f}): most of that volume lies far from the front "
              "and any sample covers it, so it separates the methods far less.", "",
              "| method | mean | " + " | ".join(f"seed {r['seed']}" for r in runs
                                               if r["method"] == METHODS[0]) + " |",
              "|---|---|" + "---|" * sum(1 for r in runs if r["method"] == METHODS[0])]
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        mean = float(np.mean([r["fraction_all"] for r in mine]))
        lines.append(f"| {method} | {mean:.1%} | "
                     + " | ".join(f"{r['fraction_all']:.1%}" for r in mine) + " |")
    lines += ["", "Mean fraction (front-normalised) reached after N evaluations:", "",
              "| method | " + " | ".join(str(c) for c in marks) + " |",
              "|---|" + "---|" * len(marks)]
    for method in METHODS:
        mine = [r for r in runs if r["method"] == method]
        cells = []
        for c in marks:
            vals = [r["curve"][min(c, len(r["curve"])) - 1] for r in mine if r["curve"]]
            cells.append(f"{np.mean(vals):.1%}" if vals else "")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    t = result["timings"]
    computed = (f"{t['brute_force_simulated']:,} points simulated" if
                t["brute_force_simulated"] else "read from `brute_force.db`, nothing simulated")
    lines += ["", f"Runtime: {total_s:.0f} s in all with {workers} worker process(es) on the "
              f"2-core development machine (shared with other jobs): brute force "
              f"{t['brute_force_s']:.0f} s ({computed}), {len(runs)} searches "
              f"{t['searches_s']:.0f} s (their points come from the brute force's rows, so "
              "this is the samplers' and the store's time).", ""]
    (out / "results.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    """Run the study and write its results next to this file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=HERE / "config.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--store-dir", type=Path, default=HERE)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = study(args.config, workers=args.workers, budget=args.budget, seeds=args.seeds,
                   out=args.out, store_dir=args.store_dir)
    write_results(result, args.out, time.perf_counter() - start, args.workers)
    print((args.out / "results.md").read_text())


if __name__ == "__main__":
    main()
