"""rctsim.sensitivity: each assumption moves the savings it acts on and no others; the default
rows are a plain run's comparison; settings checked against closed forms and second
computations from the default run's own numbers."""

from __future__ import annotations

import pytest

import rctsim
from hwmodels.dram import dram_technology
from rctsim import SimOptions, simulate
from rctsim.baselines import parse_baseline
from rctsim.errors import InputError
from rctsim.replay import build_machine
from rctsim.result import saving
from rctsim.sensitivity_assumptions import ASSUMPTIONS
from rctsim.sensitivity_run import METRICS, SCHEMA
from rctsim.synth import synth_trace

GEMM = {"gemm_energy", "gemm_arith_energy"}
"""GEMM MAC arithmetic (both names of the same saving)."""
MEMORY = {"param_memory", "param_memory_with_optimizer"}

UNCHANGED: dict[str, set[str]] = {
    # the baseline's backward formats: its weight copies and state are the same (parameter
    # memory is weights + master + state, none of them the backward's format)
    "qat_backward": MEMORY,
    # the state is no GEMM operand; weights and the master are placed before the state
    # (placement priority, docs/model.md §3), so their residency and movement stay
    "opt_state": GEMM | {"gemm_datapath_energy", "param_memory", "param_movement_energy"},
    # energy per DRAM bit only: no count, byte or cycle changes
    "dram_energy": GEMM | MEMORY | {"gemm_datapath_energy", "dram_traffic", "latency"},
    # bandwidth and latency change the time, never what is counted
    "dram_technology": GEMM | MEMORY | {"gemm_datapath_energy", "dram_traffic"},
    # SRAM read/write energy: no count, byte or cycle changes (leakage untouched)
    "sram_energy_scale": GEMM | MEMORY | {"dram_traffic", "latency"},
    # lanes change cycles (and leakage through time and area), never what is counted or stored
    "vector_lanes": GEMM | MEMORY | {"dram_traffic"},
    # bytes per element: the MACs' energy depends on bits, not on bytes
    "packing": GEMM,
    # where tensors live: neither MACs nor the sizes of the static tensors change
    "workspace_fraction": GEMM | MEMORY,
    # one GEMM less: no tensor's size changes
    "first_layer_dgrad": MEMORY,
    # which copy dgrad reads: fp32 MACs either way, same copies stored
    "qat_dgrad_weights": GEMM | MEMORY,
}
"""Savings an assumption cannot move, from the model's structure (exactly equal)."""

MAY: dict[str, set[str]] = {
    # the partial sums read back depend on the tiles the workspace allows (docs/model.md §4)
    "workspace_fraction": {"gemm_datapath_energy"},
    # a vector unit's operand reads depend on its folds (A broadcast once per fold of lanes)
    "vector_lanes": {"gemm_datapath_energy", "param_movement_energy"},
    # the first layer's dX may stay on chip
    "first_layer_dgrad": {"dram_traffic"},
    # weights read from DRAM only where they do not fit
    "qat_dgrad_weights": {"dram_traffic", "latency"},
}
"""Savings an assumption may or may not move depending on where tensors live (not asserted);
every saving in neither UNCHANGED nor MAY must move on the test trace."""


@pytest.fixture(scope="module")
def trace():
    """A 3-layer MLP (128-128-10, batch 4) at odd widths (5/6/7: the packings differ) whose
    parameters fit the buffer or not depending on the settings."""
    return synth_trace("mlp", batch_size=4, iterations=10, schedule="w=5,a=6,g=7",
                       input_size=128, hidden=(128,), num_classes=10)


@pytest.fixture(scope="module")
def sens(trace):
    return rctsim.sensitivity("edge_npu", trace, baseline="qat")


def _values(sens, name):
    out = {}
    for r in sens["rows"]:
        if r["assumption"] == name:
            out.setdefault(r["setting"], {})[r["metric"]] = r["value"]
    return out


