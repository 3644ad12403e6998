"""Component cost models: what one action costs (counting actions is the engine's job).

Three protocols (`MacModel`, `SramModel`, `DramModel`) and the default models: MAC energy from
an `EnergyTable` through the scaling rules in `hwmodels.energy`; SRAM energy, leakage and area
from the banked model calibrated on CACTI (`hwmodels.sram`); DRAM from the technology table
(`hwmodels.dram`). A number the hardware description writes overrides the derived one.
`build_cost_models` picks the models a `HardwareSpec` names (or the defaults) from a registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from hwmodels import energy, sram
from hwmodels.dram import dram_technology
from hwmodels.elementwise import ElementwiseEnergy
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
    """Per-byte access energy, leakage and area of one on-chip memory."""

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

    @property
    def area_mm2(self) -> float:
        """Area in mm² (all instances of this memory)."""
        ...


@runtime_checkable
class DramModel(Protocol):
    """Per-byte access energy, bandwidth and latency of the off-chip memory."""

    @property
    def read_pj_per_byte(self) -> float:
        """Energy per byte read."""
        ...

    @property
    def write_pj_per_byte(self) -> float:
        """Energy per byte written."""
        ...

    @property
    def pj_per_byte(self) -> float:
        """Mean of the read and write energy per byte (for summaries)."""
        ...

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Sustained channel bandwidth."""
        ...

    @property
    def latency_s(self) -> float:
        """Access latency in seconds (0 where the description gives none)."""
        ...


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
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """Answers already computed, by arguments (a pure function of them and the fields)."""

    def mac_energy_pj(
        self, *, a_bits: int, b_bits: int, is_float: bool = False, acc_bits: int = 32
    ) -> float:
        """Energy in pJ of one MAC (each distinct argument tuple computed once)."""
        key = (a_bits, b_bits, is_float, acc_bits)
        pj = self._memo.get(key)
        if pj is None:
            pj = self._memo[key] = self._mac_energy_pj(a_bits, b_bits, is_float, acc_bits)
        return pj

    def _mac_energy_pj(self, a_bits: int, b_bits: int, is_float: bool, acc_bits: int) -> float:
        if is_float:
            bits = max(a_bits, b_bits)
            return energy.fp_mult_pj(self.table, bits) + energy.fp_add_pj(
                self.table, max(acc_bits, bits)
            )
        a_run, b_run = padded_bits(self.array, a_bits), padded_bits(self.array, b_bits)
        return energy.int_mac_pj(self.table, a_run, b_run, acc_bits)


@dataclass(frozen=True)
class TableSram:
    """An SRAM's per-byte energies, leakage and area (the default sram models build this)."""

    memory: MemorySpec
    """The memory described."""
    read_pj_per_byte: float
    """Energy per byte read."""
    write_pj_per_byte: float
    """Energy per byte written."""
    leakage_w: float
    """Leakage power in W (all instances)."""
    area_mm2: float
    """Area in mm² (all instances)."""
    instances: int = 1
    """Copies of the memory (PEs, for pe_local)."""


@dataclass(frozen=True)
class TableDram:
    """Off-chip DRAM: technology table numbers unless the spec overrides them."""

    dram: DramSpec
    """The DRAM described."""
    read_pj_per_byte: float
    """Energy per byte read (activation included)."""
    write_pj_per_byte: float
    """Energy per byte written (activation included)."""
    bandwidth_bytes_per_s: float
    """Sustained bandwidth of all channels used."""
    latency_s: float
    """Access latency in seconds."""

    @property
    def pj_per_byte(self) -> float:
        """Mean of the read and write energy per byte."""
        return (self.read_pj_per_byte + self.write_pj_per_byte) / 2


def table_mac(*, array: ArraySpec, table: EnergyTable) -> TableMac:
    """Default `mac` factory."""
    return TableMac(array=array, table=table)


def _banked(memory: MemorySpec) -> sram.BankedSramCosts:
    try:
        return sram.banked_sram(memory.cells, memory.size_bytes, memory.banks, memory.word_bits)
    except sram.OutsideTable as err:
        raise InputError("hardware", f"memories[{memory.name}]", str(err),
                         sram.ALLOWED_BANKS) from None


