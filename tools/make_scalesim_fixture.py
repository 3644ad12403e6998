"""Run SCALE-Sim on a grid of GEMMs and write tests/fixtures/scalesim_cycles.json.

Runs ONLY in a throw-away venv that has SCALE-Sim installed, never in the tests or CI:

    python -m venv /tmp/ssvenv
    /tmp/ssvenv/bin/pip install scalesim 'numpy<2.4'
    /tmp/ssvenv/bin/python tools/make_scalesim_fixture.py tests/fixtures/scalesim_cycles.json

(scalesim 3.0.0 crashes under numpy >= 2.4: it calls int() on a 1-element array.)

Each (array, dataflow) pair is one SCALE-Sim run whose GEMM topology file lists every shape as a
layer (`name, M, N, K,`: SCALE-Sim's M = output pixels, K = window, N = filters, the same letters as
our forward GEMM). SRAMs are 4 MiB each and the interface bandwidth is CALC (estimated), so the
memory model adds no stall cycles; the script checks that. The numbers are read from SCALE-Sim's
own COMPUTE_REPORT.csv and DETAILED_ACCESS_REPORT.csv.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import sys
import tempfile
from contextlib import redirect_stdout
from importlib.metadata import version
from pathlib import Path

SRAM_KB = 4096
"""Size of each of SCALE-Sim's three SRAMs (ifmap, filter, ofmap): large enough to never stall."""

ARRAYS: list[tuple[int, int]] = [
    (4, 4), (8, 8), (16, 16), (12, 14), (32, 32), (8, 32), (32, 8), (1, 6), (6, 1),
]
"""Array (rows, cols) sizes run. Not 1x1: SCALE-Sim divides by zero on a 1x1x1 os GEMM there."""

DATAFLOWS = ("ws", "os", "is")
"""SCALE-Sim dataflows run."""

SHAPES: list[tuple[int, int, int]] = [
    (1, 1, 1),  # tiny
    (4, 4, 4),  # exactly one 4x4 fold
    (10, 6, 5),  # non-multiples of every array
    (7, 13, 3),  # small, odd
    (64, 8, 9),  # tall
    (3, 50, 12),  # wide
    (9, 10, 200),  # deep reduction
    (1, 32, 64),  # M = 1 (batch-1 linear layer)
    (50, 1, 17),  # N = 1
    (33, 17, 1),  # K = 1
    (100, 20, 30),  # medium
    (49, 64, 27),  # a small conv layer (7x7 pixels, 3x3x3 window, 64 filters)
]
"""GEMM shapes (M, N, K) run on every array and dataflow."""