def test_shape_and_default_rows_equal_a_plain_run(sens, trace):
    assert sens["schema"] == SCHEMA and sens["baseline"] == "qat" and sens["hw"] == "edge_npu"
    assert len(sens["assumptions"]) == len(ASSUMPTIONS) >= 8
    plain = simulate("edge_npu", trace, baseline="qat").comparison["savings"]
    assert sens["default"] == plain
    for a in sens["assumptions"]:
        assert set(a) == {"name", "default", "settings", "why", "source"}
        rows = [r for r in sens["rows"] if r["assumption"] == a["name"]]
        assert len(rows) == len(a["settings"]) * len(METRICS)
        defaults = {r["metric"]: r["value"] for r in rows if r["is_default"]}
        assert defaults == plain, a["name"]
        assert all(r["is_default"] == (r["setting"] == a["default"]) for r in rows)


@pytest.mark.parametrize("name", [a.name for a in ASSUMPTIONS])
def test_each_assumption_moves_what_it_acts_on_and_nothing_else(sens, name):
    values = _values(sens, name)
    default = sens["default"]
    moved = {m for v in values.values() for m in METRICS if v[m] != default[m]}
    assert not moved & UNCHANGED[name], (name, moved & UNCHANGED[name])
    must = set(METRICS) - UNCHANGED[name] - MAY.get(name, set())
    assert must <= moved, (name, must - moved)


def test_qat_backward_gemm_arith_against_a_second_computation(sens, trace):
    """Each backward variant's row is the run with that named baseline."""
    for setting, values in _values(sens, "qat_backward").items():
        plain = simulate("edge_npu", trace, baseline=setting).comparison["savings"]
        assert values == plain, setting


def test_first_layer_dgrad_closed_form(trace):
    """Skipped: each policy's GEMM MACs drop by exactly M*N*K x iterations of the first layer,
    and the GEMM energy saving is the default run's with that layer's dgrad MAC rows removed."""
    sens = rctsim.sensitivity("edge_npu", trace, "qat", ["first_layer_dgrad"])
    skipped = _values(sens, "first_layer_dgrad")["skipped"]
    full = simulate("edge_npu", trace, baseline="qat")
    cut = simulate("edge_npu", trace, baseline="qat",
                   options=SimOptions(first_layer_dgrad=False))
    first = trace.layers[0]
    for label in ("rct", "qat"):
        drop = full.policies[label].macs["total"] - cut.policies[label].macs["total"]
        assert drop == first.m * first.n * first.k * trace.iterations

    def arith_without_first_dgrad(label):
        rows = full.policies[label].rows
        return sum(r.energy_pj for r in rows if r.action == "mac"
                   and not (r.op == "dgrad" and r.layer == first.name))

    want = saving(arith_without_first_dgrad("rct"), arith_without_first_dgrad("qat"))
    assert skipped["gemm_arith_energy"] == pytest.approx(want, rel=1e-12)


def test_sram_energy_scale_closed_form(sens, trace):
    """At factor s every policy's total is mac + s x sram + dram + leakage of the default run
    (no count or cycle changes), and the datapath view moves by s on its SRAM part."""
    full = simulate("edge_npu", trace, baseline="qat")
    for setting, values in _values(sens, "sram_energy_scale").items():
        s = float(setting)

        def total(label, s=s):
            e = full.policies[label].energy_pj
            return e["mac"] + s * e["sram"] + e["dram"] + e["leakage"]

        assert values["total_energy"] == pytest.approx(saving(total("rct"), total("qat")),
                                                       rel=1e-9, abs=1e-12), setting


