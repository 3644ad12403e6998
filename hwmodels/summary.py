"""Derived headline numbers of a hardware description (what `rctsim hw show` prints)."""

from __future__ import annotations

from typing import Any

from hwmodels.components import CostModels, build_cost_models, dram_bandwidth_bytes_per_s
from hwmodels.compute import chip_area_mm2, compute_leakage_w, elementwise_unit, memory_area_parts
from hwmodels.dram import dram_technology
from hwmodels.load import hardware_digest
from hwmodels.schema import SRAM_OVERRIDES, HardwareSpec
from rctsim.errors import InputError


def peak_macs_per_s(spec: HardwareSpec) -> float:
    """Peak MAC/s at the native width: rows x cols x clock."""
    return spec.array.rows * spec.array.cols * spec.array.clock_hz


def on_chip_bytes(spec: HardwareSpec) -> int:
    """On-chip capacity: the global buffer plus per-PE memories times the number of PEs."""
    pes = spec.array.rows * spec.array.cols
    return sum(m.size_bytes * (pes if m.role == "pe_local" else 1) for m in spec.memories)


def _int8_mac_pj(models: CostModels) -> float | None:
    try:
        return models.mac.mac_energy_pj(a_bits=8, b_bits=8)
    except InputError:
        return None


def hardware_overrides(spec: HardwareSpec) -> list[str]:
    """Fields the description writes where the model would derive the number itself."""
    found = [f"memories[{m.name}].{field}" for m in spec.memories for field in SRAM_OVERRIDES
             if getattr(m, field) is not None]
    dram = spec.dram
    if dram.energy_pj_per_bit is not None:
        found.append("dram.energy_pj_per_bit")
    if dram.technology is not None:
        tech = dram_technology(dram.technology)
        if dram.bandwidth_bytes_per_s is not None and tech.channel_bytes_per_s is not None:
            found.append("dram.bandwidth_bytes_per_s")
        if dram.latency_ns is not None and tech.latency_ns is not None:
            found.append("dram.latency_ns")
    return found


def hardware_summary(spec: HardwareSpec, models: CostModels | None = None) -> dict[str, Any]:
    """Headline numbers: peak rates, on-chip bytes, per-action energies, leakage, area, DRAM
    technology, the fields that override derived numbers, digest."""
    models = models or build_cost_models(spec)
    array = spec.array
    try:
        fp32 = elementwise_unit(spec, "fp32")
        fp32_peak = fp32.lanes * array.clock_hz
    except InputError:
        fp32, fp32_peak = None, None
    memories = {
        name: {
            "size_bytes": m.memory.size_bytes,
            "role": m.memory.role,
            "read_pj_per_byte": m.read_pj_per_byte,
            "write_pj_per_byte": m.write_pj_per_byte,
            "leakage_w": m.leakage_w,
            "area_mm2": m.area_mm2,
        }
        for name, m in models.sram.items()
    }
    return {
        "name": spec.name,
        "energy_table": models.table.name,
        "pes": array.rows * array.cols,
        "peak_macs_per_s": peak_macs_per_s(spec),
        "native_bits": array.native_bits,
        "peak_fp32_macs_per_s": fp32_peak,
        "on_chip_bytes": on_chip_bytes(spec),
        "int8_mac_pj": _int8_mac_pj(models),
        "fp32_mac_pj": models.mac.mac_energy_pj(a_bits=32, b_bits=32, is_float=True)
        if fp32 is not None
        else None,
        "compute_units": {u.name: {"placement": u.placement, "formats": dict(u.formats),
                                   "lanes": u.lanes} for u in spec.compute_units},
        "area_mm2": chip_area_mm2(spec, dict(models.sram)),
        "compute_leakage_w": sum(compute_leakage_w(spec).values()),
        "memories": memories,
        "dram_technology": spec.dram.technology,
        "dram_pj_per_byte": models.dram.pj_per_byte,
        "dram_read_pj_per_byte": models.dram.read_pj_per_byte,
        "dram_write_pj_per_byte": models.dram.write_pj_per_byte,
        "dram_latency_s": models.dram.latency_s,
        "dram_bandwidth_bytes_per_s": models.dram.bandwidth_bytes_per_s,
        "leakage_w": sum(m.leakage_w for m in models.sram.values()),
        "sram_area_mm2": sum(mm2 for _, mm2 in memory_area_parts(spec, dict(models.sram))),
        "overrides": hardware_overrides(spec),
        "digest": hardware_digest(spec),
    }


def _size(value: float) -> str:
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


def _rate(value: float, unit: str) -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def hardware_line(spec: HardwareSpec) -> str:
    """The hardware in one line: array, dataflow, clock, memories, DRAM, energy table."""
    a = spec.array
    pes = a.rows * a.cols
    memories = ", ".join(
        f"{m.name} {_size(m.size_bytes)}" + (f" x {pes} PEs" if m.role == "pe_local" else "")
        for m in spec.memories)
    tech = getattr(spec.dram, "technology", None)
    bandwidth = dram_bandwidth_bytes_per_s(spec.dram)
    dram = f"DRAM {tech + ' ' if tech else ''}{_rate(bandwidth, 'B/s')}"
    return (f"{a.rows}x{a.cols} array ({a.dataflow}) @ {_rate(a.clock_hz, 'Hz')}; {memories}; "
            f"{dram}; energy table {spec.energy_table}")