CONFIG_TEMPLATE = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {sram_kb}
FilterSramSzkB: {sram_kb}
OfmapSramSzkB: {sram_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : 10
Dataflow : {dataflow}
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 1
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 1
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""
"""SCALE-Sim 3.0.0 config file (every section its parser requires)."""


def _read_report(path: Path) -> list[dict[str, str]]:
    """One dict per layer of a SCALE-Sim report CSV (headers and cells stripped)."""
    with path.open() as handle:
        rows = list(csv.reader(handle))
    header = [h.strip() for h in rows[0] if h.strip()]
    return [dict(zip(header, (c.strip() for c in row), strict=False)) for row in rows[1:] if row]


def run_one(rows: int, cols: int, dataflow: str, work: Path,
            shapes: list[tuple[int, int, int]] = SHAPES) -> list[dict[str, object]]:
    """Run SCALE-Sim once for one array and dataflow over `shapes` (M, N, K); one record each."""
    from scalesim.scale_sim import scalesim

    run_name = f"r{rows}x{cols}_{dataflow}"
    config = work / f"{run_name}.cfg"
    config.write_text(
        CONFIG_TEMPLATE.format(
            run_name=run_name, rows=rows, cols=cols, sram_kb=SRAM_KB, dataflow=dataflow
        )
    )
    topology = work / f"{run_name}_topo.csv"
    topology.write_text(
        "Layer, M, N, K,\n" + "".join(f"g{i}, {m}, {n}, {k},\n" for i, (m, n, k) in
                                      enumerate(shapes))
    )
    layout = work / "layout.csv"
    layout.write_text("Layer, unused,\n")
    with redirect_stdout(io.StringIO()):
        sim = scalesim(save_disk_space=True, verbose=False, config=str(config),
                       topology=str(topology), layout=str(layout), input_type_gemm=True)
        sim.run_scale(top_path=str(work))
    compute = _read_report(work / run_name / "COMPUTE_REPORT.csv")
    detail = _read_report(work / run_name / "DETAILED_ACCESS_REPORT.csv")
    records = []
    for (m, n, k), comp, det in zip(shapes, compute, detail, strict=True):
        if int(comp["Stall Cycles"]) != 0:
            raise RuntimeError(f"stalls in {run_name} {m, n, k}: raise SRAM_KB")
        records.append({
            "m": m, "n": n, "k": k, "rows": rows, "cols": cols, "dataflow": dataflow,
            "compute_cycles": int(comp["Total Cycles"]),
            "stall_cycles": int(comp["Stall Cycles"]),
            "overall_util_pct": float(comp["Overall Util %"]),
            "mapping_efficiency_pct": float(comp["Mapping Efficiency %"]),
            "compute_util_pct": float(comp["Compute Util %"]),
            "ifmap_sram_reads": int(det["SRAM IFMAP Reads"]),
            "filter_sram_reads": int(det["SRAM Filter Reads"]),
            "ofmap_sram_writes": int(det["SRAM OFMAP Writes"]),
        })
    return records


def header() -> dict[str, object]:
    """Provenance written at the top of the fixture."""
    return {
        "tool": "SCALE-Sim (pip package scalesim)",
        "scalesim_version": version("scalesim"),
        "numpy_version": version("numpy"),
        "python": platform.python_version(),
        "command": (
            "python -m venv /tmp/ssvenv && /tmp/ssvenv/bin/pip install scalesim 'numpy<2.4' && "
            "/tmp/ssvenv/bin/python tools/make_scalesim_fixture.py "
            "tests/fixtures/scalesim_cycles.json"
        ),
        "script": "tools/make_scalesim_fixture.py",
        "scalesim_setup": (
            f"GEMM topology input (-i gemm: rows 'name, M, N, K,'), SRAMs {SRAM_KB} kB each, "
            "InterfaceBandwidth CALC, no sparsity, default layouts; one run per array x dataflow"
        ),
        "fields": {
            "compute_cycles": "COMPUTE_REPORT.csv 'Total Cycles' (stall_cycles is 0 in every case)",
            "overall_util_pct": "COMPUTE_REPORT.csv 'Overall Util %' (100*M*N*K/(cycles*R*C))",
            "mapping_efficiency_pct": "COMPUTE_REPORT.csv 'Mapping Efficiency %'",
            "compute_util_pct": "COMPUTE_REPORT.csv 'Compute Util %'",
            "ifmap_sram_reads": "DETAILED_ACCESS_REPORT.csv 'SRAM IFMAP Reads' (operand X[M,K])",
            "filter_sram_reads": "DETAILED_ACCESS_REPORT.csv 'SRAM Filter Reads' (operand W[K,N])",
            "ofmap_sram_writes": "DETAILED_ACCESS_REPORT.csv 'SRAM OFMAP Writes' (output Y[M,N])",
        },
        "known_quirks": [
            "os ofmap_sram_writes = M*N + folds*(rows+cols): systolic_compute_os.py counts "
            "each fold's writes twice, once as rows_used*cols_used and once as rows+cols of the "
            "padded tile (a second increment after padding); the true count is M*N",
            "compute cycles are the 0-based index of the last cycle (demand lines - 1)",
        ],
    }


def main(out_path: str) -> None:
    """Run every array x dataflow and write the fixture JSON."""
    cases: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows, cols in ARRAYS:
            for dataflow in DATAFLOWS:
                cases += run_one(rows, cols, dataflow, Path(tmp))
                print(f"done {rows}x{cols} {dataflow}", file=sys.stderr)
    lines = ",\n  ".join(json.dumps(case) for case in cases)
    text = f'{{"header": {json.dumps(header(), indent=1)},\n "cases": [\n  {lines}\n ]\n}}\n'
    json.loads(text)
    Path(out_path).write_text(text)
    print(f"wrote {len(cases)} cases to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/scalesim_cycles.json")
