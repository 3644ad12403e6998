"""Systolic-array timing: equal to SCALE-Sim on its fixture, traffic equal to a brute-force count,
precision modes equal to hand computations, errors for what the hardware cannot run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwmodels.compute import GemmUnit, float_gemm_timing
from hwmodels.schema import ArraySpec
from hwmodels.systolic import (
    DATAFLOWS,
    SystolicArray,
    compute_cycles,
    compute_cycles_np,
    gemm_timing,
    mapping_efficiency,
    operand_traffic,
)
from rctsim.errors import InputError

FIXTURE = Path(__file__).parent / "fixtures" / "scalesim_cycles.json"
SCALESIM = json.loads(FIXTURE.read_text())
CASES = SCALESIM["cases"]


def _case_id(case: dict) -> str:
    return f"{case['m']}x{case['n']}x{case['k']}-{case['rows']}x{case['cols']}-{case['dataflow']}"


def _native(case: dict):
    return gemm_timing(case["m"], case["n"], case["k"], case["rows"], case["cols"],
                       case["dataflow"], a_bits_run=8, b_bits_run=8, is_float=False)


def _array(**overrides) -> SystolicArray:
    fields = dict(rows=4, cols=4, dataflow="os", clock_hz=1e9, int_bits=[2, 4, 8, 16],
                  pe_area_um2=1.0, pe_leakage_uw=0.0, area_source="timing-only test array",
                  source="test array")
    return SystolicArray(ArraySpec(**{**fields, **overrides}))


# --------------------------------------------------------------------------- SCALE-Sim fixture
def test_fixture_is_scalesim_and_large_enough():
    """The fixture was produced by SCALE-Sim 3.x over every dataflow, stall-free, >= 60 cases."""
    assert SCALESIM["header"]["scalesim_version"].startswith("3.")
    assert len(CASES) >= 60
    assert {c["dataflow"] for c in CASES} == set(DATAFLOWS)
    assert all(c["stall_cycles"] == 0 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_compute_cycles_equal_scalesim(case):
    """compute_cycles equals SCALE-Sim's reported compute cycles for every fixture case."""
    cycles = compute_cycles(case["m"], case["n"], case["k"], case["rows"], case["cols"],
                            case["dataflow"])
    assert cycles == case["compute_cycles"]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_vectorised_cycles_equal_scalesim(dataflow):
    """One numpy call over all cases of a dataflow gives SCALE-Sim's numbers elementwise."""
    cases = [c for c in CASES if c["dataflow"] == dataflow]
    cols = {key: np.array([c[key] for c in cases]) for key in ("m", "n", "k", "rows", "cols")}
    dims = [cols[key] for key in ("m", "n", "k", "rows", "cols")]
    np.testing.assert_array_equal(compute_cycles_np(*dims, dataflow),
                                  [c["compute_cycles"] for c in cases])
    traffic = operand_traffic(*dims, dataflow)
    np.testing.assert_array_equal(traffic["a_reads"], [c["ifmap_sram_reads"] for c in cases])
    np.testing.assert_array_equal(traffic["b_reads"], [c["filter_sram_reads"] for c in cases])
    np.testing.assert_allclose(mapping_efficiency(*dims, dataflow) * 100,
                               [c["mapping_efficiency_pct"] for c in cases], rtol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_traffic_and_ratios_equal_scalesim(case):
    """Operand reads, output writes, utilisation and mapping efficiency equal SCALE-Sim's.

    SCALE-Sim 3.0.0's os ofmap write count adds rows+cols per fold on top of the M*N real writes
    (systolic_compute_os.create_ofmap_demand_mat increments it twice); we compare the real part.
    """
    timing = _native(case)
    over_count = timing.folds * (case["rows"] + case["cols"]) if case["dataflow"] == "os" else 0
    assert timing.a_reads == case["ifmap_sram_reads"]
    assert timing.b_reads == case["filter_sram_reads"]
    assert timing.out_writes == case["ofmap_sram_writes"] - over_count
    assert timing.utilization * 100 == pytest.approx(case["overall_util_pct"], rel=1e-12)
    assert timing.mapping_efficiency * 100 == pytest.approx(case["mapping_efficiency_pct"],
                                                            rel=1e-12)


# --------------------------------------------------------------------------- brute-force traffic
def _brute_force(m: int, n: int, k: int, rows: int, cols: int, dataflow: str) -> dict:
    """Enumerate folds and PEs one by one: what each PE holds, reads, writes and multiplies."""
    a_reads, b_reads, out_writes, out_reads = Counter(), Counter(), Counter(), Counter()
    macs: Counter = Counter()
    folds = 0
    spatial = {"os": (m, n), "ws": (k, n), "is": (k, m)}[dataflow]
    for r0 in range(0, spatial[0], rows):
        for c0 in range(0, spatial[1], cols):
            folds += 1
            used_r = range(r0, min(r0 + rows, spatial[0]))
            used_c = range(c0, min(c0 + cols, spatial[1]))
            if dataflow == "os":  # PE (i, j) keeps Y[i, j]; X rows enter left, W columns top
                for t in range(k):
                    a_reads.update((i, t) for i in used_r)
                    b_reads.update((t, j) for j in used_c)
                    macs.update((i, j, t) for i in used_r for j in used_c)
                out_writes.update((i, j) for i in used_r for j in used_c)
            elif dataflow == "ws":  # PE (kk, j) keeps W[kk, j]; X[t, :] streams; psums go down
                b_reads.update((kk, j) for kk in used_r for j in used_c)
                for t in range(m):
                    a_reads.update((t, kk) for kk in used_r)
                    macs.update((t, j, kk) for kk in used_r for j in used_c)
                    out_writes.update((t, j) for j in used_c)
                    if r0 > 0:
                        out_reads.update((t, j) for j in used_c)
            else:  # is: PE (kk, i) keeps X[i, kk]; W[:, t] streams; psums go down
                a_reads.update((i, kk) for kk in used_r for i in used_c)
                for t in range(n):
                    b_reads.update((kk, t) for kk in used_r)
                    macs.update((i, t, kk) for kk in used_r for i in used_c)
                    out_writes.update((i, t) for i in used_c)
                    if r0 > 0:
                        out_reads.update((i, t) for i in used_c)
    assert set(macs.values()) == {1} and len(macs) == m * n * k  # each MAC exactly once
    return {"a_reads": a_reads.total(), "b_reads": b_reads.total(),
            "out_writes": out_writes.total(), "out_reads": out_reads.total(), "folds": folds,
            "stationary": spatial[0] * spatial[1]}


BRUTE_CASES = [(m, n, k, r, c, df) for (m, n, k) in [(1, 1, 1), (5, 7, 9), (9, 4, 13), (12, 3, 2)]
               for (r, c) in [(1, 3), (4, 4), (3, 5)] for df in DATAFLOWS]


@pytest.mark.parametrize("m,n,k,rows,cols,dataflow", BRUTE_CASES)
def test_traffic_equals_brute_force(m, n, k, rows, cols, dataflow):
    """Operand traffic, partial-sum read-back, folds and mapping efficiency match a slow count."""
    timing = gemm_timing(m, n, k, rows, cols, dataflow, a_bits_run=8, b_bits_run=8,
                         is_float=False)
    ref = _brute_force(m, n, k, rows, cols, dataflow)
    got = {key: getattr(timing, key) for key in ("a_reads", "b_reads", "out_writes",
                                                 "out_reads", "folds")}
    assert got == {key: ref[key] for key in got}
    assert timing.mapping_efficiency == pytest.approx(
        ref["stationary"] / (ref["folds"] * rows * cols))
    assert timing.macs == m * n * k


def test_one_by_one_os_never_beats_one_mac_per_cycle():
    """On a 1x1 os array SCALE-Sim reports K-1 cycles for K MACs; we report K (documented)."""
    assert compute_cycles(1, 1, 5, 1, 1, "os") == 5
    assert compute_cycles(2, 3, 4, 1, 1, "os") == 24
    assert compute_cycles(1, 1, 5, 1, 1, "ws") == 9  # SCALE-Sim: 9 (fill/drain > 0)


# --------------------------------------------------------------------------- precision modes
def test_energy_only_runs_at_native_cycles_and_reports_run_width():
    """energy_only: narrow operands are not faster; 3 bits run at the next supported width 4."""
    timing = _array(dataflow="ws").gemm(16, 4, 4, a_bits=3, b_bits=8, is_float=False)
    assert timing.compute_cycles == compute_cycles(16, 4, 4, 4, 4, "ws") == 25
    assert (timing.a_bits_run, timing.b_bits_run, timing.stream_scale) == (4, 8, 1.0)


@pytest.mark.parametrize("a_bits,b_bits,serial_bits,expected", [
    # os 4x4, M=N=4, K=16: one fold, F = 4+4-2 = 6, stream = ceil(16 * scale)
    (8, 8, 1, 6 + 16 - 1),             # native: scale 8/8
    (4, 8, 1, 6 + 8 - 1),              # 4 serial bits of 8: scale 1/2
    (2, 8, 1, 6 + 4 - 1),              # scale 2/8
    (16, 8, 1, 6 + 32 - 1),            # wider than native: scale 16/8
    (8, 16, 1, 6 + 32 - 1),            # parallel operand 16 > 8: two passes
    (3, 8, 2, 6 + 8 - 1),              # 3 -> 4 bits, ceil(4/2)=2 steps of ceil(8/2)=4
])
def test_bit_serial_scales_stream_by_serial_steps(a_bits, b_bits, serial_bits, expected):
    """bit_serial: stream x ceil(a/serial)/ceil(native/serial) x ceil(b/native); F unscaled."""
    array = _array(precision_mode="bit_serial", serial_bits=serial_bits)
    timing = array.gemm(4, 4, 16, a_bits=a_bits, b_bits=b_bits, is_float=False)
    assert timing.compute_cycles == expected
    assert timing.fill_drain_cycles == 6


@pytest.mark.parametrize("a_bits,b_bits,expected", [
    # ws 4x4, M=16 streams, K=N=4: one fold, F = 2*4+4-2 = 10, stream = ceil(16 * pa*pb/64)
    (8, 8, 10 + 16 - 1),
    (2, 2, 10 + 1 - 1),                # 16x: (8/2)*(8/2)
    (1, 2, 10 + 1 - 1),                # 1 bit rounds up to a 2-bit brick
    (4, 8, 10 + 8 - 1),                # 2x
    (3, 8, 10 + 8 - 1),                # 3 -> 4
    (16, 8, 10 + 32 - 1),              # wider than native: half throughput
    (16, 16, 10 + 64 - 1),
])
def test_bit_fusion_throughput(a_bits, b_bits, expected):
    """bit_fusion: throughput (native/pa)*(native/pb), pa,pb powers of two >= 2; F unscaled."""
    array = _array(dataflow="ws", precision_mode="bit_fusion", int_bits=[1, 2, 3, 4, 8, 16])
    timing = array.gemm(16, 4, 4, a_bits=a_bits, b_bits=b_bits, is_float=False)
    assert timing.compute_cycles == expected
    assert timing.utilization <= 1.0


def test_bit_fusion_partial_steps_round_up_per_fold():
    """A stream of T=10 at 16x takes ceil(10/16) = 1 cycle per fold, in each of 3x1 folds."""
    array = _array(dataflow="ws", precision_mode="bit_fusion")
    timing = array.gemm(10, 4, 12, a_bits=2, b_bits=2, is_float=False)  # K=12 -> 3 folds
    assert (timing.folds, timing.stream_cycles) == (3, 3)
    assert timing.compute_cycles == 3 * 10 + 3 - 1
    assert compute_cycles_np(10, 4, 12, 4, 4, "ws", scale_num=1, scale_den=16) == 32


def test_pe_float_unit_takes_its_cycles_per_mac():
    """A float GEMM on a `pe` unit streams cycles_per_mac cycles per step on the array's geometry
    (the closed form with S = 4 T): 6 fill/drain + 4 * 16 - 1 cycles for 4x4x16 on 4x4 os."""
    unit = GemmUnit("fpu", "pe", "fp32", 4, 4, 4, "os", None)
    timing = float_gemm_timing(unit, 4, 4, 16, a_bytes=4, b_bytes=4, out_bytes=4)
    assert timing.compute_cycles == 6 + 4 * 16 - 1
    assert (timing.a_bits_run, timing.is_float, timing.utilization) == (32, True,
                                                                        pytest.approx(
                                                                            4 * 256 / (69 * 16)))


@settings(max_examples=150, deadline=None)
@given(m=st.integers(1, 300), n=st.integers(1, 300), k=st.integers(1, 300),
       rows=st.integers(1, 40), cols=st.integers(1, 40), dataflow=st.sampled_from(DATAFLOWS),
       mode=st.sampled_from(["energy_only", "bit_serial", "bit_fusion"]),
       a_bits=st.integers(1, 16), b_bits=st.integers(1, 16))
def test_utilization_at_most_one(m, n, k, rows, cols, dataflow, mode, a_bits, b_bits):
    """No GEMM runs faster than the array's peak MAC rate at the precision it ran at."""
    array = _array(rows=rows, cols=cols, dataflow=dataflow, precision_mode=mode)
    timing = array.gemm(m, n, k, a_bits=a_bits, b_bits=b_bits, is_float=False)
    assert 0 < timing.utilization <= 1.0
    assert timing.mapping_efficiency <= 1.0
    assert timing.compute_cycles >= timing.stream_cycles


# --------------------------------------------------------------------------- errors
def test_float_on_integer_array_names_the_compute_units():
    """The integer array refuses a float GEMM, naming compute_units (float runs on a unit)."""
    with pytest.raises(InputError) as err:
        _array().gemm(4, 4, 4, a_bits=32, b_bits=32, is_float=True)
    assert err.value.field == "compute_units"
    assert "16 bits" in err.value.allowed


@pytest.mark.parametrize("a_bits,b_bits", [(17, 8), (8, 32)])
def test_bits_above_widest_integer_mac(a_bits, b_bits):
    """Integer bits above max(int_bits) are an InputError naming array.int_bits and the limit."""
    with pytest.raises(InputError) as err:
        _array().gemm(4, 4, 4, a_bits=a_bits, b_bits=b_bits, is_float=False)
    assert err.value.field == "array.int_bits"
    assert "up to 16 bits" in str(err.value)


@pytest.mark.parametrize("kwargs,field", [
    (dict(m=0, n=4, k=4, a_bits=8, b_bits=8), "gemm.m"),
    (dict(m=4, n=4, k=-1, a_bits=8, b_bits=8), "gemm.k"),
    (dict(m=4, n=4, k=4, a_bits=0, b_bits=8), "gemm.a_bits"),
])
def test_bad_gemm_arguments(kwargs, field):
    """Non-positive dims or bits are InputErrors naming the argument."""
    with pytest.raises(InputError) as err:
        _array().gemm(**kwargs, is_float=False)
    assert err.value.field == field


def test_unknown_dataflow():
    """An unknown dataflow is an InputError listing ws, os, is."""
    with pytest.raises(InputError) as err:
        compute_cycles(4, 4, 4, 4, 4, "rs")
    assert err.value.field == "array.dataflow" and "os" in err.value.allowed
