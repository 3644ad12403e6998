"""Time ZigZag on the speed study's GEMM layers; write its JSON.

Runs ONLY under a Python that has ZigZag installed (a throw-away venv; zigzag-dse 3.9.1 also
needs `six`, which it does not declare):

    python -m venv /tmp/zzvenv && /tmp/zzvenv/bin/pip install zigzag-dse six
    /tmp/zzvenv/bin/python studies/speed/zigzag_layers.py SPEC.json OUT.json

`studies/speed/run.py --zigzag-python /tmp/zzvenv/bin/python` writes SPEC.json (the layers and
the ZigZag hardware/mapping names of config.yaml) and calls this script. Each layer is one ZigZag
call (`get_hardware_performance_zigzag`, LOMA temporal-mapping search, latency-optimal) on a
bundled ZigZag accelerator; the wall time of each call is recorded with its latency and energy.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path


def gemm_layer(name: str, m: int, n: int, k: int) -> list[dict]:
    """A ZigZag workload of one GEMM Y[M,N] = X[M,K] W[K,N] (D = M, C = K, K = N), 8-bit."""
    return [{"id": 0, "name": name, "operator_type": "Gemm",
             "equation": "O[d][k]+=I[d][c]*W[c][k]", "loop_dims": ["D", "C", "K"],
             "loop_sizes": [m, k, n],
             "operand_precision": {"I": 8, "W": 8, "O": 16, "O_final": 8},
             "operand_source": {"I": 0}}]


def run_all(spec: dict) -> dict:
    """One ZigZag call per layer; seconds, latency (cycles) and energy of each."""
    from zigzag.api import get_hardware_performance_zigzag

    logging.disable(logging.CRITICAL)
    inputs = files("zigzag") / "inputs"
    hardware = str(inputs / "hardware" / f"{spec['zigzag_hardware']}.yaml")
    mapping = str(inputs / "mapping" / f"{spec['zigzag_mapping']}.yaml")
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, layer in enumerate(spec["layers"]):
            start = time.perf_counter()
            out = get_hardware_performance_zigzag(
                gemm_layer(layer["name"], layer["m"], layer["n"], layer["k"]), hardware,
                mapping, opt="latency", dump_folder=f"{tmp}/l{i}",
                loma_show_progress_bar=False)
            seconds = time.perf_counter() - start
            cases.append({**layer, "seconds": seconds, "energy": float(out[0]),
                          "latency_cycles": float(out[1])})
            print(f"ZigZag {layer['name']}: {seconds:.2f} s", file=sys.stderr)
    header = {"tool": "ZigZag (pip package zigzag-dse)", "zigzag_version": version("zigzag-dse"),
              "python": platform.python_version(), "hardware": spec["zigzag_hardware"],
              "mapping": spec["zigzag_mapping"]}
    return {"header": header, "cases": cases}


def main(spec_path: str, out_path: str) -> None:
    """Read the spec, run ZigZag, write the JSON."""
    result = run_all(json.loads(Path(spec_path).read_text()))
    Path(out_path).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
