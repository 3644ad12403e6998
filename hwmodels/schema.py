"""Hardware description schema: the validated form of a hardware YAML file.

Units are in the field names (`size_bytes`, `clock_hz`, `energy_pj`). Every number that is a
cost (energy, bandwidth, leakage, clock) sits next to a `source` field that says where it came from.
Unknown keys are rejected everywhere.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hwmodels.dram import DramTechnologyName
from hwmodels.sram import CellType

Bits = Annotated[int, Field(ge=1, le=32)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True,
                              allow_inf_nan=False, strict=True)


class ArraySpec(_Strict):
    """The compute array: a rows x cols systolic array of MAC processing elements."""

    rows: Annotated[int, Field(ge=1, le=4096)]
    """PE rows."""
    cols: Annotated[int, Field(ge=1, le=4096)]
    """PE columns."""
    dataflow: Literal["ws", "os", "is"]
    """Stationary operand: weight (ws), output (os) or input (is) stationary, as in SCALE-Sim."""
    clock_hz: Annotated[float, Field(gt=0)]
    """Clock frequency in Hz."""
    int_bits: Annotated[list[Bits], Field(min_length=1)]
    """Integer operand widths the MACs support; a narrower operand runs at the next one up."""
    native_bits: Bits = 8
    """Operand width at which one PE completes one MAC per cycle (bit_serial / bit_fusion base)."""
    precision_mode: Literal["energy_only", "bit_serial", "bit_fusion"] = "energy_only"
    """How a narrower MAC pays off: only cheaper (energy_only), or also faster: bit-serial over
    one operand's bits (Stripes-like) or fusing 2-bit bricks (Bit Fusion-like)."""
    serial_bits: Bits = 1
    """bit_serial only: bits of the serial operand processed per cycle."""
    pe_area_um2: Annotated[float, Field(gt=0)]
    """Area of one PE's integer MAC datapath in µm² at the process node `area_source` names
    (the array's area is rows x cols x this; the PE's memories are described under
    `memories`)."""
    pe_leakage_uw: Annotated[float, Field(ge=0)] | None = None
    """Override: leakage of one PE's integer datapath in µW; None derives it as `pe_area_um2` x
    the logic leakage density of the chip's process (docs/hardware.md, "Compute leakage")."""
    area_source: Annotated[str, Field(min_length=1)]
    """Where `pe_area_um2` and `pe_leakage_uw` come from (publication, node, scaling rule)."""
    source: str
    """Where the array's organisation and clock come from."""

    @model_validator(mode="after")
    def _sorted_bits(self) -> ArraySpec:
        if sorted(set(self.int_bits)) != list(self.int_bits):
            raise ValueError("int_bits must be strictly increasing")
        return self


FLOAT_FORMATS: tuple[str, ...] = ("fp8", "fp16", "bf16", "fp32")
"""Floating-point formats a compute unit may offer, narrowest first."""

FloatFormat = Literal["fp8", "fp16", "bf16", "fp32"]


class ComputeUnitSpec(_Strict):
    """A floating-point datapath: MACs inside every PE of the array, or a separate vector unit."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    """Name used in reports and ledger rows (`unit:<name>`)."""
    placement: Literal["pe", "vector"]
    """`pe`: one datapath in each of the array's rows x cols PEs, fed by the array's dataflow;
    `vector`: a separate unit of `lanes` lanes fed from the global buffer."""
    formats: Annotated[dict[FloatFormat, Annotated[int, Field(ge=1, le=1024)]],
                       Field(min_length=1)]
    """Formats the unit computes, each with its cycles per MAC (or per element-wise op) on one
    PE or lane."""
    lanes: Annotated[int, Field(ge=1, le=65536)] | None = None
    """vector only: lanes (one MAC or element-wise op per lane per `formats` cycles)."""
    operand_bytes_per_cycle: Annotated[float, Field(gt=0)] | None = None
    """vector only: bytes per cycle the unit's operand path moves from/to the global buffer."""
    area_um2: Annotated[float, Field(gt=0)]
    """Area of one instance (one PE's datapath, or one lane) in µm² at the node `source` names."""
    leakage_uw: Annotated[float, Field(ge=0)] | None = None
    """Override: leakage of one instance in µW; None derives it as `area_um2` x the logic
    leakage density of the chip's process (docs/hardware.md, "Compute leakage")."""
    source: Annotated[str, Field(min_length=1)]
    """Where the organisation, cycles, area and leakage come from."""

    @model_validator(mode="after")
    def _placement_fields(self) -> ComputeUnitSpec:
        vector = self.placement == "vector"
        for field in ("lanes", "operand_bytes_per_cycle"):
            given = getattr(self, field) is not None
            if given != vector:
                raise ValueError(f"{field} is {'required' if vector else 'only'} for placement "
                                 f"'vector'")
        return self


