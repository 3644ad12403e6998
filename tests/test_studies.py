"""Shrunken versions of the studies (studies/*/run.py): their core computations against
independent ones (closed forms, SCALE-Sim's committed numbers, direct simulate() calls), and the
validation study reproducing its committed outputs byte for byte."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from hwmodels import energy
from hwmodels.load import load_energy_table, load_hardware
from hwmodels.schema import HardwareSpec
from hwmodels.systolic import compute_cycles
from rctsim.errors import InputError
from rctsim.replay import simulate
from rctsim.synth import synth_trace
from rctsim.trace import load_trace
from tests.helpers import make_trace, mlp_layers

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def _load(study: str, module: str = "run"):
    """Import studies/STUDY/MODULE.py under a unique name (its folder on the path, as when the
    script runs)."""
    for folder in (STUDIES / study,):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    name = f"study_{study}_{module}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, STUDIES / study / f"{module}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


@pytest.fixture(scope="module")
def studylib():
    from rctsim import study

    return study


# ---------------------------------------------------------------- studylib


def test_percentile_summary_matches_numpy(studylib):
    """The error-distribution summary equals numpy's percentiles of |values|."""
    values = [0.0, -0.3, 0.1, 0.25, -0.05, 0.0, 0.7]
    got = studylib.percentile_summary(values)
    mags = np.abs(values)
    assert got["median_abs"] == pytest.approx(np.percentile(mags, 50))
    assert got["p90_abs"] == pytest.approx(np.percentile(mags, 90))
    assert got["max_abs"] == 0.7 and got["zero_share"] == pytest.approx(2 / 7)


def test_csv_and_pct_formatting(studylib):
    """Floats are written to 6 significant digits; None empty; -0.0% printed as 0.0%."""
    text = studylib.csv_text([{"a": 1 / 3, "b": None, "c": 7}], ["a", "b", "c"])
    assert text == "a,b,c\n0.333333,,7\n"
    assert studylib.pct(-1e-6) == "0.0%" and studylib.pct(0.8634) == "86.3%"


def test_bad_config_names_the_field(studylib, tmp_path):
    """A config with an unknown key is one InputError naming the file and the field."""
    run = _load("validation")
    bad = tmp_path / "c.yaml"
    bad.write_text("fixture: x\nresnet: {layers: [fc], arrays: [[4, 4]], dataflows: [ws], "
                   "reference: r.json, colour: red}\nenergy: {tables: [horowitz_45nm]}\n")
    with pytest.raises(InputError, match=r"c\.yaml: resnet\.colour"):
        studylib.load_config(bad, run.ValidationConfig)


# ---------------------------------------------------------------- validation


def test_validation_cycles_agree_with_scalesim_fixture():
    """Every metric of a sample of fixture cases agrees (os OFMAP writes after the quirk)."""
    run = _load("validation")
    fixture = json.loads((STUDIES.parent / "tests/fixtures/scalesim_cycles.json").read_text())
    cases = fixture["cases"][::17]
    rows = run.compare_cases(cases, "fixture")
    assert len(rows) == len(cases) * len(run.METRICS)
    assert max(abs(r["rel_error"]) for r in rows) < 1e-12
    for case in cases:
        adjusted = run.scalesim_adjusted(case)
        if case["dataflow"] == "os":      # the true element count is M*N
            assert adjusted["ofmap_sram_writes"] == case["m"] * case["n"]


def test_validation_energy_left_out_closed_forms():
    """Left-out predictions equal the scaling rules worked by hand (docs/hardware.md §3)."""
    run = _load("validation")
    rows = {(r["family"], r["at"]): r for r in run.energy_rows(load_energy_table("horowitz_45nm"))}
    assert rows[("int_add", 16)]["left_out_pj"] == pytest.approx(0.03 + 0.07 * 8 / 24)
    q = math.log(10) / math.log(1048576 / 8192)
    assert rows[("sram_64b", 32768)]["left_out_pj"] == pytest.approx(10 * 4**q)
    assert rows[("int_mult", 32)]["left_out_pj"] == pytest.approx(0.2 * 16)
    assert all(abs(r["error_at_point"]) < 1e-12 for r in rows.values())


