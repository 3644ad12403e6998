"""Compute units (issue 10 items 1 and 6): unit selection, float GEMM time against closed forms,
area and leakage on every preset, the version-1 reader, and GEMM energy both ways."""

from __future__ import annotations

import math
import warnings
from math import ceil
from pathlib import Path

import pytest

from hwmodels.components import build_cost_models
from hwmodels.compute import UnitChoice, compute_leakage_w, elementwise_unit
from hwmodels.legacy import HardwareFormatWarning
from hwmodels.load import list_presets, load_hardware
from hwmodels.schema import HardwareSpec
from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.replay import simulate
from tests.helpers import make_trace, mlp_layers


def _with_units(units: list[dict]) -> HardwareSpec:
    data = load_hardware("edge_npu").model_dump()
    data["compute_units"] = units
    return HardwareSpec.model_validate(data)


# ---------------------------------------------------------------- elementwise_unit (contract B)


def test_elementwise_unit_on_edge_npu():
    """Integers run on the 12 x 14 PEs as 168 lanes; fp32 on the 16-lane fp32 vector unit;
    fp16 and bf16 on the 32-lane half-precision unit; fp8 (held exactly by fp16, bf16 and fp32)
    on the unit with the most lanes, the half-precision one."""
    hw = load_hardware("edge_npu")
    assert elementwise_unit(hw, "int8") == UnitChoice("array", 12 * 14, 1)
    assert elementwise_unit(hw, "int16") == UnitChoice("array", 168, 1)
    assert elementwise_unit(hw, "fp32") == UnitChoice("fp32_vector", 16, 1)
    for fmt in ("fp16", "bf16", "fp8"):
        assert elementwise_unit(hw, fmt) == UnitChoice("fp16_vector", 32, 1)