class MemorySpec(_Strict):
    """An on-chip SRAM built of banks; its energies, leakage and area follow from its size, banks,
    word width and cell type (CACTI at 45 nm, docs/hardware.md §3) unless a field overrides them."""

    name: Annotated[str, Field(min_length=1)]
    """Name used in reports (`global_buffer`, `pe_regs`, ...)."""
    role: Literal["global", "pe_local"] = "global"
    """`global`: the shared buffer tiles live in (exactly one); `pe_local`: per-PE operand
    registers, accessed once per MAC operand."""
    size_bytes: Annotated[int, Field(gt=0)]
    """Capacity in bytes (for pe_local: per PE)."""
    word_bits: Annotated[int, Field(ge=8, le=4096)] = 64
    """Access width in bits."""
    ports: Annotated[int, Field(ge=1, le=16)] = 2
    """Independent ports (read/write per cycle)."""
    banks: Annotated[int, Field(ge=1, le=1024)] = 1
    """Banks of size_bytes / banks each; an access touches one bank."""
    cells: CellType = "itrs-hp"
    """CACTI device type of the cells and periphery: itrs-hp (high performance), itrs-lop (low
    operating power) or itrs-lstp (low standby power)."""
    read_energy_pj: Annotated[float, Field(gt=0)] | None = None
    """Override: energy per word read; None derives it (bank access + wiring)."""
    write_energy_pj: Annotated[float, Field(gt=0)] | None = None
    """Override: energy per word written; None derives it."""
    leakage_mw: Annotated[float, Field(ge=0)] | None = None
    """Override: leakage power in mW of all instances; None derives it (banks x bank leakage)."""
    area_mm2: Annotated[float, Field(ge=0)] | None = None
    """Override: area in mm² of all instances; None derives it (banks x bank area)."""
    source: str
    """Where the size, organisation and any override come from."""


SRAM_OVERRIDES = ("read_energy_pj", "write_energy_pj", "leakage_mw", "area_mm2")
"""Memory fields that, when written, override a number the model derives."""


class DramSpec(_Strict):
    """Off-chip DRAM: a technology from the table and the channels used."""

    technology: DramTechnologyName | None = None
    """DRAM standard (its energies, channel bandwidth and latency come from the technology
    table); None: energy from the energy table's DRAM entry, bandwidth must be given."""
    channels: Annotated[int, Field(ge=1, le=64)] = 1
    """Channels of the technology used; bandwidth = channels x the channel's bandwidth."""
    bandwidth_bytes_per_s: Annotated[float, Field(gt=0)] | None = None
    """Override: sustained bandwidth; None derives it from the technology and channels."""
    energy_pj_per_bit: Annotated[float, Field(gt=0)] | None = None
    """Override: access energy per bit moved, read or write (activation included)."""
    latency_ns: Annotated[float, Field(ge=0, le=1e6)] | None = None
    """Override: access latency of one transfer in ns, from the request to its first data (row
    activate + read latency + one burst); None takes the technology's (0 without one)."""
    size_bytes: Annotated[int, Field(gt=0)] | None = None
    """Capacity, if bounded; None is unbounded."""
    source: str
    """Where the technology, channels and any override come from."""


