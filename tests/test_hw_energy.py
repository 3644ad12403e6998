"""Energy scaling rules (hwmodels.energy) against hand computations from the tables."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwmodels import energy
from hwmodels.load import load_energy_table
from hwmodels.schema import EnergyEntry, EnergyTable


@pytest.fixture(scope="module")
def horowitz() -> EnergyTable:
    """The default 45 nm table."""
    return load_energy_table("horowitz_45nm")


def _table(**overrides: list[EnergyEntry] | EnergyEntry) -> EnergyTable:
    """A small synthetic table; lists given as overrides replace the defaults."""

    def entries(points: list[tuple[int, float]], key: str = "bits") -> list[EnergyEntry]:
        return [EnergyEntry(**{key: k}, energy_pj=e, source="test") for k, e in points]

    fields = {
        "name": "t",
        "int_mult": entries([(8, 1.0)]),
        "int_add": entries([(8, 1.0)]),
        "fp_mult": entries([(32, 1.0)]),
        "fp_add": entries([(32, 1.0)]),
        "sram_64b": entries([(1024, 1.0)], "size_bytes"),
        "dram_64b": EnergyEntry(energy_pj=64.0, source="test"),
    }
    fields.update(overrides)
    return EnergyTable(**fields)


def test_table_points_are_exact(horowitz: EnergyTable) -> None:
    """At the published points the rules return the published numbers."""
    assert [energy.int_add_pj(horowitz, b) for b in (8, 16, 32)] == pytest.approx(
        [0.03, 0.05, 0.1], rel=1e-12
    )
    assert energy.int_mult_pj(horowitz, 8, 8) == pytest.approx(0.2, rel=1e-12)
    assert energy.int_mult_pj(horowitz, 32, 32) == pytest.approx(3.1, rel=1e-12)
    assert energy.fp_add_pj(horowitz, 16) == pytest.approx(0.4, rel=1e-12)
    assert energy.fp_add_pj(horowitz, 32) == pytest.approx(0.9, rel=1e-12)
    assert energy.fp_mult_pj(horowitz, 16) == pytest.approx(1.1, rel=1e-12)
    assert energy.fp_mult_pj(horowitz, 32) == pytest.approx(3.7, rel=1e-12)
    for size, pj in ((8192, 10.0), (32768, 20.0), (1048576, 100.0)):
        assert energy.sram_64b_pj(horowitz, size) == pytest.approx(pj, rel=1e-12)
    assert energy.dram_pj_per_bit(horowitz) == pytest.approx(1950.0 / 64)
    assert energy.dram_pj_per_byte(horowitz) == pytest.approx(1950.0 / 8)


def test_mac_energies_at_table_points(horowitz: EnergyTable) -> None:
    """int8 MAC = mult 8x8 + add 32; fp32 MAC = fp mult 32 + fp add 32."""
    assert energy.int_mac_pj(horowitz, 8, 8, 32) == pytest.approx(0.2 + 0.1)
    assert energy.fp32_mac_pj(horowitz) == pytest.approx(3.7 + 0.9)
    assert energy.int_mac_pj(horowitz, 8, 8, 16) == pytest.approx(0.2 + 0.05)


def test_multiplier_is_power_law_in_operand_product(horowitz: EnergyTable) -> None:
    """Through (64, 0.2) and (1024, 3.1): a product of 256 is the geometric mean of the two."""
    geometric_mean = math.sqrt(0.2 * 3.1)
    assert energy.int_mult_pj(horowitz, 16, 16) == pytest.approx(geometric_mean, rel=1e-12)
    assert energy.int_mult_pj(horowitz, 8, 32) == pytest.approx(geometric_mean, rel=1e-12)
    # 4 x 4 extrapolates one factor of 4 (in product) below 8 x 8: 0.2 / sqrt(15.5).
    assert energy.int_mult_pj(horowitz, 4, 4) == pytest.approx(0.2 / math.sqrt(15.5), rel=1e-12)
    exponent = math.log(15.5) / math.log(16)
    assert energy.int_mult_pj(horowitz, 2, 8) == pytest.approx(0.2 * (16 / 64) ** exponent)


def test_adder_is_linear_in_bits(horowitz: EnergyTable) -> None:
    """Between and beyond the points the adder follows straight segments."""
    assert energy.int_add_pj(horowitz, 12) == pytest.approx(0.04)
    assert energy.int_add_pj(horowitz, 24) == pytest.approx(0.075)
    assert energy.int_add_pj(horowitz, 4) == pytest.approx(0.02)
    assert energy.int_add_pj(horowitz, 64) == pytest.approx(0.2)
    assert energy.fp_add_pj(horowitz, 24) == pytest.approx(0.65)


def test_sram_is_power_law_in_size(horowitz: EnergyTable) -> None:
    """8 KB -> 32 KB doubles the energy (exponent 1/2); 32 KB -> 1 MB is a 5x over 32x."""
    assert energy.sram_64b_pj(horowitz, 16384) == pytest.approx(10 * math.sqrt(2))
    assert energy.sram_64b_pj(horowitz, 2048) == pytest.approx(5.0)
    upper = math.log(5) / math.log(32)
    assert energy.sram_64b_pj(horowitz, 131072) == pytest.approx(20 * 4**upper)
    assert energy.sram_64b_pj(horowitz, 4 * 1048576) == pytest.approx(100 * 4**upper)


def test_sram_word_width_scales_linearly(horowitz: EnergyTable) -> None:
    """A 128-bit word costs twice a 64-bit one; per byte the width does not matter."""
    assert energy.sram_word_pj(horowitz, 8192, 128) == pytest.approx(20.0)
    assert energy.sram_word_pj(horowitz, 8192, 16) == pytest.approx(2.5)
    assert energy.sram_pj_per_byte(horowitz, 8192) == pytest.approx(1.25)


def test_single_point_scales_proportionally() -> None:
    """With one point, multiply ~ a*b, add ~ bits, SRAM ~ size."""
    table = _table()
    assert energy.int_mult_pj(table, 16, 16) == pytest.approx(4.0)
    assert energy.int_mult_pj(table, 4, 8) == pytest.approx(0.5)
    assert energy.int_add_pj(table, 32) == pytest.approx(4.0)
    assert energy.sram_64b_pj(table, 4096) == pytest.approx(4.0)
    assert energy.dram_pj_per_bit(table) == pytest.approx(1.0)


def test_downward_extrapolation_never_goes_non_positive() -> None:
    """A steep adder segment would cross zero below its first point: fall back to ~bits."""
    adds = [
        EnergyEntry(bits=8, energy_pj=0.01, source="t"),
        EnergyEntry(bits=16, energy_pj=0.1, source="t"),
    ]
    table = _table(int_add=adds)
    assert 0.01 - 6 * (0.09 / 8) < 0
    assert energy.int_add_pj(table, 2) == pytest.approx(0.01 * 2 / 8)


def test_seven_nm_table_macs() -> None:
    """tpuv4i_7nm: int8 MAC = 0.07 + 0.03 pJ, fp32 MAC = 1.31 + 0.38 pJ, DRAM 415 pJ / 64 b."""
    table = load_energy_table("tpuv4i_7nm")
    assert energy.int_mac_pj(table, 8, 8) == pytest.approx(0.10)
    assert energy.fp32_mac_pj(table) == pytest.approx(1.69)
    assert energy.dram_pj_per_bit(table) == pytest.approx(415 / 64)


@given(
    st.lists(st.floats(0.01, 100.0), min_size=2, max_size=5),
    st.integers(1, 31),
)
def test_interpolation_hits_points_and_stays_between(energies: list[float], probe: int) -> None:
    """Both interpolators pass through every point and stay within neighbouring values."""
    ys = sorted(energies)
    xs = [float(2 ** (i + 1)) for i in range(len(ys))]
    for x, y in zip(xs, ys, strict=True):
        assert energy.interp_linear(xs, ys, x) == pytest.approx(y, rel=1e-9)
        assert energy.interp_loglog(xs, ys, x) == pytest.approx(y, rel=1e-9)
    x = min(max(probe / 31 * (xs[-1] - xs[0]) + xs[0], xs[0]), xs[-1])
    for value in (energy.interp_linear(xs, ys, x), energy.interp_loglog(xs, ys, x)):
        assert ys[0] * (1 - 1e-9) <= value <= ys[-1] * (1 + 1e-9)


def test_duplicate_points_are_rejected() -> None:
    """Two entries at the same x make the fit ambiguous."""
    with pytest.raises(ValueError):
        energy.interp_loglog([8.0, 8.0], [1.0, 2.0], 8.0)
