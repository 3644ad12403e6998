"""Named, parameterised baselines (rctsim.baselines): formats, MACs, weight copies, memory,
several baselines per run and the optimiser-state option, each against a closed form computed
here from the layer shapes."""

from __future__ import annotations

import json

import pytest

from hwmodels.schema import HardwareSpec
from rctsim import simulate
from rctsim.baselines import BASELINES, parse_baseline, split_baselines
from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.replay import SimOptions
from rctsim.storage import stored_bytes
from tests.helpers import hardware, make_trace, mlp_layers

FLOAT_PE = [{"name": "float_pe", "placement": "pe", "formats": {"fp16": 1, "bf16": 1, "fp32": 1},
             "area_um2": 1000.0, "leakage_uw": 0.0, "source": "test"}]

EXPECTED_MAC_BITS = {  # (fwd, dgrad, wgrad) ledger `bits` of the MAC rows
    "qat": ("int8xint8", "fp32", "fp32"),
    "qat-fp16": ("int8xint8", "fp16", "fp16"),
    "qat-bf16": ("int8xint8", "bf16", "bf16"),
    "qat-int8g": ("int8xint8", "int8xint8", "int8xint8"),
    "fp32": ("fp32", "fp32", "fp32"),
    "mixed-fp16": ("fp16", "fp16", "fp16"),
    "mixed-bf16": ("bf16", "bf16", "bf16"),
}
WORKING_BYTES = {"qat": 1, "qat-fp16": 1, "qat-bf16": 1, "qat-int8g": 1, "fp32": 4,
                 "mixed-fp16": 2, "mixed-bf16": 2}
"""Bytes per parameter of the weight copy the forward pass reads."""
MASTER = {name: name != "fp32" for name in BASELINES}


def float_hw() -> HardwareSpec:
    """edge_npu with fp16, bf16 and fp32 MACs in every PE (each format runs natively)."""
    data = hardware(global_size=1 << 22).model_dump()
    data["compute_units"] = FLOAT_PE
    return HardwareSpec.model_validate(data)


@pytest.fixture(scope="module")
def runs():
    layers = mlp_layers()
    trace = make_trace(layers, iterations=10)
    result = simulate(float_hw(), trace, baseline=list(BASELINES))
    return layers, trace, result


def test_every_baseline_named_and_compared(runs):
    _, _, result = runs
    assert list(result.comparisons) == list(BASELINES)
    assert result.comparison == result.comparisons["qat"]
    for name, comparison in result.comparisons.items():
        assert comparison["baseline"] == name
        assert result.policies[name].policy == name


@pytest.mark.parametrize("name", list(BASELINES))
def test_macs_and_their_formats(runs, name):
    layers, trace, result = runs
    pr = result.policies[name]
    per_gemm = sum(la.m * la.n * la.k for la in layers) * trace.iterations
    assert pr.macs == {"fwd": per_gemm, "dgrad": per_gemm, "wgrad": per_gemm,
                       "total": 3 * per_gemm}
    for op, bits in zip(("fwd", "dgrad", "wgrad"), EXPECTED_MAC_BITS[name], strict=True):
        rows = [r for r in pr.rows if r.action == "mac" and r.op == op]
        assert {r.bits for r in rows} == {bits}, (name, op)
        assert sum(r.quantity for r in rows) == per_gemm


@pytest.mark.parametrize("name", list(BASELINES))
def test_parameter_memory_and_weight_copy_traffic(runs, name):
    layers, trace, result = runs
    pr = result.policies[name]
    params = sum(la.params for la in layers)
    working = WORKING_BYTES[name] * params
    master = 4 * params if MASTER[name] else 0
    optimizer = 4 * params  # fp32 state: the default when the trace records none
    mem = pr.memory_bytes
    assert mem["params"] == working
    assert mem["master_copy"] == master
    assert mem["param_total"] == working + master
    assert mem["optimizer"] == optimizer
    assert mem["params_with_optimizer"] == working + master + optimizer

    def update(tensor, action):
        return sum(r.quantity for r in pr.rows if r.op == "update" and r.tensor == tensor
                   and r.component.startswith("sram") and r.action == action)

    its = trace.iterations
    if BASELINES[name].forward == "int":
        # QAT: the update reads and writes the fp32 master, then a second pass reads it again
        # to quantise it into the working copy with max|w| known, writing one straight-through
        # mask bit per weight that the next backward pass reads (docs/model.md)
        assert update("master_copy", "read") == 2 * 4 * params * its
        assert update("master_copy", "write") == 4 * params * its
        assert update("weights", "write") == (working + params / 8) * its
        assert update("weights", "read") == params / 8 * its
    elif MASTER[name]:  # mixed precision: master read and written, the working copy written
        assert update("master_copy", "read") == update("master_copy", "write") == 4 * params * its
        assert update("weights", "write") == working * its
        assert update("weights", "read") == 0
    else:
        assert update("weights", "read") == update("weights", "write") == 4 * params * its
    assert update("optimizer", "read") == update("optimizer", "write") == optimizer * its


