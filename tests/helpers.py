"""Small builders shared by the engine tests."""

from __future__ import annotations

import numpy as np

from hwmodels.load import load_hardware
from hwmodels.schema import HardwareSpec
from rctsim.cli import main
from rctsim.trace.model import LayerSpec, PolicySpec, Trace, TraceHeader


def mlp_layers(batch: int = 16, dims: tuple[int, ...] = (64, 48, 32, 10)) -> list[LayerSpec]:
    """A chain of linear layers (each keeps its input for backward)."""
    layers = []
    for i, (k, n) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(LayerSpec(name=f"fc{i}", kind="linear", m=batch, n=n, k=k, has_weights=True,
                                params=k * n, act_elems=batch * k,
                                preds=(f"fc{i - 1}",) if i else ()))
    return layers


def make_trace(layers, *, policy: str = "rct", iterations: int = 100, starts=(0,),
               bits=None, params=None) -> Trace:
    """A trace over `layers` with the given phases (bits: [P, L, 4] or one (w, a, g, acc))."""
    n = len(layers)
    if bits is None:
        bits = (8, 8, 8, 32)
    arr = np.asarray(bits, dtype=np.uint8)
    if arr.ndim == 1:
        arr = np.tile(arr, (len(starts), n, 1))
    header = TraceHeader(producer="tests", producer_version="0", model="mlp", dataset="none",
                         policy=PolicySpec(name=policy, params=params or {}), batch_size=16,
                         seed=0, iterations=iterations)
    return Trace.build(header=header, layers=layers, phase_start=np.array(starts),
                       phase_bits=arr)


def hardware(**changes) -> HardwareSpec:
    """edge_npu with nested fields replaced, e.g. hardware(global_size=4096, dram_bw=1e9)."""
    data = load_hardware("edge_npu").model_dump()
    if "global_size" in changes:
        for mem in data["memories"]:
            if mem["role"] == "global":
                mem["size_bytes"] = changes["global_size"]
    for key in ("rows", "cols", "dataflow", "int_bits", "precision_mode"):
        if key in changes:
            data["array"][key] = changes[key]
    if changes.get("fp32") is False:  # integer only
        data["compute_units"] = []
    elif changes.get("fp32") == "pe":  # fp32 in every PE at one MAC per cycle, no vector unit
        data["compute_units"] = [{"name": "fp32_pe", "placement": "pe", "formats": {"fp32": 1},
                                  "area_um2": 11884.0, "leakage_uw": 0.0, "source": "test"}]
    if "dram_bw" in changes:
        data["dram"]["bandwidth_bytes_per_s"] = changes["dram_bw"]
    return HardwareSpec.model_validate(data)


def run_main(argv: list[str], capsys):
    """`rctsim ARGV` in this process: (exit status, captured stdout/stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    return code, capsys.readouterr()