def test_validation_hierarchy_ratios():
    """edge_npu's DRAM read per 16-bit word is 16 x (8.470 + 0.0735) pJ (LPDDR4 row, Micron
    datasheet derivation); the MAC is sqrt(0.2*3.1) + 0.05 pJ; inter-PE is not modelled."""
    run = _load("validation")
    rows = {r["role"]: r for r in run.hierarchy_rows("edge_npu")}
    mac = math.sqrt(0.2 * 3.1) + 0.05
    assert rows["dram"]["ours_pj"] == pytest.approx(16 * (8.470 + 0.0735))
    assert rows["dram"]["ours_x_mac"] == pytest.approx(16 * (8.470 + 0.0735) / mac)
    assert rows["dram"]["eyeriss_x_mac"] == 200
    assert rows["inter_pe"]["ours_pj"] is None and rows["inter_pe"]["eyeriss_x_mac"] == 2


def test_validation_cacti_check_against_horowitz():
    """Horowitz's SRAM points beside CACTI's one bank of the same size (hp cells, 64-bit)."""
    run = _load("validation")
    rows = {r["size_bytes"]: r for r in run.sram_rows(load_energy_table("horowitz_45nm"))}
    assert sorted(rows) == [8192, 32768, 1048576]
    from hwmodels import sram

    for size, published in ((8192, 10.0), (32768, 20.0), (1048576, 100.0)):
        cacti = sram.bank_costs("itrs-hp", size, 64).read_pj
        assert rows[size]["published_pj"] == published
        assert rows[size]["cacti_one_bank_pj"] == cacti
        assert rows[size]["difference"] == pytest.approx(cacti / published - 1)


def test_validation_reference_must_match_config(tmp_path):
    """A SCALE-Sim reference holding other cases than the config's is refused."""
    run = _load("validation")
    spec = {"layers": [{"name": "fc", "m": 1, "n": 10, "k": 512}], "arrays": [[4, 4]],
            "dataflows": ["ws"]}
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"cases": []}))
    with pytest.raises(InputError, match="does not match"):
        run.load_reference(ref, spec)


def test_validation_study_reproduces_committed_outputs(tmp_path, studylib):
    """`python studies/validation/run.py` writes exactly the committed tables."""
    run = _load("validation")
    cfg = studylib.load_config(STUDIES / "validation/config.yaml", run.ValidationConfig)
    run.run(cfg, out_dir=tmp_path)
    for name in ("cycles.csv", "energy.csv", "training_chip.csv", "training_chip_factors.csv",
                 "results.md"):
        assert (tmp_path / name).read_text() == (STUDIES / "validation" / name).read_text(), name


def test_validation_training_chip_mac_only_efficiency_is_horowitz_closed_form():
    """LNPU at fp8 (fp16 accumulate), MAC arithmetic only: 2 FLOP / (fp8 multiply + fp16 add),
    the fp8 multiply by the power law through Horowitz's fp16 (1.1 pJ) and fp32 (3.7 pJ) points;
    at fp16, 2 / (1.1 + 0.4). On-chip efficiency is below it, and the ratio is ours/published."""
    run = _load("validation")
    rows = {r["precision"]: r for r in run.training_chip_rows(run.TrainingChip(
        hw="lnpu", gemm=(64, 64, 64), published=[
            run.PublishedEfficiency(precision="fp8", tflops_per_w=25.3, source="t"),
            run.PublishedEfficiency(precision="fp16", tflops_per_w=14.4, source="t")]))}
    p = math.log(3.7 / 1.1) / math.log(4)
    assert rows["fp8"]["ours_mac_only_tflops_per_w"] == pytest.approx(
        2 / (1.1 * (64 / 256) ** p + 0.4))
    assert rows["fp16"]["ours_mac_only_tflops_per_w"] == pytest.approx(2 / 1.5)
    for r in rows.values():
        assert r["ours_on_chip_tflops_per_w"] < r["ours_mac_only_tflops_per_w"]
        assert r["ratio_on_chip"] == pytest.approx(
            r["ours_on_chip_tflops_per_w"] / r["published_tflops_per_w"])


# ---------------------------------------------------------------- rct_vs_qat


def _synthetic(policy: str, bits, starts=(0,), iterations=40):
    return make_trace(mlp_layers(), policy=policy, iterations=iterations, starts=starts,
                      bits=bits, params={"opt_state_bits": 16})


