"""Run SCALE-Sim on the validation study's ResNet-18 layers; write its reference JSON.

Runs ONLY under a Python that has SCALE-Sim installed (a throw-away venv; SCALE-Sim 3.0.0 crashes
under numpy >= 2.4):

    python -m venv /tmp/ssvenv && /tmp/ssvenv/bin/pip install scalesim 'numpy<2.4' pydantic
    /tmp/ssvenv/bin/python studies/validation/scalesim_layers.py SPEC.json OUT.json

`studies/validation/run.py --scalesim-python /tmp/ssvenv/bin/python` writes SPEC.json (the layer
shapes, arrays and dataflows of config.yaml) and calls this script; it imports nothing from rctsim,
only SCALE-Sim and the fixture tool's `run_one` (tools/make_scalesim_fixture.py: SRAMs 4 MiB,
InterfaceBandwidth CALC, so SCALE-Sim reports no stalls).
"""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_all(spec: dict) -> dict:
    """One SCALE-Sim run per (array, dataflow) over every layer of `spec`; records and timings."""
    sys.path.insert(0, str(ROOT / "tools"))
    from make_scalesim_fixture import SRAM_KB, run_one

    shapes = [(layer["m"], layer["n"], layer["k"]) for layer in spec["layers"]]
    names = [layer["name"] for layer in spec["layers"]]
    cases, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for rows, cols in spec["arrays"]:
            for dataflow in spec["dataflows"]:
                start = time.perf_counter()
                records = run_one(rows, cols, dataflow, Path(tmp), shapes=shapes)
                seconds = time.perf_counter() - start
                runs.append({"rows": rows, "cols": cols, "dataflow": dataflow,
                             "seconds": round(seconds, 3)})
                cases += [{"layer": name, **rec} for name, rec in zip(names, records, strict=True)]
                print(f"SCALE-Sim {rows}x{cols} {dataflow}: {seconds:.1f} s", file=sys.stderr)
    header = {
        "tool": "SCALE-Sim (pip package scalesim)",
        "scalesim_version": version("scalesim"),
        "numpy_version": version("numpy"),
        "python": platform.python_version(),
        "setup": f"GEMM topology input, SRAMs {SRAM_KB} kB each, InterfaceBandwidth CALC, "
                 "no sparsity, default layouts; one run per array x dataflow "
                 "(tools/make_scalesim_fixture.py run_one)",
        "command": "python studies/validation/run.py --scalesim-python /tmp/ssvenv/bin/python",
        "model": spec["model"], "batch_size": spec["batch_size"],
    }
    return {"header": header, "runs": runs, "cases": cases}


def main(spec_path: str, out_path: str) -> None:
    """Read the spec, run SCALE-Sim, write the reference JSON (one case per line)."""
    result = run_all(json.loads(Path(spec_path).read_text()))
    lines = ",\n  ".join(json.dumps(case) for case in result["cases"])
    text = (f'{{"header": {json.dumps(result["header"], indent=1)},\n'
            f' "runs": {json.dumps(result["runs"])},\n "cases": [\n  {lines}\n ]\n}}\n')
    json.loads(text)
    Path(out_path).write_text(text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
