"""Component registry, entry-point discovery, default cost models and derived numbers."""

from __future__ import annotations

import math
import warnings
from importlib import metadata
from pathlib import Path

import pytest

from hwmodels import components, energy, registry, sram
from hwmodels.components import (
    DramModel,
    MacModel,
    SramModel,
    build_cost_models,
    padded_bits,
    table_mac,
)
from hwmodels.load import load_energy_table, load_hardware
from hwmodels.registry import ENTRY_POINT_GROUP, ComponentRegistry, default_registry
from hwmodels.summary import hardware_summary, on_chip_bytes, peak_macs_per_s
from rctsim.errors import InputError

PLUGIN = '''
"""A third-party MAC model: every MAC costs a fixed 1.5 pJ."""
from dataclasses import dataclass


@dataclass(frozen=True)
class FlatMac:
    cost: float

    def mac_energy_pj(self, *, a_bits, b_bits, is_float=False, acc_bits=32):
        return self.cost


def flat_mac(*, array, table):
    return FlatMac(cost=1.5)
'''


@pytest.fixture()
def fake_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Install a fake distribution's entry points (and its module on sys.path)."""
    (tmp_path / "rctsim_fake_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    installed: list[metadata.EntryPoint] = []

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return list(installed)

    monkeypatch.setattr(registry.metadata, "entry_points", entry_points)

    def install(name: str, value: str) -> None:
        installed.append(metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP))

    return install


def test_default_registry_slots() -> None:
    """The bundled models fill every slot, the array by the systolic model's import path."""
    reg = default_registry()
    assert {slot: reg.available(slot) for slot in registry.SLOTS} == {
        "mac": ["table"],
        "sram": ["banked", "table"],
        "dram": ["table"],
        "array": ["systolic"],
    }
    assert reg.get_component("mac", "table") is table_mac


def test_paths_resolve_lazily() -> None:
    """Registering by import path imports nothing; a bad path fails only when asked for."""
    reg = ComponentRegistry()
    reg.register("array", "ghost", "rctsim_no_such_module:Array")
    assert reg.available("array") == ["ghost"]
    with pytest.raises(InputError, match="cannot be imported"):
        reg.get_component("array", "ghost")


def test_registry_errors() -> None:
    """Unknown slots and names are InputErrors listing what exists."""
    reg = default_registry()
    with pytest.raises(InputError, match="unknown component slot"):
        reg.register("gpu", "x", table_mac)
    with pytest.raises(InputError, match=r"no mac model named 'nope' \(allowed: table\)"):
        reg.get_component("mac", "nope")


def test_entry_point_discovery(fake_entry_points) -> None:
    """A third-party `mac.flat` entry point is found and used by build_cost_models."""
    fake_entry_points("mac.flat", "rctsim_fake_plugin:flat_mac")
    reg = default_registry()
    assert reg.available("mac") == ["flat", "table"]
    spec = load_hardware("edge_npu").model_copy(update={"components": {"mac": "flat"}})
    models = build_cost_models(spec, registry=reg)
    assert models.mac.mac_energy_pj(a_bits=8, b_bits=8) == 1.5
    assert isinstance(models.mac, MacModel)


def test_bad_entry_points_are_skipped_with_a_warning(fake_entry_points) -> None:
    """A malformed name or one shadowing a bundled model is ignored, loudly."""
    fake_entry_points("flat", "rctsim_fake_plugin:flat_mac")
    fake_entry_points("mac.table", "rctsim_fake_plugin:flat_mac")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = default_registry()
    assert len(caught) == 2
    assert reg.available("mac") == ["table"]
    assert reg.get_component("mac", "table") is table_mac


def test_mac_model_energies() -> None:
    """Default MAC: table energies at the padded width; float MACs priced at their width
    (fp16: Horowitz 1.1 + 0.4 pJ into an fp16 sum, 1.1 + 0.9 pJ into an fp32 sum)."""
    table = load_energy_table("horowitz_45nm")
    edge = build_cost_models(load_hardware("edge_npu"))
    mcu = build_cost_models(load_hardware("mcu_npu"))
    assert edge.mac.mac_energy_pj(a_bits=8, b_bits=8) == pytest.approx(0.3)
    assert edge.mac.mac_energy_pj(a_bits=4, b_bits=4) == pytest.approx(0.2 / math.sqrt(15.5) + 0.1)
    assert edge.mac.mac_energy_pj(a_bits=32, b_bits=32, is_float=True) == pytest.approx(4.6)
    assert mcu.mac.mac_energy_pj(a_bits=4, b_bits=4) == pytest.approx(0.3)
    assert mcu.mac.mac_energy_pj(a_bits=12, b_bits=8, acc_bits=24) == pytest.approx(
        energy.int_mult_pj(table, 16, 8) + 0.075
    )
    with pytest.raises(InputError, match="wider than any supported width"):
        mcu.mac.mac_energy_pj(a_bits=17, b_bits=8)
    assert edge.mac.mac_energy_pj(a_bits=16, b_bits=16, is_float=True,
                                  acc_bits=16) == pytest.approx(1.5)
    assert edge.mac.mac_energy_pj(a_bits=16, b_bits=16, is_float=True) == pytest.approx(2.0)