def test_fp16_backward_saves_less_than_fp32_backward():
    """Against qat-fp16 RCT saves less GEMM energy than against qat (fp32 backward), in the
    arithmetic and the datapath, on edge_npu (its fp16/bf16 vector unit) and on a hardware with
    fp16 MACs in every PE."""
    trace = make_trace(mlp_layers(), iterations=10)
    for hw in (hardware(), float_hw()):
        result = simulate(hw, trace, baseline="qat,qat-fp16")
        savings = {k: c["savings"] for k, c in result.comparisons.items()}
        for metric in ("gemm_energy", "gemm_datapath_energy"):
            assert savings["qat-fp16"][metric] < savings["qat"][metric]


def test_edge_npu_runs_half_precision_on_its_fp16_unit():
    """mixed-bf16's GEMMs run at bf16 on edge_npu's fp16/bf16 vector unit; with that unit
    removed they fall back to the fp32 unit and are priced at fp32 (no format is free)."""
    trace = make_trace(mlp_layers(), iterations=10)
    pr = simulate(hardware(), trace, baseline="mixed-bf16").policies["mixed-bf16"]
    macs = [r for r in pr.rows if r.action == "mac"]
    assert {r.bits for r in macs} == {"bf16"}
    assert {r.component for r in macs} == {"unit:fp16_vector"}
    data = hardware().model_dump()
    data["compute_units"] = [u for u in data["compute_units"] if u["name"] != "fp16_vector"]
    fp32_only = HardwareSpec.model_validate(data)
    pr = simulate(fp32_only, trace, baseline="mixed-bf16").policies["mixed-bf16"]
    assert {r.bits for r in pr.rows if r.action == "mac"} == {"fp32"}


def test_summary_says_when_half_precision_runs_on_the_fp32_unit():
    """The Baseline line names the fallback on hardware without the format's unit, and says
    nothing of it where the unit exists."""
    from rctsim.summary import baseline_note
    trace = make_trace(mlp_layers(), iterations=10)
    data = hardware().model_dump()
    data["compute_units"] = [u for u in data["compute_units"] if u["name"] != "fp16_vector"]
    for hw, expected in ((hardware(), False), (HardwareSpec.model_validate(data), True)):
        result = simulate(hw, trace, baseline="mixed-bf16,qat")
        notes = {k: baseline_note(result, c) for k, c in result.comparisons.items()}
        assert ("no bf16 unit, so those GEMMs run at fp32 on fp32_vector" in notes["mixed-bf16"]
                ) is expected
        assert "no bf16 unit" not in notes["qat"] and "no fp16 unit" not in notes["qat"]


def test_variant_parameters():
    trace = make_trace(mlp_layers(), iterations=10)
    hw = float_hw()
    result = simulate(hw, trace, baseline=["qat-fp16", "qat-fp16:dgrad_weights=master",
                                           "qat-int8g:g_q=6,w_q=4"])
    quant = result.policies["qat-fp16"]
    master = result.policies["qat-fp16:dgrad_weights=master"]

    def dgrad_reads(pr, tensor):
        return sum(r.quantity for r in pr.rows if r.op == "dgrad" and r.tensor == tensor
                   and r.component.startswith("sram") and r.action == "read")

    assert dgrad_reads(quant, "master_copy") == 0 and dgrad_reads(master, "weights") == 0
    assert dgrad_reads(master, "master_copy") == pytest.approx(4 * dgrad_reads(quant, "weights"))
    g6 = result.policies["qat-int8g:g_q=6,w_q=4"]
    assert {r.bits for r in g6.rows if r.action == "mac" and r.op == "dgrad"} == {"int6xint4"}
    assert {r.bits for r in g6.rows if r.action == "mac" and r.op == "wgrad"} == {"int8xint6"}


@pytest.mark.parametrize("text, needle", [
    ("qat-fp8", "qat, qat-fp16"),
    ("qat:foo=1", "w_q, a_q, dgrad_weights"),
    ("fp32:w_q=4", "no parameters"),
    ("qat:w_q=40", "2..16"),
    ("qat:dgrad_weights=both", "quantised, master"),
])
def test_bad_baselines_are_one_line_errors(text, needle):
    with pytest.raises(InputError) as err:
        parse_baseline(text)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_split_keeps_parameters_with_their_baseline():
    assert split_baselines("qat,fp32,qat:w_q=4,a_q=6,mixed-bf16") == [
        "qat", "fp32", "qat:w_q=4,a_q=6", "mixed-bf16"]


