"""Per-call speed of the DRAM mapping search: the exhaustive grid of main at 0af9091 (the copy in
tests/test_mapping_search.py) against this checkout's search, on the GEMMs a replay maps.

    python bench/bench_mapping.py [--rounds K] [--phases N]

The GEMMs are the distinct (operands, workspace) pairs the counting asks `choose_mapping` for
while replaying bench_speed.py's synthetic traces (N distinct phases) of ResNet-18 at 224,
MobileNetV2 and BERT-tiny (batch 32) on `edge_npu` and on `mcu_npu`. Each round empties both
sides' candidate memos (as a replay's first run finds them), then calls the old search on every
GEMM, then the new one (neither answer memoised); the best time of each call over K rounds is
kept (a shared machine's load hits both alike). Asserts that the two Mappings are equal field
for field on every GEMM; prints microseconds per call of each side, per workload and in all,
and the ratio. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

CASES = ("resnet18", "mobilenetv2", "bert_tiny")
HARDWARE = ("edge_npu", "mcu_npu")
TARGET_RATIO = 3.0
"""Issue 15's mapping-search target: the new search at least 3x faster per call."""


def _gemms(phases: int) -> dict[str, list]:
    """(workload label) -> the distinct (GemmOperands, workspace) pairs its replay maps."""
    from bench_speed import _trace

    import rctsim.mapping as mapping
    from rctsim.replay import simulate

    found: dict[str, list] = {}
    search = mapping._choose_mapping
    for hw in HARDWARE:
        for model in CASES:
            calls: list = []

            def record(ops, workspace, calls=calls):
                calls.append((ops, workspace))
                return search(ops, workspace)

            mapping._choose_mapping = record
            try:
                simulate(hw, _trace(model, 32, phases), baseline=None)
            finally:
                mapping._choose_mapping = search
            found[f"{model}/{hw}"] = list(dict.fromkeys(calls))
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--phases", type=int, default=8)
    args = ap.parse_args()

    from test_mapping_search import _ref_candidates, reference_search

    import rctsim.mapping as mapping

    new_search = mapping._choose_mapping.__wrapped__  # the search without the answer memo
    workloads = _gemms(args.phases)
    flat = [(label, ops, ws) for label, pairs in workloads.items() for ops, ws in pairs]
    best_old = [float("inf")] * len(flat)
    best_new = [float("inf")] * len(flat)
    clock = time.perf_counter
    for _ in range(args.rounds):
        _ref_candidates.cache_clear()
        mapping._candidates_of.cache_clear()
        for side, best in ((reference_search, best_old), (new_search, best_new)):
            for i, (_, ops, ws) in enumerate(flat):
                t0 = clock()
                side(ops, ws)
                best[i] = min(best[i], clock() - t0)
    for _, ops, ws in flat:
        old, new = reference_search(ops, ws), new_search(ops, ws)
        assert new == old, (ops, ws, old, new)
    print(f"{'workload':24s} {'GEMMs':>6s} {'old us/call':>12s} {'new us/call':>12s} "
          f"{'ratio':>6s}")
    rows = [(label, [i for i, f in enumerate(flat) if f[0] == label]) for label in workloads]
    rows.append(("all", list(range(len(flat)))))
    for label, idx in rows:
        old = sum(best_old[i] for i in idx) / len(idx) * 1e6
        new = sum(best_new[i] for i in idx) / len(idx) * 1e6
        print(f"{label:24s} {len(idx):6d} {old:12.1f} {new:12.1f} {old / new:6.2f}")
    old = sum(best_old) / len(flat)
    new = sum(best_new) / len(flat)
    print(f"identical Mappings on all {len(flat)} GEMMs; ratio {old / new:.2f} "
          f"(target >= {TARGET_RATIO:.0f}): {'met' if old / new >= TARGET_RATIO else 'NOT met'}")


if __name__ == "__main__":
    main()