def test_elementwise_unit_prefers_exact_and_fastest():
    """fp16 on a PE unit at 2 cycles: 168 // 2 = 84 lanes beat the 16-lane vector unit; fp32
    (not on the PE unit) goes to the vector unit; bf16 is not held by fp16, so it goes to fp32."""
    hw = _with_units([
        {"name": "pe_fp16", "placement": "pe", "formats": {"fp16": 2}, "area_um2": 3000.0,
         "leakage_uw": 1.0, "source": "test"},
        {"name": "vec", "placement": "vector", "formats": {"fp32": 3}, "lanes": 16,
         "operand_bytes_per_cycle": 64.0, "area_um2": 11884.0, "leakage_uw": 1.0,
         "source": "test"}])
    assert elementwise_unit(hw, "fp16") == UnitChoice("pe_fp16", 84, 2)
    assert elementwise_unit(hw, "fp8") == UnitChoice("pe_fp16", 84, 2)
    assert elementwise_unit(hw, "fp32") == UnitChoice("vec", 16 // 3, 3)
    assert elementwise_unit(hw, "bf16") == UnitChoice("vec", 5, 3)


@pytest.mark.parametrize("hw_name, fmt", [("edge_npu", "int17"), ("edge_npu", "int32"),
                                          ("mcu_npu", "int32"), ("edge_npu", "int16")])
def test_wide_integers_are_composed_from_native_width_ops(hw_name, fmt):
    """An integer wider than the widest int_bits w takes ceil(bits/w)^2 cycles per op on the PEs
    (schoolbook multiply from w-bit pieces); at or below w, one op per PE per cycle."""
    hw = load_hardware(hw_name)
    bits, widest = int(fmt[3:]), hw.array.int_bits[-1]
    pieces = -(-bits // widest)
    pes = hw.array.rows * hw.array.cols
    assert elementwise_unit(hw, fmt) == UnitChoice("array", pes // pieces**2, pieces**2)


@pytest.mark.parametrize("hw_name, fmt", [("bitfusion", "fp32"), ("bitfusion", "bf16")])
def test_elementwise_unit_refuses_with_the_format_and_the_units(hw_name, fmt):
    """No unit: one InputError naming the format and listing the units."""
    hw = load_hardware(hw_name)
    with pytest.raises(InputError) as err:
        elementwise_unit(hw, fmt)
    assert err.value.field == "compute_units"
    assert fmt in err.value.problem
    assert err.value.allowed.startswith(f"units: array (int{hw.array.int_bits[0]}..")


def test_elementwise_unit_unknown_format():
    with pytest.raises(InputError, match="unknown number format"):
        elementwise_unit(load_hardware("edge_npu"), "fp64")


# ---------------------------------------------------------------- float GEMM time (closed form)


def _ws_cycles(m: int, n: int, k: int, rows: int, cols: int) -> int:
    """SCALE-Sim's ws closed form: ceil(K/rows) * ceil(N/cols) folds of 2R + C - 2 + M, less 1."""
    return ceil(k / rows) * ceil(n / cols) * (2 * rows + cols - 2 + m) - 1


def _vector_cycles(m: int, n: int, k: int, lanes: int, cpm: int, bpc: float,
                   a_bytes: float, b_bytes: float, out_bytes: float) -> int:
    """A lanes-wide vector unit: m * ceil(n / lanes) folds of k steps, or its operand path:
    A broadcast once per fold (m k ceil(n/L)), B read for every row (m k n), C written once."""
    stream = m * ceil(n / lanes) * k * cpm
    feed = m * k * ceil(n / lanes) * a_bytes + m * k * n * b_bytes + m * n * out_bytes
    return max(stream, ceil(feed / bpc))


def test_qat_fp32_backward_takes_the_vector_units_time_on_edge_npu():
    """QAT on edge_npu, one linear layer M=16, K=64, N=48: the int8 forward on the 12 x 14 ws
    array, the fp32 dgrad (dX = dY W^T, W dequantised from int8) and wgrad (dW = X^T dY, X from
    its int8 copy) on the 16-lane fp32 vector unit, the fp32 update (2 multiply-adds per
    parameter) on its 16 lanes: the step's compute cycles equal the closed forms from the
    preset's own numbers."""
    hw = load_hardware("edge_npu")
    (unit,) = [u for u in hw.compute_units if "fp32" in u.formats]
    lanes, cpm, bpc = unit.lanes, unit.formats["fp32"], unit.operand_bytes_per_cycle
    M, K, N = 16, 64, 48
    layers = mlp_layers(batch=M, dims=(K, N))
    run = simulate(hw, make_trace(layers, policy="qat", bits=(8, 8, 32, 32), iterations=3),
                   baseline=None).policies["qat"]
    fwd = _ws_cycles(M, N, K, hw.array.rows, hw.array.cols)
    dgrad = _vector_cycles(M, K, N, lanes, cpm, bpc, a_bytes=4, b_bytes=1, out_bytes=4)
    wgrad = _vector_cycles(K, N, M, lanes, cpm, bpc, a_bytes=1, b_bytes=4, out_bytes=4)
    update = ceil(2 * K * N / lanes)
    # non-GEMM work (activations, loss, QAT's fake-quantisation) is counted apart in
    # cycles.non_gemm (tests/test_nongemm.py checks it); the rest is GEMMs and the update
    assert run.cycles["compute"] - run.cycles["non_gemm"] == 3 * (fwd + dgrad + wgrad + update)
    assert dgrad == M * ceil(K / 16) * N and wgrad == K * ceil(N / 16) * M  # stream-bound here
    mac_rows = [r for r in run.rows if r.action == "mac"]
    assert {(r.op, r.component, r.bits) for r in mac_rows} == {
        ("fwd", "array", "int8xint8"), ("dgrad", "unit:fp32_vector", "fp32"),
        ("wgrad", "unit:fp32_vector", "fp32")}


def test_vector_unit_operand_path_binds_when_narrow():
    """With a 4 B/cycle operand path the same dgrad takes the feed's cycles, not the stream's."""
    hw = _with_units([{"name": "v", "placement": "vector", "formats": {"fp32": 1}, "lanes": 16,
                       "operand_bytes_per_cycle": 4.0, "area_um2": 11884.0, "leakage_uw": 0.0,
                       "source": "test"}])
    M, K, N = 16, 64, 48
    run = simulate(hw, make_trace(mlp_layers(batch=M, dims=(K, N)), policy="qat",
                                  bits=(8, 8, 32, 32), iterations=1),
                   baseline=None).policies["qat"]
    fwd = _ws_cycles(M, N, K, 12, 14)
    dgrad = _vector_cycles(M, K, N, 16, 1, 4.0, 4, 1, 4)
    wgrad = _vector_cycles(K, N, M, 16, 1, 4.0, 1, 4, 4)
    assert dgrad > M * ceil(K / 16) * N
    assert run.cycles["compute"] - run.cycles["non_gemm"] == (fwd + dgrad + wgrad
                                                             + ceil(2 * K * N / 16))


def test_no_unit_for_a_gemm_is_one_line_naming_op_formats_and_units(tmp_path, capsys):
    """bitfusion is integer-only: QAT's fp32 dgrad is refused naming the op, fp32 and the
    units; the CLI prints one line and exits 2."""
    with pytest.raises(InputError) as err:
        simulate("bitfusion", make_trace(mlp_layers(), policy="qat", bits=(8, 8, 32, 32)),
                 baseline=None)
    # the backward pass runs last layer first: fc2's first float op names itself, fp32, units
    assert err.value.field.startswith("layers[2] (fc2).")
    assert "fp32" in err.value.problem and "no unit computes" in err.value.problem
    assert err.value.allowed == "units: array (int2..16)"
    bare = [la.model_copy(update={"nongemm": ()}) for la in mlp_layers()]
    with pytest.raises(InputError) as err:  # fp32 training: the first GEMM is refused
        simulate("bitfusion", make_trace(bare, policy="fp32", bits=(32, 32, 32, 32)),
                 baseline=None)
    first = bare[0]
    assert (f"layers[0] ({first.name}).fwd: a {first.m}x{first.n}x{first.k} GEMM of fp32 x fp32"
            in err.value.problem)
    assert "needs fp32 MACs and no unit computes fp32" in err.value.problem
    with pytest.raises(SystemExit) as exc:
        main(["gemm", "8", "8", "8", "--hw", "bitfusion", "--bits", "fp32"])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "compute_units" in lines[0] and "fp32" in lines[0]


# ---------------------------------------------------------------- area and leakage


@pytest.mark.parametrize("name", list_presets())
def test_no_preset_offers_a_format_at_no_area(name):
    """Every unit that offers a format (the integer array and each float unit) has area > 0, a
    source, and appears in the run's chip area with rows x cols or lanes instances."""
    hw = load_hardware(name)
    assert hw.array.pe_area_um2 > 0 and hw.array.area_source.strip()
    for unit in hw.compute_units:
        assert unit.formats and unit.area_um2 > 0 and unit.source.strip()
    from hwmodels.compute import chip_area_mm2

    area = chip_area_mm2(hw, dict(build_cost_models(hw).sram))
    pes = hw.array.rows * hw.array.cols
    assert area["parts"]["array"] == pytest.approx(pes * hw.array.pe_area_um2 / 1e6)
    for unit in hw.compute_units:
        count = pes if unit.placement == "pe" else unit.lanes
        assert area["parts"][f"unit:{unit.name}"] == pytest.approx(count * unit.area_um2 / 1e6)
    assert area["total"] == pytest.approx(sum(area["parts"].values()))


def test_compute_leakage_is_charged_over_the_run():
    """Leakage rows of the array and the vector unit = instances x area x density x seconds,
    the density read here from the committed CACTI table: the 16 KB, 64-bit bank of edge_npu's
    itrs-lstp cells, leakage over area (logic leaks per mm² as the chip's SRAM)."""
    import csv

    rows = csv.DictReader(line for line in open(
        Path(__file__).parents[1] / "hwmodels" / "memory" / "cacti_45nm_sram.csv")
        if not line.startswith("#"))
    bank = next(r for r in rows if (r["cells"], r["size_bytes"], r["banks"], r["word_bits"])
                == ("itrs-lstp", "16384", "1", "64"))
    density = float(bank["leakage_mw"]) * 1e3 / (float(bank["area_mm2"]) * 1e6)  # µW/µm²
    hw = load_hardware("edge_npu")
    assert hw.array.pe_leakage_uw is None  # derived, not written
    pr = simulate(hw, make_trace(mlp_layers()), baseline=None).policies["rct"]
    leak = {r.component: r.energy_pj for r in pr.rows if r.action == "leak"}
    assert leak["array"] == pytest.approx(
        168 * hw.array.pe_area_um2 * density * 1e-6 * pr.seconds * 1e12)
    unit = hw.compute_units[0]
    assert leak["unit:fp32_vector"] == pytest.approx(
        unit.lanes * unit.area_um2 * density * 1e-6 * pr.seconds * 1e12)


def test_written_compute_leakage_is_an_override():
    """datacenter writes its leakage per PE: that number is charged, not the derived one."""
    hw = load_hardware("datacenter")
    assert hw.array.pe_leakage_uw is not None
    assert compute_leakage_w(hw)["array"] == pytest.approx(
        hw.array.rows * hw.array.cols * hw.array.pe_leakage_uw * 1e-6)


# ---------------------------------------------------------------- version-1 files


V1_TEXT = """
name: old_npu
array: {rows: 4, cols: 4, dataflow: ws, clock_hz: 1.0e+9, int_bits: [8, 16], native_bits: 16,
        fp32: true, fp32_cycles_per_mac: 4, source: test}
memories:
  - {name: gb, role: global, size_bytes: 65536, source: test}
dram: {bandwidth_bytes_per_s: 1.0e+9, source: test}
"""


def test_version_1_file_is_read_with_its_stated_equivalent(tmp_path: Path):
    """`fp32: true` at 4 cycles -> a `pe` unit {fp32: 4} with one fp32 FMA per PE of area
    (Horowitz 45 nm 7700 + 4184 µm²); the PE area is a 16 x 16 multiplier + 32-bit adder by the
    power law through 282 µm² (8 x 8) and 3495 µm² (32 x 32), + 137 µm²; a warning names the
    file."""
    path = tmp_path / "old.yaml"
    path.write_text(V1_TEXT)
    with pytest.warns(HardwareFormatWarning, match="old.yaml"):
        hw = load_hardware(path)
    (unit,) = hw.compute_units
    assert (hw.version, unit.placement, dict(unit.formats)) == (2, "pe", {"fp32": 4})
    assert unit.area_um2 == pytest.approx(7700 + 4184) and unit.leakage_uw == 0
    p = math.log(3495 / 282) / math.log(32 * 32 / 64)
    assert hw.array.pe_area_um2 == pytest.approx(282 * (256 / 64) ** p + 137, abs=1e-3)
    assert hw.array.pe_leakage_uw == 0


def test_version_1_without_fp32_is_integer_only(tmp_path: Path):
    path = tmp_path / "int.yaml"
    path.write_text(V1_TEXT.replace("fp32: true, fp32_cycles_per_mac: 4, ", ""))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HardwareFormatWarning)
        hw = load_hardware(path)
    assert hw.compute_units == []


def test_presets_are_version_2_and_load_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", HardwareFormatWarning)
        for name in list_presets():
            assert load_hardware(name).version == 2


# ---------------------------------------------------------------- GEMM energy both ways


def test_gemm_datapath_is_arith_plus_register_and_operand_reads():
    """One linear layer (M=16, K=64, N=48) on edge_npu, rct int8: the forward GEMM's datapath
    energy = its MACs + per-MAC register traffic (read a, b and the partial sum, write the sum) +
    global-buffer reads of the ws operand feed (X: M K ceil(N/cols), W: K N, partial sums
    M N (ceil(K/rows) - 1) at the accumulator width)."""

    hw = load_hardware("edge_npu")
    costs = build_cost_models(hw)
    M, K, N = 16, 64, 48
    pr = simulate(hw, make_trace(mlp_layers(batch=M, dims=(K, N)), iterations=1),
                  baseline=None).policies["rct"]
    macs = M * N * K
    arith = macs * costs.mac.mac_energy_pj(a_bits=8, b_bits=8, acc_bits=32)
    regs = costs.sram["pe_spads"]
    reg = macs * (1 + 1 + 4) * regs.read_pj_per_byte + macs * 4 * regs.write_pj_per_byte
    gb = costs.global_buffer.read_pj_per_byte
    feed = (M * K * ceil(N / 14) * 1 + K * N * 1 + M * N * (ceil(K / 12) - 1) * 4) * gb
    fwd_arith = sum(r.energy_pj for r in pr.rows if r.op == "fwd" and r.action == "mac")
    fwd_feed = sum(r.energy_pj for r in pr.rows if r.op == "fwd"
                   and r.component.startswith("sram:") and r.bits != "-")
    assert fwd_arith == pytest.approx(arith)
    assert fwd_feed == pytest.approx(reg + feed)
    total_feed = sum(r.energy_pj for r in pr.rows if r.op in ("fwd", "dgrad", "wgrad")
                     and r.component.startswith("sram:") and r.bits != "-")
    assert pr.energy_pj["gemm_arith"] == pr.energy_pj["gemm"]
    assert pr.energy_pj["gemm_datapath"] == pytest.approx(pr.energy_pj["gemm_arith"]
                                                          + total_feed)


def test_sweep_area_column_is_the_runs_chip_area():
    """The sweep's `area_mm2` column (the `area` objective) is the run JSON's area total; a
    bigger global buffer adds its capacity x the CACTI mm²/KB where the memory model has no area
    of its own."""
    from hwmodels.compute import SRAM_MM2_PER_KB_FALLBACK
    from rctsim.sweep.metrics import result_metrics
    from tests.helpers import hardware

    trace = make_trace(mlp_layers())
    small, big = (simulate(hardware(global_size=size), trace, baseline=None)
                  for size in (65536, 131072))
    assert result_metrics(small)["area_mm2"] == small.area_mm2["total"]
    models = build_cost_models(hardware(global_size=65536)).sram
    if getattr(models["global_buffer"], "area_mm2", None) is None:  # the fallback applies
        assert big.area_mm2["total"] - small.area_mm2["total"] == pytest.approx(
            64 * SRAM_MM2_PER_KB_FALLBACK)
    else:  # the memory model states its area
        assert big.area_mm2["total"] > small.area_mm2["total"]


def test_cli_prints_the_version_1_conversion_as_one_note(tmp_path: Path, capsys):
    path = tmp_path / "old.yaml"
    path.write_text(V1_TEXT)
    with pytest.raises(SystemExit) as exc:
        main(["hw", "validate", str(path)])
    assert exc.value.code == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rctsim: note: ") and "old.yaml" in err[0]