class HardwareSpec(_Strict):
    """A whole accelerator description (one YAML file)."""

    version: Literal[2] = 2
    """Hardware description format version (docs/hardware.md): 2 lists floating-point
    datapaths under `compute_units`; a file without `version` is read as version 1
    (`array.fp32`), converted on load."""
    name: Annotated[str, Field(min_length=1)]
    """Preset name."""
    description: str = ""
    """One line for `rctsim hw list`."""
    array: ArraySpec
    """Compute array (integer MACs)."""
    compute_units: list[ComputeUnitSpec] = Field(default_factory=list)
    """Floating-point datapaths (none: the hardware computes in integers only)."""
    memories: Annotated[list[MemorySpec], Field(min_length=1)]
    """On-chip memories: exactly one `global`, optionally `pe_local` registers."""
    dram: DramSpec
    """Off-chip memory."""
    energy_table: str = "horowitz_45nm"
    """Bundled energy table name or a path to a table YAML."""
    packing: Literal["packed", "byte", "pow2"] = "byte"
    """How elements are stored in memory (SRAM and DRAM): `packed` at bits/8 bytes (sub-byte
    and odd widths packed bit-tight: the hardware unpacks them), `byte` in whole bytes
    (ceil(bits/8)), `pow2` in 8/16/32-bit containers (docs/model.md §1)."""
    components: dict[str, str] = Field(default_factory=dict)
    """Component model per slot (`array`, `sram`, `dram`, `mac`) by registered name; a missing
    slot takes the default model."""

    @model_validator(mode="after")
    def _one_global(self) -> HardwareSpec:
        roles = [m.role for m in self.memories]
        if roles.count("global") != 1:
            raise ValueError("exactly one memory must have role 'global'")
        names = [m.name for m in self.memories]
        if len(set(names)) != len(names):
            raise ValueError("memory names must be unique")
        units = [u.name for u in self.compute_units]
        if len(set(units)) != len(units) or "array" in units:
            raise ValueError("compute unit names must be unique and not 'array'")
        return self

    @property
    def global_buffer(self) -> MemorySpec:
        """The shared on-chip buffer."""
        return next(m for m in self.memories if m.role == "global")

    @property
    def pe_local(self) -> MemorySpec | None:
        """Per-PE operand registers, if described."""
        return next((m for m in self.memories if m.role == "pe_local"), None)


class EnergyEntry(_Strict):
    """One measured point of an energy table."""

    bits: Bits | None = None
    """Operand width, for arithmetic entries."""
    size_bytes: Annotated[int, Field(gt=0)] | None = None
    """Memory size, for SRAM entries."""
    energy_pj: Annotated[float, Field(gt=0)]
    """Energy per operation (arithmetic) or per 64-bit access (memory)."""
    source: str
    """Publication, table and row this number is taken from."""


class EnergyTable(_Strict):
    """Energy per action at one technology point; scaling rules fill the gaps (docs/model.md)."""

    name: Annotated[str, Field(min_length=1)]
    """Table name (`horowitz_45nm`, ...)."""
    description: str = ""
    """Technology, voltage, publication."""
    int_mult: Annotated[list[EnergyEntry], Field(min_length=1)]
    """Integer multiply by operand bits (square operands)."""
    int_add: Annotated[list[EnergyEntry], Field(min_length=1)]
    """Integer add by bits."""
    fp_mult: Annotated[list[EnergyEntry], Field(min_length=1)]
    """Floating-point multiply by bits (16, 32)."""
    fp_add: Annotated[list[EnergyEntry], Field(min_length=1)]
    """Floating-point add by bits (16, 32)."""
    sram_64b: Annotated[list[EnergyEntry], Field(min_length=1)]
    """SRAM 64-bit access energy by array size."""
    dram_64b: EnergyEntry
    """DRAM 64-bit access energy."""
