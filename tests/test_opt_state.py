"""Optimiser state: one default format for every policy, a recorded format wins, --opt-state
overrides both; synthesised traces record theirs (docs/model.md, "Optimiser state")."""

from __future__ import annotations

import pytest

from rctsim import SimOptions, simulate
from rctsim.storage import DEFAULT_OPT_STATE, layer_formats, stored_bytes
from rctsim.synth import SYNTH_OPT_STATE_BITS, synth_trace
from tests.helpers import hardware, make_trace, mlp_layers

BITS = (6, 8, 8, 32)
"""w, a, g, acc of the test traces (a 6-bit weight: byte and packed sizes differ)."""


def test_the_default_is_fp32_for_every_policy():
    assert DEFAULT_OPT_STATE == "fp32"
    for policy, bits in (("rct", BITS), ("apt", BITS), ("qat", (8, 8, 32, 32)),
                         ("fp32", (32, 32, 32, 32))):
        f = layer_formats(policy, bits, packing="byte").optimizer
        assert (f.bits, f.is_float, f.bytes) == (32, True, 4.0), policy


@pytest.mark.parametrize("policy, bits", [("rct", BITS), ("qat", (8, 8, 32, 32)),
                                          ("fp32", (32, 32, 32, 32))])
def test_traces_without_a_record_get_the_same_state(policy, bits):
    """Real traces of each policy, none recording `opt_state_bits`, and the counterfactual
    baselines: 4 bytes of state per parameter each."""
    layers = mlp_layers()
    params = sum(la.params for la in layers)
    trace = make_trace(layers, policy=policy, iterations=5, bits=bits)
    result = simulate(hardware(), trace, baseline="qat,fp32,mixed-bf16"
                      if policy == "rct" else "mixed-bf16")
    for label, pr in result.policies.items():
        assert pr.memory_bytes["optimizer"] == 4 * params, label


@pytest.mark.parametrize("packing", ["byte", "packed"])
@pytest.mark.parametrize("recorded, state_bits", [(None, 32), (16, 16), (8, 8), (12, 12)])
def test_params_with_optimizer_closed_form(packing, recorded, state_bits):
    """params_with_optimizer = P x (bytes(w) + bytes(state)) for RCT (no master); QAT's
    counterfactual (no record of its own: the default) P x (1 + 4 + 4); a recorded width
    below 32 is fixed point of that width, 32 is fp32."""
    layers = mlp_layers()
    params = sum(la.params for la in layers)
    hw = hardware().model_copy(update={"packing": packing})
    trace = make_trace(layers, iterations=5, bits=BITS,
                       params={} if recorded is None else {"opt_state_bits": recorded})
    result = simulate(hw, trace, baseline="qat")
    rct, qat = result.policies["rct"], result.policies["qat"]
    state = 4.0 if state_bits == 32 else stored_bytes(state_bits, packing)
    assert rct.memory_bytes["params_with_optimizer"] == pytest.approx(
        params * (stored_bytes(6, packing) + state), rel=1e-12)
    assert qat.memory_bytes["params_with_optimizer"] == params * (1 + 4 + 4)
    saving = result.comparison["savings"]["param_memory_with_optimizer"]
    assert saving == pytest.approx(1 - (stored_bytes(6, packing) + state) / 9, rel=1e-12)


def test_opt_state_option_overrides_a_record():
    layers = mlp_layers()
    params = sum(la.params for la in layers)
    trace = make_trace(layers, iterations=5, bits=BITS, params={"opt_state_bits": 16})
    result = simulate(hardware(), trace, baseline="qat", options=SimOptions(opt_state="int8"))
    assert {k: v.memory_bytes["optimizer"] for k, v in result.policies.items()} == {
        "rct": params, "qat": params}


@pytest.mark.parametrize("schedule, policy", [("w=8,a=8,g=8", "rct"), ("qat", "qat"),
                                              ("fp32", "fp32")])
def test_synthesised_traces_record_their_state(schedule, policy):
    """Synth records the bundled trainer's default for the policy (rct 16, qat/fp32 32), or the
    width asked for; a synthesised RCT trace therefore updates in integers."""
    trace = synth_trace("mlp", batch_size=2, iterations=1, schedule=schedule)
    want = {"rct": 16, "qat": 32, "fp32": 32}[policy]
    assert SYNTH_OPT_STATE_BITS[policy] == want
    assert trace.header.policy.params["opt_state_bits"] == want
    assert trace.header.notes["opt_state_bits"].startswith(f"{want}: the bundled trainer")
    chosen = synth_trace("mlp", batch_size=2, iterations=1, schedule=schedule, opt_state_bits=8)
    assert chosen.header.policy.params["opt_state_bits"] == 8


def test_synthesised_rct_runs_on_integer_only_hardware():
    """edge_npu without its fp32 unit: a synthesised RCT trace (16-bit fixed-point state)
    runs; the same layers recording no state (fp32 by default) are refused with a hint."""
    trace = synth_trace("mlp", batch_size=2, iterations=1, schedule="w=8,a=8,g=8")
    integer_only = hardware(fp32=False)
    pr = simulate(integer_only, trace, baseline=None).policies["rct"]
    params = sum(la.params for la in trace.layers)
    assert pr.memory_bytes["optimizer"] == 2 * params
    bare = trace.header.policy.model_copy(update={"params": {}})
    unrecorded = trace.__class__.build(
        header=trace.header.model_copy(update={"policy": bare}), layers=trace.layers,
        phase_start=trace.phase_start, phase_bits=trace.phase_bits)
    with pytest.raises(Exception, match="opt-state int16"):
        simulate(integer_only, unrecorded, baseline=None)


def test_bad_opt_state_bits_is_one_line(tmp_path, capsys):
    from rctsim.cli import main

    with pytest.raises(SystemExit) as done:
        main(["trace", "synth", "--model", "mlp", "--bits", "w=8,a=8,g=8",
              "--opt-state-bits", "40", "--out", str(tmp_path / "t.trace")])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--opt-state-bits" in err and "1..32" in err
    assert not (tmp_path / "t.trace").exists()
