"""Banked SRAM against the committed CACTI table; DRAM technologies against their sources."""

from __future__ import annotations

import csv
import math
import statistics
from importlib import resources

import numpy as np
import pytest

from hwmodels import sram
from hwmodels.components import build_cost_models
from hwmodels.dram import TECHNOLOGIES, dram_technologies
from hwmodels.load import load_hardware
from hwmodels.schema import HardwareSpec
from hwmodels.summary import hardware_overrides, hardware_summary


def _table_rows() -> list[dict[str, str]]:
    """The committed CSVs read directly (independent of hwmodels.sram's parser)."""
    rows = []
    for name in ("cacti_45nm_sram.csv", "cacti_45nm_sram_16mib.csv"):
        text = (resources.files("hwmodels") / "memory" / name).read_text()
        rows += csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return rows


ROWS = _table_rows()
SINGLE = {(r["cells"], int(r["size_bytes"]), int(r["word_bits"])): r
          for r in ROWS if r["banks"] == "1"}


def test_table_header_names_cacti_and_the_command() -> None:
    header = sram.cacti_table().header
    assert any("CACTI 7.0" in line for line in header)
    assert any(line.startswith("Command: python tools/cacti_sweep.py") for line in header)
    assert any("hwcomponents_cacti-1.0.40.tar.gz" in line for line in header)


def test_exact_at_every_table_point() -> None:
    for (cells, size, word), row in SINGLE.items():
        bank = sram.bank_costs(cells, size, word)
        for q in sram.QUANTITIES:
            assert getattr(bank, q) == float(row[q]), (cells, size, word, q)


def test_one_bank_is_cactis_own_number() -> None:
    row = SINGLE[("itrs-hp", 32768, 64)]
    costs = sram.banked_sram("itrs-hp", 32768, 1, 64)
    assert costs.read_pj == float(row["read_pj"]) and costs.wire_pj == 0.0
    assert costs.leakage_mw == float(row["leakage_mw"])
    assert costs.area_mm2 == float(row["area_mm2"])


def _without_size(size: int) -> sram.CactiTable:
    table = sram.cacti_table()
    return sram.CactiTable(points={k: v for k, v in table.points.items() if k[1] != size},
                           sizes=tuple(s for s in table.sizes if s != size), words=table.words,
                           wire_pj_per_bit_mm=table.wire_pj_per_bit_mm, header=table.header)