def _sram_model(memory: MemorySpec, read_word_pj: float | None, write_word_pj: float | None,
                instances: int) -> TableSram:
    """Per-byte model of `instances` copies: overrides win, the banked CACTI model fills the rest
    (it is evaluated only where a derived number is needed)."""
    derived: sram.BankedSramCosts | None = None

    def banked() -> sram.BankedSramCosts:
        nonlocal derived
        derived = derived or _banked(memory)
        return derived

    read = memory.read_energy_pj or read_word_pj or banked().read_pj
    write = memory.write_energy_pj or write_word_pj or (
        read if memory.read_energy_pj is not None else banked().write_pj)
    leakage_mw = (memory.leakage_mw if memory.leakage_mw is not None
                  else banked().leakage_mw * instances)
    area = memory.area_mm2 if memory.area_mm2 is not None else banked().area_mm2 * instances
    word_bytes = memory.word_bits / 8
    return TableSram(memory=memory, read_pj_per_byte=read / word_bytes,
                     write_pj_per_byte=write / word_bytes, leakage_w=leakage_mw / 1000.0,
                     area_mm2=area, instances=instances)


def banked_sram(*, memory: MemorySpec, table: EnergyTable, instances: int = 1) -> TableSram:
    """Default `sram` factory: a banked SRAM calibrated on CACTI at 45 nm (hwmodels.sram).

    A write costs the derived write energy, or the read override where only that is given.
    """
    del table  # the banked model reads the CACTI table, not the energy table
    return _sram_model(memory, None, None, instances)


def table_sram(*, memory: MemorySpec, table: EnergyTable, instances: int = 1) -> TableSram:
    """The `table` sram model: access energy from the energy table's SRAM points as a power law
    in the memory's whole size (the rule before banking; for energy tables of other nodes),
    writes as reads; leakage and area as the banked model."""
    word_pj = energy.sram_word_pj(table, memory.size_bytes, memory.word_bits)
    return _sram_model(memory, word_pj, memory.read_energy_pj or word_pj, instances)


def dram_bandwidth_bytes_per_s(dram: DramSpec) -> float:
    """The written bandwidth, else channels x the technology's channel bandwidth."""
    if dram.bandwidth_bytes_per_s is not None:
        return dram.bandwidth_bytes_per_s
    tech = dram_technology(dram.technology) if dram.technology is not None else None
    if tech is None or tech.channel_bytes_per_s is None:
        raise InputError("hardware", "dram.bandwidth_bytes_per_s",
                         f"not given and technology {dram.technology} gives no channel "
                         "bandwidth", "a bandwidth, or a technology with one")
    return tech.channel_bytes_per_s * dram.channels


def table_dram(*, dram: DramSpec, table: EnergyTable) -> TableDram:
    """Default `dram` factory: the named technology's numbers, else the energy table's DRAM
    entry; any number the spec gives overrides them."""
    tech = dram_technology(dram.technology) if dram.technology is not None else None
    if dram.energy_pj_per_bit is not None:
        read_bit = write_bit = dram.energy_pj_per_bit
    elif tech is not None:
        read_bit = tech.read_pj_per_bit + tech.activation_pj_per_bit
        write_bit = tech.write_pj_per_bit + tech.activation_pj_per_bit
    else:
        read_bit = write_bit = energy.dram_pj_per_bit(table)
    bandwidth = dram_bandwidth_bytes_per_s(dram)
    latency_ns = dram.latency_ns
    if latency_ns is None:
        latency_ns = tech.latency_ns if tech is not None and tech.latency_ns is not None else 0.0
    return TableDram(dram=dram, read_pj_per_byte=8 * read_bit, write_pj_per_byte=8 * write_bit,
                     bandwidth_bytes_per_s=bandwidth, latency_s=latency_ns * 1e-9)


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
    elementwise: ElementwiseEnergy | None = field(default=None, repr=False, compare=False)
    """Elementwise op energies of `table`, computed once each (made from `table` if None)."""

    def __post_init__(self) -> None:
        if self.elementwise is None:
            object.__setattr__(self, "elementwise", ElementwiseEnergy(self.table))

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
    pes = spec.array.rows * spec.array.cols
    srams = {m.name: sram_factory(memory=m, table=table,
                                  instances=pes if m.role == "pe_local" else 1)
             for m in spec.memories}
    dram = dram_model(spec, table=table, registry=registry)
    return CostModels(
        table=table, mac=mac, sram=srams, dram=dram, global_buffer_name=spec.global_buffer.name
    )


def dram_model(spec: HardwareSpec, *, table: EnergyTable | None = None,
               registry: ComponentRegistry | None = None) -> Any:
    """The DRAM cost model of a spec (its energy table loaded if not given): the `dram` part of
    `build_cost_models`, alone."""
    if table is None:
        table = load_energy_table(spec.energy_table)
    registry = registry or default_registry()
    return registry.get_component("dram", component_name(spec, "dram"))(dram=spec.dram,
                                                                       table=table)


def array_model(
    spec: HardwareSpec, *, registry: ComponentRegistry | None = None, source: str = "hardware"
) -> Any:
    """The timing model of a spec's array: `factory(spec.array, source=source)`."""
    registry = registry or default_registry()
    return registry.get_component("array", component_name(spec, "array"))(
        spec.array, source=source
    )