def test_dram_energy_closed_form(sens, trace):
    """With technology T's energies: total = default total - DRAM energy + bytes read x 8 x
    (read + activation pJ/bit) + bytes written x 8 x (write + activation), from the table."""
    full = simulate("edge_npu", trace, baseline="qat")
    for setting, values in _values(sens, "dram_energy").items():
        tech = dram_technology(setting)

        def total(label, tech=tech):
            p = full.policies[label]
            read, write = p.traffic_bytes["dram_read"], p.traffic_bytes["dram_write"]
            dram = (8 * read * (tech.read_pj_per_bit + tech.activation_pj_per_bit)
                    + 8 * write * (tech.write_pj_per_bit + tech.activation_pj_per_bit))
            return p.energy_pj["total"] - p.energy_pj["dram"] + dram

        assert values["total_energy"] == pytest.approx(saving(total("rct"), total("qat")),
                                                       rel=1e-9), setting


def test_packing_param_memory_closed_form(sens, trace):
    """RCT stores P x bytes(5 bits), QAT P x (1 + 4): packed 0.625, byte 1, pow2 1."""
    per_weight = {"packed": 5 / 8, "byte": 1.0, "pow2": 1.0}
    for setting, values in _values(sens, "packing").items():
        assert values["param_memory"] == pytest.approx(1 - per_weight[setting] / 5, rel=1e-12)


def test_memoised_runs(sens):
    """Settings that change only the baseline reuse the trace's run; defaults are not rerun."""
    settings = sum(len(a["settings"]) for a in sens["assumptions"])
    defaults = len(sens["assumptions"])
    baseline_only = sum(len(a["settings"]) - 1 for a in sens["assumptions"]
                        if a["name"] in ("qat_backward", "qat_dgrad_weights"))
    assert sens["policy_runs"] == 2 + 2 * (settings - defaults) - baseline_only


def test_a_subset_with_chosen_settings(trace):
    sens = rctsim.sensitivity("edge_npu", trace, "qat",
                              {"workspace_fraction": ["0.5"], "packing": None})
    assert [a["name"] for a in sens["assumptions"]] == ["workspace_fraction", "packing"]
    assert sens["assumptions"][0]["settings"] == ["0.5"]
    assert not any(r["is_default"] for r in sens["rows"]
                   if r["assumption"] == "workspace_fraction")


@pytest.mark.parametrize("assumptions, baseline, needle", [
    (["nope"], "qat", "unknown assumption"),
    ({"packing": ["zip"]}, "qat", "packing=zip"),
    ({"opt_state": ["fp8"]}, "qat", "opt_state=fp8"),
    ({"workspace_fraction": ["1.5"]}, "qat", "workspace_fraction=1.5"),
    ({"dram_technology": ["horowitz_45nm"]}, "qat", "dram_technology=horowitz_45nm"),
    (None, "qat,fp32", "one named baseline"),
])
def test_bad_input(trace, assumptions, baseline, needle):
    with pytest.raises(InputError, match=needle):
        rctsim.sensitivity("edge_npu", trace, baseline, assumptions)


def test_sram_scale_overrides_scale_the_derived_energies():
    """The hardware a setting builds prices every memory access at s x the derived energy."""
    from rctsim.sensitivity_assumptions import BY_NAME, Context

    machine = build_machine("edge_npu")
    ctx = Context(hw=machine.spec, options=SimOptions(),
                  baseline=parse_baseline("qat"),
                  sram_pj_per_byte={n: (m.read_pj_per_byte, m.write_pj_per_byte)
                                    for n, m in machine.costs.sram.items()},
                  dram_bandwidth_bytes_per_s=machine.costs.dram.bandwidth_bytes_per_s,
                  dram_latency_s=machine.costs.dram.latency_s)
    scaled = build_machine(BY_NAME["sram_energy_scale"].apply(ctx, "1.5").hw)
    for name, model in machine.costs.sram.items():
        other = scaled.costs.sram[name]
        assert other.read_pj_per_byte == pytest.approx(1.5 * model.read_pj_per_byte, rel=1e-12)
        assert other.write_pj_per_byte == pytest.approx(1.5 * model.write_pj_per_byte,
                                                        rel=1e-12)
        assert other.leakage_w == model.leakage_w
