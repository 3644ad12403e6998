"""One GEMM on one accelerator, for quick what-ifs (`rctsim gemm`).

The GEMM's operands start in DRAM; the whole global buffer is its workspace; its output stays on
chip when it fits a transient slot (the same rule a training step uses: a sixth of the
workspace). Counting, pricing and timing are the ones `rctsim run` uses.
"""

from __future__ import annotations

import re

from hwmodels.compute import compute_leakage_w
from hwmodels.load import load_hardware
from hwmodels.schema import HardwareSpec
from hwmodels.validation import validate_model
from rctsim.counting import StepContext, count_op
from rctsim.engine import OpWork, simulate_step
from rctsim.errors import InputError
from rctsim.ledger import Ledger
from rctsim.ops import Op
from rctsim.placement import Transient, TransientHomes, place
from rctsim.pricing import price_leakage, price_op
from rctsim.replay import Machine, build_machine
from rctsim.storage import FP32, Fmt
from rctsim.trace.model import MAX_DIM, LayerSpec

_BITS = re.compile(r"^(a|b|acc)=(\d+)$")


def parse_gemm_bits(spec: str) -> tuple[Fmt, Fmt, Fmt]:
    """`a=8,b=4,acc=32`, or `fp32` / `fp16` / `fp8` (float operands; fp8 accumulates in fp16,
    the others in their own format) -> (A, B, accumulator) formats."""
    if spec.strip() == "fp32":
        return FP32, FP32, FP32
    if spec.strip() in ("fp16", "fp8"):
        bits = int(spec.strip()[2:])
        return Fmt(bits, True), Fmt(bits, True), Fmt(16, True)
    found = {"a": 8, "b": 8, "acc": 32}
    for part in spec.split(","):
        match = _BITS.match(part.strip())
        if not match or not 1 <= int(match.group(2)) <= 32:
            raise InputError("command line", "--bits", f"cannot read {part.strip()!r}",
                             "fp32, fp16, fp8, or a=N,b=N,acc=N with N in 1..32")
        found[match.group(1)] = int(match.group(2))
    return Fmt(found["a"]), Fmt(found["b"]), Fmt(found["acc"])


def _override(spec: HardwareSpec, array: str | None, dataflow: str | None) -> HardwareSpec:
    data = spec.model_dump()
    if array:
        match = re.fullmatch(r"(\d+)x(\d+)", array.strip())
        if not match:
            raise InputError("command line", "--array", f"cannot read {array!r}", "RxC, e.g. 16x16")
        data["array"]["rows"], data["array"]["cols"] = int(match.group(1)), int(match.group(2))
    if dataflow:
        data["array"]["dataflow"] = dataflow
    return validate_model("command line", data, HardwareSpec)


def gemm_report(m: int, n: int, k: int, *, hw: str = "edge_npu", array: str | None = None,
                dataflow: str | None = None, bits: str = "a=8,b=8,acc=32") -> dict:
    """Cycles, utilisation, traffic and energy of one `m x n x k` GEMM."""
    for name, value in (("M", m), ("N", n), ("K", k)):
        if not 1 <= value <= MAX_DIM:
            raise InputError("command line", name, f"{value}", f"an integer 1..{MAX_DIM}")
    spec = _override(load_hardware(hw), array, dataflow)
    machine: Machine = build_machine(spec)
    a, b, acc = parse_gemm_bits(bits)
    layer = LayerSpec(name="gemm", kind="linear", m=m, n=n, k=k, has_weights=True,
                      params=k * n, act_elems=m * k)
    op = Op(0, "fwd", m, n, k, a, b, acc, "activations", "weights", "outputs", acc)
    placement = place({}, buffer_bytes=spec.global_buffer.size_bytes, workspace_fraction=0.999)
    out_bytes = m * n * max(acc.bytes, a.bytes)
    out = Transient(out_bytes, in_dram=not placement.transient_on_chip(out_bytes))
    homes = TransientHomes(x_in_dram=(True,), y=(out,), dy=(out,), dx=(out,), dw=(out,))
    ctx = StepContext(layers=(layer,), placement=placement, homes=homes, array=machine.array,
                      rows=spec.array.rows, cols=spec.array.cols, source="command line",
                      hw=spec)
    counts = count_op(op, ctx)
    timing = simulate_step(
        [OpWork("gemm", counts.compute_cycles, counts.dram_read_bytes, counts.dram_write_bytes,
                min(counts.tiles, 4))],
        dram_bytes_per_cycle=machine.costs.dram.bandwidth_bytes_per_s / spec.array.clock_hz)
    ledger = Ledger()
    price_op(counts, "gemm", machine.costs, ledger)
    seconds = timing.total_cycles / spec.array.clock_hz
    price_leakage(seconds, machine.costs, ledger, compute_leakage_w(spec))
    mp = counts.mapping
    return {
        "hardware": spec.name, "array": f"{spec.array.rows}x{spec.array.cols}",
        "dataflow": spec.array.dataflow, "bits": bits,
        "cycles": timing.total_cycles, "compute_cycles": counts.compute_cycles,
        "stall_cycles": timing.stall_cycles, "seconds": seconds,
        "utilization": counts.utilization, "macs": counts.macs,
        "sram_read_bytes": float(sum(counts.sram_read.values())),
        "sram_write_bytes": float(sum(counts.sram_write.values())),
        "dram_read_bytes": counts.dram_read_bytes, "dram_write_bytes": counts.dram_write_bytes,
        "energy_pj": ledger.total(),
        "mac_energy_pj": ledger.total(action="mac"),
        "unit": counts.unit,
        "sram_energy_pj": ledger.total(component="sram:*", action=("read", "write")),
        "dram_energy_pj": ledger.total(component="dram"),
        "leakage_energy_pj": ledger.total(action="leak"),
        "tile_m": mp.tile_m, "tile_n": mp.tile_n, "tile_k": mp.tile_k, "loop_order": mp.order,
    }
