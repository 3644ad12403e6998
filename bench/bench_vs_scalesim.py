"""ResNet-18 forward GEMMs (224x224, batch 1) through our closed-form model and through SCALE-Sim.

Prints per-layer cycles from both, whether they agree, and the wall time of each. SCALE-Sim runs
only where `import scalesim` works (a throw-away venv, see tools/make_scalesim_fixture.py):

    PYTHONPATH=. /tmp/ssvenv/bin/python bench/bench_vs_scalesim.py --rows 32 --cols 32 --dataflow ws

Elsewhere (plain `python bench/bench_vs_scalesim.py`) it times our model and says SCALE-Sim was
skipped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hwmodels.schema import ArraySpec
from hwmodels.systolic import SystolicArray, compute_cycles_np
from rctsim.reuse import clear_process_memos

RESNET18_GEMMS: list[tuple[str, int, int, int]] = [
    ("conv1", 112 * 112, 64, 3 * 7 * 7),
    *[(f"layer1.{b}.conv{c}", 56 * 56, 64, 64 * 9) for b in (0, 1) for c in (1, 2)],
    ("layer2.0.conv1", 28 * 28, 128, 64 * 9),
    ("layer2.0.conv2", 28 * 28, 128, 128 * 9),
    ("layer2.0.downsample", 28 * 28, 128, 64),
    ("layer2.1.conv1", 28 * 28, 128, 128 * 9),
    ("layer2.1.conv2", 28 * 28, 128, 128 * 9),
    ("layer3.0.conv1", 14 * 14, 256, 128 * 9),
    ("layer3.0.conv2", 14 * 14, 256, 256 * 9),
    ("layer3.0.downsample", 14 * 14, 256, 128),
    ("layer3.1.conv1", 14 * 14, 256, 256 * 9),
    ("layer3.1.conv2", 14 * 14, 256, 256 * 9),
    ("layer4.0.conv1", 7 * 7, 512, 256 * 9),
    ("layer4.0.conv2", 7 * 7, 512, 512 * 9),
    ("layer4.0.downsample", 7 * 7, 512, 256),
    ("layer4.1.conv1", 7 * 7, 512, 512 * 9),
    ("layer4.1.conv2", 7 * 7, 512, 512 * 9),
    ("fc", 1, 1000, 512),
]
"""torchvision resnet18 forward GEMMs (name, M = output pixels, N = out channels, K = window)."""


def our_cycles(rows: int, cols: int, dataflow: str, repeat: int) -> tuple[list[int], float, float]:
    """Cycles per layer from SystolicArray.gemm; seconds per pass: per-call and vectorised."""
    spec = ArraySpec(rows=rows, cols=cols, dataflow=dataflow, clock_hz=1e9, int_bits=[8],
                     pe_area_um2=1.0, pe_leakage_uw=0.0, area_source="timing only",
                     source="bench")
    elapsed = 0.0
    for _ in range(repeat):  # each pass computed, not read back: a fresh array, memos emptied
        array = SystolicArray(spec)
        clear_process_memos()
        start = time.perf_counter()
        cycles = [array.gemm(m, n, k, 8, 8, False).compute_cycles for _, m, n, k in RESNET18_GEMMS]
        elapsed += time.perf_counter() - start
    per_call = elapsed / repeat
    dims = np.array([(m, n, k) for _, m, n, k in RESNET18_GEMMS]).T
    start = time.perf_counter()
    for _ in range(repeat):
        vectorised = compute_cycles_np(dims[0], dims[1], dims[2], rows, cols, dataflow)
    per_vector = (time.perf_counter() - start) / repeat
    assert list(vectorised) == cycles
    return cycles, per_call, per_vector


def scalesim_cycles(rows: int, cols: int, dataflow: str) -> tuple[list[int], float] | None:
    """Cycles per layer from one SCALE-Sim run and its wall time; None if scalesim is absent."""
    try:
        import scalesim  # noqa: F401
    except ImportError:
        return None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from make_scalesim_fixture import run_one

    shapes = [(m, n, k) for _, m, n, k in RESNET18_GEMMS]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        records = run_one(rows, cols, dataflow, Path(tmp), shapes=shapes)
        seconds = time.perf_counter() - start
    return [int(r["compute_cycles"]) for r in records], seconds


def main() -> None:
    """Parse arguments, run both models, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--cols", type=int, default=32)
    parser.add_argument("--dataflow", choices=["ws", "os", "is"], default="ws")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    ours, per_call, per_vector = our_cycles(args.rows, args.cols, args.dataflow, args.repeat)
    print(f"ResNet-18 forward, batch 1, 224x224: {len(RESNET18_GEMMS)} GEMMs on "
          f"{args.rows}x{args.cols} {args.dataflow}")
    print(f"ours: {per_call * 1e3:.3f} ms per pass (SystolicArray.gemm), "
          f"{per_vector * 1e6:.1f} us per pass (compute_cycles_np)")
    reference = scalesim_cycles(args.rows, args.cols, args.dataflow)
    if reference is None:
        print("SCALE-Sim: skipped (import scalesim failed)")
        print(f"total cycles (ours): {sum(ours)}")
        return
    theirs, seconds = reference
    print(f"{'layer':22s} {'M':>6s} {'N':>5s} {'K':>5s} {'ours':>10s} {'scalesim':>10s}  agree")
    for (name, m, n, k), mine, ref in zip(RESNET18_GEMMS, ours, theirs, strict=True):
        print(f"{name:22s} {m:6d} {n:5d} {k:5d} {mine:10d} {ref:10d}  {mine == ref}")
    agree = sum(a == b for a, b in zip(ours, theirs, strict=True))
    print(f"total cycles: ours {sum(ours)}, SCALE-Sim {sum(theirs)}; "
          f"{agree}/{len(ours)} layers agree exactly")
    print(f"SCALE-Sim: {seconds:.2f} s; ratio SCALE-Sim / ours: {seconds / per_call:,.0f}x "
          f"(per-call), {seconds / per_vector:,.0f}x (vectorised)")


if __name__ == "__main__":
    main()