def test_rct_vs_qat_gemm_and_param_memory_closed_forms():
    """8-bit RCT against QAT: GEMM saving 1 - 3e8/(e8 + 2e32), parameter memory 1 - 8/40."""
    measure = _load("rct_vs_qat", "measure")
    hw = load_hardware("edge_npu")
    rct = measure.policy_metrics(hw, _synthetic("rct", (8, 8, 8, 32)))
    qat = measure.policy_metrics(hw, _synthetic("qat", (8, 8, 32, 32)))
    saved = measure.savings(rct, qat)
    table = load_energy_table("horowitz_45nm")
    e8, e32 = energy.int_mac_pj(table, 8, 8, 32), energy.fp32_mac_pj(table)
    assert saved["gemm_energy"] == pytest.approx(1 - 3 * e8 / (e8 + 2 * e32))
    assert saved["param_memory"] == pytest.approx(1 - 8 / 40)
    assert rct["mean_w_bits"] == 8


def test_rct_vs_qat_truncated_energy_is_linear_in_phases():
    """Energy of the first n iterations = per-iteration energy of each phase x its share."""
    measure = _load("rct_vs_qat", "measure")
    hw = load_hardware("mcu_npu")
    bits = np.array([[(8, 8, 8, 32)] * 3, [(12, 8, 8, 32)] * 3], dtype=np.uint8)
    trace = _synthetic("rct", bits, starts=(0, 10), iterations=40)
    one = [measure.replay(hw, _synthetic("rct", b, iterations=1)).energy_pj["total"]
           for b in bits]
    for n in (4, 10, 25, 40):
        got = measure.replay(hw, measure.truncate(trace, n)).energy_pj["total"]
        assert got == pytest.approx(one[0] * min(n, 10) + one[1] * max(0, n - 10), rel=1e-9)


def test_rct_vs_qat_energy_to_target_and_curve():
    """The first evaluation at or above the target; None when never reached."""
    measure = _load("rct_vs_qat", "measure")
    curve = [{"iterations": 10, "eval_acc": 0.5, "energy_pj": 1.0},
             {"iterations": 20, "eval_acc": 0.8, "energy_pj": 2.0}]
    assert measure.energy_to_target(curve, 0.8)["energy_pj"] == 2.0
    assert measure.energy_to_target(curve, 0.9) is None


def test_rct_vs_qat_bundled_rows_match_committed_csv():
    """The image model on edge_npu, recomputed, equals the committed results.csv rows."""
    run = _load("rct_vs_qat")
    tables = _load("rct_vs_qat", "tables")
    from rctsim import study as studylib

    cfg = studylib.load_config(STUDIES / "rct_vs_qat/config.yaml", run.StudyConfig)
    traces, _ = run.policy_traces(cfg.models["image"], retrain=False)
    rows, _ = run.measure_model(["edge_npu"], cfg.models["image"], traces, "image")
    fresh = studylib.csv_text(rows, tables.ROW_COLUMNS).splitlines()[1:]
    committed = (STUDIES / "rct_vs_qat/results.csv").read_text().splitlines()
    for line in fresh:
        assert line in committed


def test_rct_vs_qat_counterfactual_baselines_closed_forms():
    """Counterfactual baselines on an 8-bit RCT trace (edge_npu, whole-byte storage): parameter
    memory = params x (int8 + fp32) bytes for qat-fp16 and x (16 + 32 bits) for mixed-fp16;
    their half-precision GEMMs run on edge_npu's fp16/bf16 unit at its energy; the counterfactual
    `qat` costs what a QAT trace of the same layers costs (the check row's gap is 0)."""
    measure = _load("rct_vs_qat", "measure")
    run = _load("rct_vs_qat")
    hw = load_hardware("edge_npu")
    traces = {"rct": _synthetic("rct", (8, 8, 8, 32))}
    params = sum(layer.params for layer in mlp_layers())
    rows = [{"model": "m", "hardware": "edge_npu", "policy": p,
             **measure.policy_metrics(hw, t)} for p, t in (
                ("rct", traces["rct"]),
                # QAT as trained records no optimiser-state width: fp32, as the counterfactual
                ("qat", make_trace(mlp_layers(), policy="qat", iterations=40, starts=(0,),
                                   bits=(8, 8, 32, 32))),
                ("fp32", _synthetic("fp32", (32, 32, 32, 32))))]
    out = run.measure_baselines(["edge_npu"], ["qat-fp16", "mixed-fp16"], traces, "m", rows)
    check, qat16, mixed = out
    assert check["check"] and check["gap"] == 0
    by = {r["policy"]: r for r in rows}
    assert qat16["param_memory"] == params * (1 + 4)
    assert mixed["param_memory"] == params * (2 + 4)
    # edge_npu's half-precision unit: an fp16 multiply with an fp32 accumulate costs
    # 1.1 + 0.9 pJ against fp32's 3.7 + 0.9 pJ (Horowitz ISSCC 2014, 45 nm); fp32 runs
    # forward, dgrad and wgrad (equal MAC counts here) at 4.6 pJ, QAT's backward two of them
    half, full = 1.1 + 0.9, 3.7 + 0.9
    macs_per_pass = by["fp32"]["gemm_energy"] / full / 3
    assert mixed["gemm_energy"] == pytest.approx(by["fp32"]["gemm_energy"] * half / full,
                                                 rel=1e-9)
    assert qat16["gemm_energy"] == pytest.approx(
        by["qat"]["gemm_energy"] - 2 * macs_per_pass * (full - half), rel=1e-9)
    assert mixed["accuracy"] is None and mixed["energy_to_target"] is None
    assert by["rct"]["saving_vs_mixed-fp16_param_memory"] == pytest.approx(
        1 - by["rct"]["param_memory"] / (params * 6))


