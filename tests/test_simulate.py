"""Replay engine: totals against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwmodels.schema import HardwareSpec
from hwmodels.systolic import compute_cycles
from rctsim.counting import UPDATE_MACS_PER_PARAM
from rctsim.errors import InputError
from rctsim.replay import SimOptions, simulate
from rctsim.synth import synth_trace
from rctsim.trace import trace_digest
from tests.helpers import hardware, make_trace, mlp_layers


def hardware_dram_pj_per_byte() -> float:
    """edge_npu's DRAM read energy: LPDDR4 read 8.470 + activation 0.0735 pJ/bit, from the Micron
    LPDDR4-3200 datasheet currents (docs/hardware.md §3), per byte."""
    return 8 * (8.470 + 0.0735)


@pytest.fixture(scope="module")
def resnet_run():
    trace = synth_trace("resnet18_cifar", batch_size=8, iterations=50,
                        schedule="w=8,a=8,g=8")
    return trace, simulate("edge_npu", trace, baseline="qat")


def test_macs_are_three_gemms_per_layer_per_iteration(resnet_run):
    """MACs equal the sum over iterations of 3*M*N*K per layer."""
    trace, result = resnet_run
    expected = 3 * sum(la.m * la.n * la.k for la in trace.layers) * trace.iterations
    for pr in result.policies.values():
        assert pr.macs["total"] == expected
        assert pr.macs["fwd"] == pr.macs["dgrad"] == pr.macs["wgrad"] == expected / 3


def test_breakdowns_sum_to_totals(resnet_run):
    """Energy by layer, op, component and tensor, and traffic by direction, add up."""
    _, result = resnet_run
    for pr in result.policies.values():
        total = pr.energy_pj["total"]
        for by in ("layer", "op", "component"):
            assert math.isclose(sum(pr.breakdown_energy_pj[by].values()), total, rel_tol=1e-9)
        e = pr.energy_pj
        assert math.isclose(e["mac"] + e["sram"] + e["dram"] + e["leakage"], total, rel_tol=1e-12)
        rows_dram = sum(r.quantity for r in pr.rows if r.component == "dram")
        assert math.isclose(rows_dram, pr.traffic_bytes["dram_total"], rel_tol=1e-12)
        assert pr.cycles["compute"] + pr.cycles["stall"] == pytest.approx(pr.cycles["total"])


def test_compute_cycles_are_the_systolic_closed_form(resnet_run):
    """A step's compute cycles = sum of the array's cycles per GEMM + the update's lanes + the
    non-GEMM work's cycles (their own closed form: tests/test_nongemm.py)."""
    trace, result = resnet_run
    hw = hardware()
    a = hw.array
    gemm = sum(compute_cycles(m, n, k, a.rows, a.cols, a.dataflow)
               for la in trace.layers if la.has_gemm
               for (m, n, k) in ((la.m, la.n, la.k), (la.m, la.k, la.n), (la.k, la.n, la.m)))
    lanes = a.rows * a.cols
    update = sum(-(-UPDATE_MACS_PER_PARAM * la.params // lanes)
                 for la in trace.layers if la.has_weights)
    rct = result.policies["rct"]
    assert rct.cycles["compute"] - rct.cycles["non_gemm"] == (gemm + update) * trace.iterations
    assert rct.cycles["non_gemm"] > 0


def test_gemm_energy_is_macs_times_table_energy(resnet_run):
    """int8 x int8 MACs into a 32-bit accumulator: Horowitz mult 0.2 pJ + add32 0.1 pJ."""
    _, result = resnet_run
    pr = result.policies["rct"]
    assert pr.energy_pj["gemm"] == pytest.approx(pr.macs["total"] * (0.2 + 0.1), rel=1e-9)
    qat = result.policies["qat"]  # fwd int8, backward fp32 (3.7 + 0.9 pJ)
    expected = qat.macs["fwd"] * 0.3 + (qat.macs["dgrad"] + qat.macs["wgrad"]) * 4.6
    assert qat.energy_pj["gemm"] == pytest.approx(expected, rel=1e-9)


def test_phases_are_simulated_once_and_multiplied():
    """Two phases cost exactly what the two single-phase traces cost."""
    layers = mlp_layers()
    bits = np.array([[(8, 8, 8, 32)] * 3, [(6, 8, 8, 32), (8, 8, 8, 32), (12, 8, 8, 32)]])
    both = simulate(hardware(), make_trace(layers, iterations=300, starts=(0, 100), bits=bits),
                    baseline=None).policies["rct"]
    first = simulate(hardware(), make_trace(layers, iterations=100, bits=bits[0]),
                     baseline=None).policies["rct"]
    second = simulate(hardware(), make_trace(layers, iterations=200, bits=bits[1]),
                      baseline=None).policies["rct"]
    for key in ("mac", "gemm", "sram", "dram"):
        assert both.energy_pj[key] == pytest.approx(first.energy_pj[key] + second.energy_pj[key])
    assert both.cycles["total"] == pytest.approx(first.cycles["total"] + second.cycles["total"])
    assert both.distinct_phases == 2


def test_qat_second_copy_spills_to_dram_and_rct_does_not():
    """SRAM holds RCT's weights (and state) but not QAT's two copies."""
    layers = mlp_layers(batch=4, dims=(256, 256, 256, 10))
    params = sum(la.params for la in layers)
    # resident budget (75 % of the buffer) fits 8-bit weights + 8-bit momentum, not 8 + 32 bits
    size = int(params * 2.6 / 0.75)
    hw = hardware(global_size=size)
    trace = make_trace(layers, iterations=10, params={"opt_state_bits": 8})
    result = simulate(hw, trace, baseline="qat")
    rct, qat = result.policies["rct"], result.policies["qat"]
    assert rct.traffic_bytes["param_dram"] == 0
    per_iter = qat.traffic_bytes["param_dram"] / trace.iterations
    master_bytes = 4 * params
    assert qat.memory_bytes["master_copy"] == master_bytes
    assert per_iter >= master_bytes  # the master copy (at least) moves every iteration
    assert result.comparison["savings"]["param_movement_energy"] > 0.5


def test_everything_on_chip_means_no_dram_traffic():
    """A buffer larger than everything: the only DRAM traffic is each iteration's new batch."""
    layers = mlp_layers()
    trace = make_trace(layers)
    result = simulate(hardware(global_size=64 << 20), trace, baseline=None)
    pr = result.policies["rct"]
    batch_bytes = layers[0].m * layers[0].k * 8 / 8  # int8 inputs of the first layer
    assert pr.traffic_bytes["dram_write"] == 0
    assert pr.traffic_bytes["dram_read"] == batch_bytes * trace.iterations
    assert pr.traffic_bytes["param_dram"] == 0
    assert pr.energy_pj["dram"] == pytest.approx(
        batch_bytes * trace.iterations * hardware_dram_pj_per_byte(), rel=1e-12)


def test_layers_that_fit_no_mapping_are_refused():
    """A 64-byte buffer (below any CACTI bank, so its costs are written as overrides)."""
    layers = mlp_layers()
    data = hardware(global_size=64).model_dump()
    data["memories"][0].update(read_energy_pj=1.0, write_energy_pj=1.0, leakage_mw=0.0,
                               area_mm2=0.0, banks=1)
    with pytest.raises(InputError, match="fits no mapping"):
        simulate(HardwareSpec.model_validate(data), make_trace(layers), baseline=None)


def test_a_buffer_below_the_cacti_table_is_refused():
    with pytest.raises(InputError, match="outside the CACTI table"):
        simulate(hardware(global_size=64), make_trace(mlp_layers()), baseline=None)


def test_bits_the_hardware_lacks_are_refused():
    layers = mlp_layers()
    with pytest.raises(InputError, match="array.int_bits"):
        simulate(hardware(), make_trace(layers, bits=(24, 8, 8, 32)), baseline=None)
    with pytest.raises(InputError, match="compute_units") as err:
        simulate(hardware(fp32=False), make_trace(layers, params={"opt_state_bits": 16}),
                 baseline="fp32")
    assert "fp32 MACs and no unit computes fp32" in err.value.problem  # the op and its format
    assert "fwd" in err.value.problem and "array (int2..16)" in err.value.allowed


def test_baseline_trace_must_match_layers():
    a = make_trace(mlp_layers())
    b = make_trace(mlp_layers(dims=(64, 40, 32, 10)), policy="qat", bits=(8, 8, 32, 32))
    with pytest.raises(InputError, match="layer shapes differ"):
        simulate(hardware(), a, baseline=b)


def test_real_baseline_trace_is_used_as_is():
    layers = mlp_layers()
    rct = make_trace(layers)
    qat = make_trace(layers, policy="qat", bits=(8, 8, 32, 32))
    result = simulate(hardware(), rct, baseline=qat)
    assert result.policies["qat"].role == "baseline (trace)"
    assert result.comparison["baseline"] == "qat"
    assert result.comparison["baseline_trace"]["sha256"] == trace_digest(qat)


def test_workspace_fraction_is_an_option():
    layers = mlp_layers()
    trace = make_trace(layers)
    small = simulate(hardware(), trace, baseline=None, options=SimOptions(workspace_fraction=0.1))
    assert small.options["workspace_fraction"] == 0.1


@pytest.mark.parametrize("size", [4096, 32768, 110592, 64 << 20])
def test_footprint_is_consistent(size):
    """On chip never exceeds the buffer or the total; the total holds every static tensor."""
    layers = mlp_layers(batch=8, dims=(128, 96, 64, 10))
    result = simulate(hardware(global_size=size), make_trace(layers), baseline="qat")
    for pr in result.policies.values():
        mem = pr.memory_bytes
        assert mem["peak_on_chip"] <= size + 1e-9
        assert mem["peak_on_chip"] <= mem["peak_total"]
        static = mem["params"] + mem["master_copy"] + mem["optimizer"]
        assert mem["peak_total"] >= static + mem["gradients_peak"] - 1e-9
    rct, qat = result.policies["rct"].memory_bytes, result.policies["qat"].memory_bytes
    params = sum(la.params for la in layers)
    assert rct["params"] == params and rct["master_copy"] == 0
    assert qat["params"] == params and qat["master_copy"] == 4 * params


def test_phase_energy_sums_to_the_total():
    """Per-phase energy per iteration x iterations = the run's total energy."""
    layers = mlp_layers()
    bits = np.array([[(8, 8, 8, 32)] * 3, [(6, 8, 8, 32), (8, 8, 8, 32), (12, 8, 8, 32)]])
    pr = simulate(hardware(), make_trace(layers, iterations=300, starts=(0, 100), bits=bits),
                  baseline=None).policies["rct"]
    assert [(p["start"], p["stop"]) for p in pr.phase_energy] == [(0, 100), (100, 300)]
    total = sum(p["energy_pj_per_iteration"] * (p["stop"] - p["start"]) for p in pr.phase_energy)
    assert total == pytest.approx(pr.energy_pj["total"], rel=1e-9)


def test_qat_dgrad_reads_the_copy_the_option_names():
    """Quantised: dgrad moves w_q-bit weights (1 byte); master: the fp32 copy (4 bytes)."""
    layers = mlp_layers()
    trace = make_trace(layers, policy="qat", bits=(8, 8, 32, 32))
    hw = hardware(global_size=4096)
    runs = {how: simulate(hw, trace, baseline=None,
                          options=SimOptions(qat_dgrad_weights=how)).policies["qat"]
            for how in ("quantised", "master")}

    def dgrad_sram(pr, tensor):
        return sum(r.quantity for r in pr.rows if r.op == "dgrad" and r.tensor == tensor
                   and r.component.startswith("sram") and r.action == "read")

    assert dgrad_sram(runs["quantised"], "master_copy") == 0
    assert dgrad_sram(runs["master"], "weights") == 0
    assert dgrad_sram(runs["master"], "master_copy") == pytest.approx(
        4 * dgrad_sram(runs["quantised"], "weights"))
    assert runs["master"].energy_pj["gemm"] == runs["quantised"].energy_pj["gemm"]


def test_qat_wgrad_reads_kept_activations_at_their_stored_bits():
    """QAT's fp32 wgrad dequantises X from its int8 copy: the same activation bytes as RCT's
    (on a hardware whose fp32 MACs sit in the PEs, so both run on the same geometry)."""
    layers = mlp_layers()
    rct = make_trace(layers, bits=(8, 8, 8, 32))
    qat = make_trace(layers, policy="qat", bits=(8, 8, 32, 32))

    def wgrad_activation_reads(trace):
        pr = simulate(hardware(fp32="pe"), trace,
                      baseline=None).policies[trace.header.policy.name]
        return sum(r.quantity for r in pr.rows if r.op == "wgrad" and r.tensor == "activations"
                   and r.component.startswith("sram") and r.action == "read")

    assert wgrad_activation_reads(qat) == wgrad_activation_reads(rct) > 0


def test_outputs_go_into_resident_slots_not_through_dram():
    """Every input kept resident, a tiny transient slot: no layer output is spilled to DRAM, and
    the only activation read from DRAM is each iteration's batch."""
    layers = mlp_layers(batch=64, dims=(256, 256, 256, 10))
    trace = make_trace(layers, iterations=10)
    result = simulate(hardware(global_size=4 << 20), trace, baseline=None,
                      options=SimOptions(workspace_fraction=0.01))
    pr = result.policies["rct"]
    rows = [r for r in pr.rows if r.component == "dram"]
    assert sum(r.quantity for r in rows if r.tensor == "outputs") == 0
    acts = sum(r.quantity for r in rows if r.tensor == "activations")
    assert acts == layers[0].m * layers[0].k * trace.iterations  # int8 batch, once


def test_rct_with_fp32_optimiser_state():
    """opt_state_bits 32: fp32 momentum (4 bytes/param) and an fp32 update, no crash."""
    layers = mlp_layers()
    pr = simulate(hardware(), make_trace(layers, params={"opt_state_bits": 32}),
                  baseline=None).policies["rct"]
    params = sum(la.params for la in layers)
    assert pr.memory_bytes["optimizer"] == 4 * params
    update_rows = [r for r in pr.rows if r.action == "update_mac"]
    assert {r.bits for r in update_rows} == {"fp32"}
    assert sum(r.energy_pj for r in update_rows) == pytest.approx(
        2 * params * 100 * (3.7 + 0.9), rel=1e-9)  # 2 fp32 MACs per param, 100 iterations


def test_baseline_trace_of_another_length_is_refused():
    layers = mlp_layers()
    with pytest.raises(InputError, match="iterations"):
        simulate(hardware(), make_trace(layers, iterations=100),
                 baseline=make_trace(layers, policy="qat", bits=(8, 8, 32, 32), iterations=50))