@pytest.mark.parametrize("choice, per_param", [("fp32", 4), ("bf16", 2), ("int16", 2),
                                               ("int8", 1)])
def test_opt_state_is_the_same_for_every_policy(choice, per_param):
    layers = mlp_layers()
    params = sum(la.params for la in layers)
    trace = make_trace(layers, iterations=10, params={"opt_state_bits": 16})
    result = simulate(hardware(), trace, baseline="qat,mixed-bf16",
                      options=SimOptions(opt_state=choice))
    for pr in result.policies.values():
        assert pr.memory_bytes["optimizer"] == per_param * params


def test_opt_state_weights_follows_the_updated_copy():
    layers = mlp_layers()
    params = sum(la.params for la in layers)
    trace = make_trace(layers, iterations=10, bits=(6, 8, 8, 32))
    hw = hardware()
    result = simulate(hw, trace, baseline="qat,fp32", options=SimOptions(opt_state="weights"))
    assert result.policies["rct"].memory_bytes["optimizer"] == params * stored_bytes(6, hw.packing)
    assert result.policies["qat"].memory_bytes["optimizer"] == 4 * params  # the master
    assert result.policies["fp32"].memory_bytes["optimizer"] == 4 * params


def test_recorded_opt_state_wins_over_the_default():
    layers = mlp_layers()
    params = sum(la.params for la in layers)
    trace = make_trace(layers, iterations=10, params={"opt_state_bits": 16})
    result = simulate(hardware(), trace, baseline="qat")
    assert result.policies["rct"].memory_bytes["optimizer"] == 2 * params
    assert result.policies["qat"].memory_bytes["optimizer"] == 4 * params


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out + out.err


def test_cli_several_baselines(tmp_path, capsys):
    out = tmp_path / "run.json"
    code, text = _run(["run", "--hw", "edge_npu", "--trace", "resnet", "--baseline", "qat,fp32",
                       "--json", str(out)], capsys)
    assert code == 0, text
    doc = json.loads(out.read_text())
    assert list(doc["comparisons"]) == ["qat", "fp32"]
    assert doc["comparison"] == doc["comparisons"]["qat"]
    for name in ("qat", "fp32"):
        assert doc["comparisons"][name]["policy"] == doc["trace"]["policy"]
        assert set(doc["comparisons"][name]["savings"]) >= {"param_memory",
                                                            "param_memory_with_optimizer"}
    assert "vs fp32" in text and "vs qat" in text


def test_baseline_errors_name_the_argument_the_caller_gave(capsys):
    """From Python the error names simulate()'s `baseline`; from the command line, --baseline
    (the same problem and allowed values)."""
    for text in ("qatt", "qat,,fp32", "fp32:w_q=3"):
        with pytest.raises(InputError) as err:
            simulate("edge_npu", "resnet", baseline=text)
        assert str(err.value).startswith("simulate(): baseline: ")
        code, out = _run(["run", "--trace", "resnet", "--baseline", text], capsys)
        assert code == 2 and out.strip() == "rctsim: error: command line: --baseline: " \
            + str(err.value).removeprefix("simulate(): baseline: ")
    code, out = _run(["run", "--trace", "resnet", "--baseline", "qat,fp32,qat"], capsys)
    assert code == 2 and "command line: --baseline: qat is named twice" in out


@pytest.mark.parametrize("argv, needle", [
    (["--baseline", "qat,mixed-fp8"], "mixed-fp16"),
    (["--baseline", "qat:w_q=1"], "2..16"),
    (["--opt-state", "fp8"], "int16"),
])
def test_cli_bad_baseline_and_opt_state(argv, needle, capsys):
    code, text = _run(["run", *argv], capsys)
    assert code == 2 and needle in text
    assert len(text.strip().splitlines()) == 1


def test_a_real_run_beside_its_counterfactual(tmp_path):
    """`qat` (counterfactual) and a recorded qat run in one call: both kept, told apart."""
    layers = mlp_layers()
    trace = make_trace(layers, iterations=10)
    real = make_trace(layers, policy="qat", iterations=10, bits=(8, 8, 32, 32))
    result = simulate(hardware(), trace, baseline=["qat", real])
    assert list(result.comparisons) == ["qat", "qat_trace"]
    assert result.comparisons["qat_trace"]["baseline_role"] == "baseline (trace)"
    with pytest.raises(InputError, match=r"^simulate\(\): baseline: qat is named twice"):
        simulate(hardware(), trace, baseline="qat,fp32,qat")