def test_padded_bits() -> None:
    """A width runs at the next supported one up."""
    array = load_hardware("bitfusion").array
    assert [padded_bits(array, b) for b in (1, 2, 3, 5, 8, 9, 16)] == [2, 2, 4, 8, 8, 16, 16]


def test_sram_and_dram_models() -> None:
    """The `table` sram model: per-byte energies from the energy table by size; overrides win;
    leakage in W (derived by the banked model: banks x CACTI bank leakage)."""
    spec = load_hardware("edge_npu").model_copy(update={"components": {"sram": "table"}})
    models = build_cost_models(spec)
    exponent = math.log(5) / math.log(32)
    expected = 20 * (110592 / 32768) ** exponent / 8
    assert models.global_buffer.read_pj_per_byte == pytest.approx(expected)
    assert models.global_buffer.write_pj_per_byte == pytest.approx(expected)
    assert models.sram["pe_spads"].read_pj_per_byte == pytest.approx(10 * math.sqrt(520 / 8192) / 8)
    gb = spec.global_buffer
    bank = sram.bank_costs(gb.cells, gb.size_bytes / gb.banks, gb.word_bits)
    assert models.global_buffer.leakage_w == pytest.approx(8 * bank.leakage_mw / 1000)
    # LPDDR4 technology row (Micron LPDDR4-3200 derivation, docs/hardware.md §3)
    assert models.dram.read_pj_per_byte == pytest.approx(8 * (8.470 + 0.0735))
    assert models.dram.bandwidth_bytes_per_s == 6.4e9
    assert isinstance(models.global_buffer, SramModel) and isinstance(models.dram, DramModel)

    memory = spec.global_buffer.model_copy(update={"read_energy_pj": 4.0, "write_energy_pj": 6.0})
    dram = spec.dram.model_copy(update={"energy_pj_per_bit": 5.0})
    custom = spec.model_copy(update={"memories": [memory], "dram": dram})
    models = build_cost_models(custom)
    assert models.global_buffer.read_pj_per_byte == pytest.approx(4.0 / 8)
    assert models.global_buffer.write_pj_per_byte == pytest.approx(6.0 / 8)
    assert models.dram.pj_per_byte == pytest.approx(40.0)


def test_summary_numbers() -> None:
    """Derived numbers equal their definitions computed by hand."""
    spec = load_hardware("edge_npu")
    summary = hardware_summary(spec)
    assert peak_macs_per_s(spec) == summary["peak_macs_per_s"] == 168 * 200e6
    assert on_chip_bytes(spec) == summary["on_chip_bytes"] == 110592 + 168 * 520
    assert summary["int8_mac_pj"] == pytest.approx(0.3)
    assert summary["fp32_mac_pj"] == pytest.approx(4.6)
    gb, pe = spec.global_buffer, spec.pe_local
    bank = sram.bank_costs(gb.cells, gb.size_bytes / gb.banks, gb.word_bits)
    leak_gb = gb.banks * bank.leakage_mw
    leak_pe = 168 * sram.bank_costs(pe.cells, pe.size_bytes, pe.word_bits).leakage_mw
    assert summary["leakage_w"] == pytest.approx((leak_gb + leak_pe) / 1000)
    fusion = hardware_summary(load_hardware("bitfusion"))
    assert fusion["fp32_mac_pj"] is None and fusion["peak_fp32_macs_per_s"] is None
    assert summary["peak_fp32_macs_per_s"] == 16 * 200e6  # the 16-lane fp32 vector unit


def test_array_model_is_the_systolic_array() -> None:
    """The default `array` slot resolves to hwmodels.systolic.SystolicArray, built on the spec."""
    from hwmodels.systolic import SystolicArray

    spec = load_hardware("bitfusion")
    model = components.array_model(spec, source="bitfusion")
    assert isinstance(model, SystolicArray) and model.spec == spec.array