def test_rct_vs_qat_bundled_baselines_match_committed_csv():
    """The image model's counterfactual baselines on edge_npu, recomputed, equal the committed
    baselines.csv rows."""
    run = _load("rct_vs_qat")
    tables = _load("rct_vs_qat", "tables")
    from rctsim import study as studylib

    cfg = studylib.load_config(STUDIES / "rct_vs_qat/config.yaml", run.StudyConfig)
    assert {"mixed-fp16", "mixed-bf16", "qat-fp16", "qat:dgrad_weights=master"} <= set(
        cfg.baselines)
    traces, _ = run.policy_traces(cfg.models["image"], retrain=False)
    rows, _ = run.measure_model(["edge_npu"], cfg.models["image"], traces, "image")
    found = run.measure_baselines(["edge_npu"], cfg.baselines, traces, "image", rows)
    result = {"rows": rows, "baselines": [b for b in found if not b.get("check")]}
    fresh = studylib.csv_text(tables.baseline_csv_rows(result),
                              tables.BASELINE_COLUMNS).splitlines()[1:]
    committed = (STUDIES / "rct_vs_qat/baselines.csv").read_text().splitlines()
    assert len(fresh) == len(cfg.baselines)
    for line in fresh:
        assert line in committed


def test_rct_vs_qat_claim_verdicts_and_apt_slope():
    """Verdicts follow the claim kinds; the APT slope is the relative saving per point."""
    claims = _load("rct_vs_qat", "claims")
    tables = _load("rct_vs_qat", "tables")
    gemm = next(c for c in claims.CLAIMS if c.key == "gemm")
    move = next(c for c in claims.CLAIMS if c.key == "param_move")
    assert claims.verdict(gemm, 0.9, 0.93) == "meets"
    assert claims.verdict(gemm, 0.8, 0.9) == "partly"
    assert claims.verdict(move, 0.75, 0.99) == "above"
    assert claims.verdict(move, 0.45, 0.55) == "meets"
    rows = [{"hardware": "h", "tradeoff": 0.1, "accuracy": 0.92, "total_energy": 100.0,
             "peak_memory": 10.0},
            {"hardware": "h", "tradeoff": 0.01, "accuracy": 0.90, "total_energy": 80.0,
             "peak_memory": 9.0}]
    (slope,) = tables.apt_slopes(rows)
    assert slope["accuracy_points"] == pytest.approx(2.0)
    assert slope["energy_per_point"] == pytest.approx(0.2 / 2)
    assert slope["memory_per_point"] == pytest.approx(0.1 / 2)


# ---------------------------------------------------------------- sram_pareto


