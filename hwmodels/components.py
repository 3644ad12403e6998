"""Component cost models: what one action costs (counting actions is the engine's job).

Three protocols (`MacModel`, `SramModel`, `DramModel`) and the default table-driven models,
which take every energy from an `EnergyTable` through the scaling rules in `hwmodels.energy`
unless the hardware description overrides a number. `build_cost_models` picks the models a
`HardwareSpec` names (or the defaults) from a registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from hwmodels import energy
from hwmodels.load import load_energy_table
from hwmodels.registry import DEFAULT_COMPONENTS, ComponentRegistry, default_registry
from hwmodels.schema import ArraySpec, DramSpec, EnergyTable, HardwareSpec, MemorySpec
from rctsim.errors import InputError


@runtime_checkable
class MacModel(Protocol):
    """Energy of one multiply-accumulate."""

    def mac_energy_pj(
        self, *, a_bits: int, b_bits: int, is_float: bool = False, acc_bits: int = 32
    ) -> float:
        """Energy in pJ of one MAC with operands of a_bits and b_bits into an acc_bits sum."""
        ...


@runtime_checkable
class SramModel(Protocol):
    """Per-byte access energy and leakage of one on-chip memory."""

    @property
    def memory(self) -> MemorySpec:
        """The memory described."""
        ...

    @property
    def read_pj_per_byte(self) -> float:
        """Energy per byte read."""
        ...

    @property
    def write_pj_per_byte(self) -> float:
        """Energy per byte written."""
        ...

    @property
    def leakage_w(self) -> float:
        """Leakage power in W (all instances of this memory)."""
        ...


@runtime_checkable
class DramModel(Protocol):
    """Per-byte access energy and bandwidth of the off-chip memory."""

    @property
    def pj_per_byte(self) -> float:
        """Energy per byte read or written."""
        ...

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Sustained channel bandwidth."""
        ...

    # Optional: `latency_s` (access latency of one transfer, s); a model without it has none.


def padded_bits(array: ArraySpec, bits: int) -> int:
    """The supported integer width an operand of `bits` runs at (the next one up)."""
    for width in array.int_bits:
        if width >= bits:
            return width
    raise InputError(
        "hardware",
        "array.int_bits",
        f"a {bits}-bit integer operand is wider than any supported width",
        ", ".join(str(b) for b in array.int_bits),
    )


@dataclass(frozen=True)
class TableMac:
    """MAC energy from the table: integer mult(a, b) + add(acc), or float mult + float add.

    Integer operands run at the next supported width up (`array.int_bits`). Float MACs are
    priced at the width they run at (`hwmodels.compute` picks the unit: fp8/fp16/bf16/fp32);
    the accumulator adds at max(acc_bits, operand width).
    """

    array: ArraySpec
    """The compute array (supported widths)."""
    table: EnergyTable
    """Energy table the numbers come from."""

    def mac_energy_pj(
        self, *, a_bits: int, b_bits: int, is_float: bool = False, acc_bits: int = 32
    ) -> float:
        """Energy in pJ of one MAC."""
        if is_float:
            bits = max(a_bits, b_bits)
            return energy.fp_mult_pj(self.table, bits) + energy.fp_add_pj(
                self.table, max(acc_bits, bits)
            )
        a_run, b_run = padded_bits(self.array, a_bits), padded_bits(self.array, b_bits)
        return energy.int_mac_pj(self.table, a_run, b_run, acc_bits)


@dataclass(frozen=True)
class TableSram:
    """An SRAM whose energies come from the table by size, unless the spec gives them."""

    memory: MemorySpec
    """The memory described."""
    read_pj_per_byte: float
    """Energy per byte read."""
    write_pj_per_byte: float
    """Energy per byte written."""
    leakage_w: float
    """Leakage power in W."""


@dataclass(frozen=True)
class TableDram:
    """Off-chip DRAM: energy per bit from the spec, else the table's 64-bit access / 64."""

    dram: DramSpec
    """The DRAM described."""
    pj_per_byte: float
    """Energy per byte read or written."""
    bandwidth_bytes_per_s: float
    """Sustained channel bandwidth."""

    @property
    def latency_s(self) -> float:
        """Access latency of one transfer in seconds (`dram.latency_ns`; 0 when not given)."""
        return (self.dram.latency_ns or 0.0) * 1e-9


def table_mac(*, array: ArraySpec, table: EnergyTable) -> TableMac:
    """Default `mac` factory."""
    return TableMac(array=array, table=table)


def table_sram(*, memory: MemorySpec, table: EnergyTable) -> TableSram:
    """Default `sram` factory: per-word energy by size and word width, divided per byte."""
    word_bytes = memory.word_bits / 8
    read_word_pj = memory.read_energy_pj
    if read_word_pj is None:
        read_word_pj = energy.sram_word_pj(table, memory.size_bytes, memory.word_bits)
    write_word_pj = memory.write_energy_pj if memory.write_energy_pj is not None else read_word_pj
    return TableSram(
        memory=memory,
        read_pj_per_byte=read_word_pj / word_bytes,
        write_pj_per_byte=write_word_pj / word_bytes,
        leakage_w=memory.leakage_mw / 1000.0,
    )


def table_dram(*, dram: DramSpec, table: EnergyTable) -> TableDram:
    """Default `dram` factory."""
    pj_per_bit = dram.energy_pj_per_bit
    if pj_per_bit is None:
        pj_per_bit = energy.dram_pj_per_bit(table)
    return TableDram(
        dram=dram, pj_per_byte=8 * pj_per_bit, bandwidth_bytes_per_s=dram.bandwidth_bytes_per_s
    )


@dataclass(frozen=True)
class CostModels:
    """The cost models one hardware description uses."""

    table: EnergyTable
    """The energy table the defaults read."""
    mac: MacModel
    """MAC energy."""
    sram: dict[str, SramModel]
    """On-chip memories by name."""
    dram: DramModel
    """Off-chip memory."""
    global_buffer_name: str
    """Name of the shared global buffer in `sram`."""

    @property
    def global_buffer(self) -> SramModel:
        """The shared on-chip buffer's model."""
        return self.sram[self.global_buffer_name]


def component_name(spec: HardwareSpec, slot: str) -> str:
    """The model name a spec picks for a slot (the default where it names none)."""
    return spec.components.get(slot, DEFAULT_COMPONENTS[slot])


def build_cost_models(
    spec: HardwareSpec,
    *,
    table: EnergyTable | None = None,
    registry: ComponentRegistry | None = None,
) -> CostModels:
    """The mac/sram/dram cost models for a spec (its energy table is loaded if not given)."""
    if table is None:
        table = load_energy_table(spec.energy_table)
    registry = registry or default_registry()
    mac = registry.get_component("mac", component_name(spec, "mac"))(array=spec.array, table=table)
    sram_factory = registry.get_component("sram", component_name(spec, "sram"))
    srams = {m.name: sram_factory(memory=m, table=table) for m in spec.memories}
    dram = registry.get_component("dram", component_name(spec, "dram"))(dram=spec.dram, table=table)
    return CostModels(
        table=table, mac=mac, sram=srams, dram=dram, global_buffer_name=spec.global_buffer.name
    )


def array_model(
    spec: HardwareSpec, *, registry: ComponentRegistry | None = None, source: str = "hardware"
) -> Any:
    """The timing model of a spec's array: `factory(spec.array, source=source)`."""
    registry = registry or default_registry()
    return registry.get_component("array", component_name(spec, "array"))(
        spec.array, source=source
    )