def _left_out_errors(quantity: str) -> list[float]:
    """Relative error of the size interpolation at each interior table size, predicted from its
    two neighbours with that size removed from the table."""
    sizes = sram.cacti_table().sizes
    errors = []
    for size in sizes[1:-1]:
        reduced = _without_size(size)
        for (cells, s, word), row in SINGLE.items():
            if s != size or (cells, size // 2, word) not in SINGLE:
                continue
            predicted = getattr(sram.bank_costs(cells, size, word, reduced), quantity)
            published = float(row[quantity])
            if published > 0:
                errors.append(predicted / published - 1)
    return errors


@pytest.mark.parametrize(("quantity", "median", "p90"), [
    ("read_pj", 0.10, 0.30), ("leakage_mw", 0.10, 0.30), ("area_mm2", 0.10, 0.30)])
def test_size_interpolation_predicts_left_out_points(quantity: str, median: float,
                                                     p90: float) -> None:
    """Between table sizes (x2 apart) the power-law interpolation is within these bounds of
    CACTI's own number (bounds are the measured distribution rounded up; docs/hardware.md)."""
    errors = [abs(e) for e in _left_out_errors(quantity)]
    assert len(errors) > 200
    assert statistics.median(errors) < median
    assert float(np.percentile(errors, 90)) < p90


def test_word_interpolation_is_linear_between_table_widths() -> None:
    lo, hi = SINGLE[("itrs-hp", 65536, 64)], SINGLE[("itrs-hp", 65536, 128)]
    mid = sram.bank_costs("itrs-hp", 65536, 96)
    assert mid.read_pj == pytest.approx((float(lo["read_pj"]) + float(hi["read_pj"])) / 2)


def test_wire_term_is_the_least_squares_fit_to_cactis_multibank_rows() -> None:
    """k_wire recomputed here with numpy from the CSV alone."""
    for cells in sram.CELL_TYPES:
        xs, ys = [], []
        for r in ROWS:
            if r["cells"] != cells or r["banks"] == "1":
                continue
            banks, word = int(r["banks"]), int(r["word_bits"])
            bank = SINGLE.get((cells, int(r["size_bytes"]) // banks, word))
            if bank is None:
                continue
            xs.append(word * math.sqrt(float(bank["area_mm2"])) * (math.sqrt(banks) - 1))
            ys.append(float(r["read_pj"]) - float(bank["read_pj"]))
        k, *_ = np.linalg.lstsq(np.array(xs)[:, None], np.array(ys), rcond=None)
        assert sram.cacti_table().wire_pj_per_bit_mm[cells] == pytest.approx(k[0], rel=1e-9)
        assert k[0] > 0


def test_banked_energy_is_bank_plus_wire() -> None:
    bank = SINGLE[("itrs-hp", 16384, 64)]
    k = sram.cacti_table().wire_pj_per_bit_mm["itrs-hp"]
    costs = sram.banked_sram("itrs-hp", 8 * 16384, 8, 64)
    wire = k * 64 * math.sqrt(float(bank["area_mm2"])) * (math.sqrt(8) - 1)
    assert costs.read_pj == pytest.approx(float(bank["read_pj"]) + wire, rel=1e-12)
    assert costs.write_pj == pytest.approx(float(bank["write_pj"]) + wire, rel=1e-12)
    assert costs.leakage_mw == pytest.approx(8 * float(bank["leakage_mw"]), rel=1e-12)
    assert costs.area_mm2 == pytest.approx(8 * float(bank["area_mm2"]), rel=1e-12)


def test_banking_a_large_memory_lowers_its_access_energy() -> None:
    """The point of banking: a 4 MiB memory in 64 banks costs less per access than one bank."""
    one = sram.banked_sram("itrs-hp", 4 << 20, 1, 64).read_pj
    banked = sram.banked_sram("itrs-hp", 4 << 20, 64, 64).read_pj
    assert banked < one


def test_outside_the_table_is_an_error_not_an_extrapolation() -> None:
    with pytest.raises(sram.OutsideTable, match="bank size"):
        sram.bank_costs("itrs-hp", 32 << 20, 64)
    with pytest.raises(sram.OutsideTable, match="fewer than 32 rows"):
        sram.bank_costs("itrs-hp", 128, 64)


# ------------------------------------------------------------------ DRAM


def _tn41(vdd_sets, tck_ns, bl, width, cols, trc, tras):
    """Micron TN-41-01 per-bit read, write and per-activation energy (pJ) from datasheet IDDs:
    vdd_sets = [(V, IDD4R, IDD4W, IDD3N, IDD2N, IDD0) in mA], timings in clocks."""
    t_burst = bl / 2 * tck_ns
    bits = bl * width
    read = sum(v * (r - n3) for v, r, w, n3, n2, i0 in vdd_sets) * t_burst / bits
    write = sum(v * (w - n3) for v, r, w, n3, n2, i0 in vdd_sets) * t_burst / bits
    act = sum(v * (i0 * trc - n3 * tras - n2 * (trc - tras))
              for v, r, w, n3, n2, i0 in vdd_sets) * tck_ns
    return read, write, act / (cols * width)


def test_dram_table_has_exactly_the_schema_names() -> None:
    assert tuple(dram_technologies()) == TECHNOLOGIES


def test_lpddr4_from_the_micron_datasheet_currents() -> None:
    # Micron 6Gb LPDDR4-3200 x16 (DRAMPower memspec MICRON_6Gb_LPDDR4-3200_32bit_A):
    # VDD1 1.8 V: IDD4R/W 2.25, IDD3N 2.25, IDD2N 2.0, IDD0 3.5 mA; VDD2 1.1 V: IDD4R2 275,
    # IDD4W2 210, IDD3N2 30, IDD2N2 27, IDD02 45 mA; VDDQ 1.1 V: IDD4RQ 150, IDD4WQ 55,
    # IDD3NQ 0.75 mA; tCK 0.625 ns, BL16, x16, 1024 columns, tRC 97, tRAS 68 clocks.
    read, write, act = _tn41([(1.8, 2.25, 2.25, 2.25, 2.0, 3.5), (1.1, 275, 210, 30, 27, 45)],
                             0.625, 16, 16, 1024, 97, 68)
    io_read = 1.1 * (150 - 0.75) * 5.0 / 256
    io_write = 1.1 * (55 - 0.75) * 5.0 / 256
    tech = dram_technologies()["lpddr4"]
    assert tech.read_pj_per_bit == pytest.approx(read + io_read, abs=5e-4)
    assert tech.write_pj_per_bit == pytest.approx(write + io_write, abs=5e-4)
    assert tech.activation_pj_per_bit == pytest.approx(act, abs=5e-5)
    assert tech.channel_bytes_per_s == 3200e6 * 2  # JESD209-4: x16 at 3200 MT/s
    assert tech.latency_ns == pytest.approx((29 + 28) * 0.625, abs=5e-3)


def test_ddr3_and_ddr4_from_the_micron_datasheet_currents() -> None:
    # Micron 2Gb DDR3-1600 x16: VDD 1.5 V, IDD4R 270, IDD4W 280, IDD3N 45, IDD2N 42, IDD0 110 mA,
    # tCK 1.25 ns, BL8, tRC 38, tRAS 28; I/O 4.6 mW (read) and 21.2 mW (write ODT) per DQ.
    read, write, act = _tn41([(1.5, 270, 280, 45, 42, 110)], 1.25, 8, 16, 1024, 38, 28)
    ddr3 = dram_technologies()["ddr3"]
    assert ddr3.read_pj_per_bit == pytest.approx(read + 4.6 * 0.625, abs=5e-3)
    assert ddr3.write_pj_per_bit == pytest.approx(write + 21.2 * 0.625, abs=5e-3)
    assert ddr3.activation_pj_per_bit == pytest.approx(act, abs=5e-5)
    # Micron 4Gb DDR4-2400 x8: VDD 1.2 V, IDD4R 184.5, IDD4W 168.75, IDD3N 44, IDD2N 38.25,
    # IDD0 60.75 mA, tCK 1/1.2 ns, BL8, tRC 55, tRAS 39 (core only: no I/O figures given).
    read, write, act = _tn41([(1.2, 184.5, 168.75, 44, 38.25, 60.75)], 1 / 1.2, 8, 8, 1024,
                             55, 39)
    ddr4 = dram_technologies()["ddr4"]
    assert ddr4.read_pj_per_bit == pytest.approx(read, abs=5e-4)
    assert ddr4.write_pj_per_bit == pytest.approx(write, abs=5e-4)
    assert ddr4.activation_pj_per_bit == pytest.approx(act, abs=5e-5)
    assert ddr4.channel_bytes_per_s == 2400e6 * 8  # JESD79-4: 64-bit channel


def test_hbm2_is_oconnor_micro_2017() -> None:
    # O'Connor et al., MICRO 2017, section 2: HBM2 ~3.97 pJ/bit, 1.21 of it row activation.
    hbm2 = dram_technologies()["hbm2"]
    assert hbm2.read_pj_per_bit + hbm2.activation_pj_per_bit == pytest.approx(3.97)
    assert hbm2.activation_pj_per_bit == 1.21
    assert hbm2.channel_bytes_per_s == 2e9 * 128 / 8  # JESD235A: 128 bits at 2 Gb/s per pin


def test_horowitz_entry_is_the_energy_table_midpoint() -> None:
    assert dram_technologies()["horowitz_45nm"].read_pj_per_bit == pytest.approx(1950 / 64,
                                                                                 abs=5e-3)


def test_edge_npu_uses_lpddr4() -> None:
    spec = load_hardware("edge_npu")
    dram = build_cost_models(spec).dram
    tech = dram_technologies()["lpddr4"]
    assert spec.dram.technology == "lpddr4"
    assert dram.read_pj_per_byte == pytest.approx(8 * (tech.read_pj_per_bit
                                                       + tech.activation_pj_per_bit))
    assert dram.write_pj_per_byte == pytest.approx(8 * (tech.write_pj_per_bit
                                                        + tech.activation_pj_per_bit))
    assert dram.bandwidth_bytes_per_s == 6.4e9
    assert dram.latency_s == pytest.approx(tech.latency_ns * 1e-9)
    assert hardware_overrides(spec) == []


def test_channels_multiply_bandwidth_and_overrides_win() -> None:
    data = load_hardware("edge_npu").model_dump(mode="json")
    data["dram"].update(technology="hbm2e", channels=4)
    spec = HardwareSpec.model_validate(data)
    assert build_cost_models(spec).dram.bandwidth_bytes_per_s == 4 * 51.2e9
    data["dram"].update(bandwidth_bytes_per_s=1e9, energy_pj_per_bit=2.0, latency_ns=10.0)
    spec = HardwareSpec.model_validate(data)
    dram = build_cost_models(spec).dram
    assert (dram.bandwidth_bytes_per_s, dram.read_pj_per_byte, dram.latency_s) == (
        1e9, 16.0, pytest.approx(1e-8))
    assert hardware_overrides(spec) == ["dram.energy_pj_per_bit", "dram.bandwidth_bytes_per_s",
                                        "dram.latency_ns"]


# ------------------------------------------------------------------ presets


def test_preset_memories_follow_their_description() -> None:
    """edge_npu's global buffer: 8 banks of 13.5 KB, itrs-lstp, 64-bit words, by hand."""
    spec = load_hardware("edge_npu")
    gb = spec.global_buffer
    costs = sram.banked_sram(gb.cells, gb.size_bytes, gb.banks, gb.word_bits)
    model = build_cost_models(spec).global_buffer
    assert model.read_pj_per_byte == pytest.approx(costs.read_pj / 8)
    assert model.leakage_w == pytest.approx(costs.leakage_mw / 1000)
    pe = spec.pe_local
    local = build_cost_models(spec).sram[pe.name]
    one = sram.banked_sram(pe.cells, pe.size_bytes, pe.banks, pe.word_bits)
    assert local.area_mm2 == pytest.approx(168 * one.area_mm2)
    assert local.leakage_w == pytest.approx(168 * one.leakage_mw / 1000)


def test_written_leakage_is_an_override_and_reported() -> None:
    data = load_hardware("edge_npu").model_dump(mode="json")
    data["memories"][0]["leakage_mw"] = 5.0
    spec = HardwareSpec.model_validate(data)
    assert build_cost_models(spec).global_buffer.leakage_w == 5e-3
    assert hardware_summary(spec)["overrides"] == ["memories[global_buffer].leakage_mw"]


@pytest.mark.parametrize("name", ["edge_npu", "mcu_npu", "datacenter", "bitfusion"])
def test_presets_hard_code_no_derived_sram_numbers(name: str) -> None:
    spec = load_hardware(name)
    assert not [o for o in hardware_overrides(spec) if o.startswith("memories")]
    assert spec.dram.technology is not None