def test_sram_pareto_spill_window_on_a_small_model(tmp_path):
    """MLP (536k params), stored bit-tight (`packing: packed`): RCT's ~8-bit weights fit a 1 MB
    buffer, QAT's 40 bits need 4 MB; a sweep point equals a direct simulate() on the resized
    hardware."""
    run = _load("sram_pareto")
    data = load_hardware("edge_npu").model_dump()
    data["packing"] = "packed"
    packed = tmp_path / "edge_packed.yaml"
    packed.write_text(json.dumps(data))
    cfg = run.ParetoConfig(
        hardware=str(packed), sram_kb=[1024, 4096], iterations=20,
        objectives=["energy", "sram"], policies=["rct", "qat"],
        models={"mlp": {"batch_size": 32, "rct_schedule_from": "resnet"}})
    result = run.run(cfg, write=False)
    fits = {s["policy"]: s["fits_from_kb"] for s in result["spills"]}
    assert fits == {"rct": 1024, "qat": 4096}
    (window,) = result["windows"]
    assert window["sram_kb"] == 1024 and window["qat_over_rct_energy"] > 1
    point = next(r for r in result["rows"] if (r["policy"], r["sram_kb"]) == ("qat", 1024))
    gb = next(m for m in data["memories"] if m["role"] == "global")
    gb["size_bytes"] = 1024 * 1024
    trace = synth_trace("mlp", batch_size=32, iterations=20, schedule="qat")
    direct = simulate(HardwareSpec.model_validate(data), trace, baseline=None)
    assert point["energy_pj"] == pytest.approx(direct.policies["qat"].energy_pj["total"])
    assert point["param_dram_bytes"] == direct.policies["qat"].traffic_bytes["param_dram"]


def test_sram_pareto_points_match_committed_csv():
    """Two of the committed BERT-tiny sizes, recomputed, equal the committed rows."""
    run = _load("sram_pareto")
    from rctsim import study as studylib

    cfg = studylib.load_config(STUDIES / "sram_pareto/config.yaml", run.ParetoConfig)
    small = cfg.model_copy(update={"sram_kb": [8192, 16384],
                                   "models": {"bert_tiny": cfg.models["bert_tiny"]}})
    rows = run.run(small, write=False)["rows"]
    columns = [c for c in run.COLUMNS if c != "on_front"]
    committed = studylib.read_csv(STUDIES / "sram_pareto/results.csv")
    index = {(r["model"], r["policy"], r["sram_kb"]): r for r in committed}
    assert len(rows) == 6
    for line in studylib.read_csv_text(studylib.csv_text(rows, columns)):
        want = index[(line["model"], line["policy"], line["sram_kb"])]
        assert {c: want[c] for c in columns} == line


# ---------------------------------------------------------------- speed


def test_speed_array_pass_equals_scalesim_reference_cycles():
    """The timed array pass computes SCALE-Sim's cycles (committed validation reference)."""
    run = _load("speed")
    ref = json.loads((STUDIES / "validation/scalesim_resnet18.json").read_text())
    names = list(dict.fromkeys(c["layer"] for c in ref["cases"]))
    layers = [next({"name": n, "m": c["m"], "n": c["n"], "k": c["k"]} for c in ref["cases"]
                   if c["layer"] == n) for n in names]
    for dataflow in ("ws", "os", "is"):
        want = [c["compute_cycles"] for c in ref["cases"]
                if (c["rows"], c["cols"], c["dataflow"]) == (32, 32, dataflow)]
        assert run.array_pass(layers, 32, 32, dataflow) == want
        assert want == [compute_cycles(la["m"], la["n"], la["k"], 32, 32, dataflow)
                        for la in layers]


def test_speed_growth_traces_have_the_asked_phases():
    """`phased` makes exactly P distinct phases over N iterations; replay sees P of them."""
    run = _load("speed")
    base = synth_trace("mlp", batch_size=8, iterations=1, schedule="w=8,a=8,g=8")
    for phases, iterations in ((1, 5), (7, 1000), (40, 40)):
        trace = run.phased(base, phases, iterations)
        assert len(trace.phase_start) == phases and trace.iterations == iterations
        row = run._growth(load_hardware("edge_npu"), trace, "phases", phases, repeat=1)
        assert row["distinct_phases"] == phases
        assert row["macs_per_iteration"] == 3 * sum(la.macs for la in base.layers)


def test_bundled_traces_are_the_configured_runs():
    """The rct_vs_qat config's trainer settings are the bundled traces' recorded commands."""
    run = _load("rct_vs_qat")
    from rctsim import study as studylib

    cfg = studylib.load_config(STUDIES / "rct_vs_qat/config.yaml", run.StudyConfig)
    for runs in cfg.models.values():
        for policy, name in runs.traces.items():
            command = load_trace(name).header.notes["command"]
            assert command == run.train_config(runs, policy).command()


def test_docs_results_is_the_summary_of_the_committed_outputs():
    """docs/results.md is exactly what studies/summary.py renders from the committed outputs."""
    import runpy

    summary = runpy.run_path(str(STUDIES / "summary.py"), run_name="summary")
    assert (STUDIES.parent / "docs/results.md").read_text() == summary["render"]()
