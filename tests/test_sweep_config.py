"""Sweep configs: axis values and ranges, hardware variants, policy points, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from hwmodels import sram
from hwmodels.components import build_cost_models
from hwmodels.load import load_hardware
from rctsim import simulate
from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.sweep import parse_sweep_config, plan_sweep
from rctsim.sweep.config import CACTI_MM2_PER_KB, AreaModel, PolicySpace
from rctsim.sweep.flags import overlay, parse_values
from rctsim.sweep.hardware import hardware_columns
from rctsim.sweep.policies import trained_points
from rctsim.sweep.values import read_axis, sample
from rctsim.synth import synth_trace
from rctsim.trace import write_trace
from tests.helpers import make_trace, mlp_layers


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("traces")
    write_trace(synth_trace("mlp", batch_size=8, iterations=10, schedule="w=8,a=8,g=8"),
                folder / "rct.trace")
    return folder


def _plan(data: dict, folder: Path):
    data = {"policies": {"traces": ["rct.trace"]}} | data
    return plan_sweep(parse_sweep_config("s.yaml", data), source="s.yaml", base_dir=folder)


def _values(raw, sampling=False):
    return read_axis("s.yaml", "hardware.axes.x", "x", raw, sampling=sampling).choices


def test_range_forms_expand_to_their_closed_forms():
    """factor, step and num ranges give the values their definitions give."""
    assert _values({"start": 32, "stop": 512, "factor": 2}) == (32, 64, 128, 256, 512)
    assert _values({"start": 32, "stop": 500, "factor": 2}) == (32, 64, 128, 256)
    assert _values({"start": 1, "stop": 2, "num": 3}) == (1.0, 1.5, 2.0)
    assert _values({"start": 10, "stop": 1000, "num": 3, "scale": "log"}) == (10.0, 100.0,
                                                                               1000.0)
    assert _values({"start": 0.1, "stop": 0.3, "step": 0.1}) == (0.1, 0.2, 0.3)
    assert _values({"start": 4, "stop": 10, "step": 3}) == (4, 7, 10)
    assert _values([64, 64, 128]) == (64, 128)
    assert _values("ws") == ("ws",)


@pytest.mark.parametrize("raw, words", [
    ([], "empty"),
    ({"start": 512, "stop": 32, "factor": 2}, "empty"),
    ({"start": 5, "stop": 1, "step": 1}, "empty"),
    ({"start": 5, "stop": 1}, "the range 5..1 is empty"),
    ({"start": 1, "stop": 5}, "needs num, step or factor"),
    ({"start": 1, "stop": 4, "step": 1, "num": 2}, "one of num, step, factor"),
    ({"start": 1, "stop": 4, "factor": 1}, "factor > 1"),
    ({"start": 1, "stop": 4, "stride": 1}, "unknown key 'stride'"),
])
def test_bad_axis_values_are_one_line_errors(raw, words):
    """Empty lists and empty or malformed ranges fail with a line naming the axis."""
    with pytest.raises(InputError) as err:
        _values(raw)
    assert words in str(err.value) and "hardware.axes.x" in str(err.value)
    assert "\n" not in str(err.value)


def test_random_sample_is_seeded_distinct_and_capped_by_the_grid():
    """Samples repeat with the seed, never repeat a point, and take the grid when larger."""
    axes = [read_axis("s", "f", "a", list(range(5)), sampling=True),
            read_axis("s", "f", "b", ["x", "y", "z", "w"], sampling=True)]
    first = sample(axes, 7, np.random.default_rng(3))
    assert first == sample(axes, 7, np.random.default_rng(3))
    assert len({(p["a"], p["b"]) for p in first}) == 7
    assert first != sample(axes, 7, np.random.default_rng(4))
    assert len(sample(axes, 50, np.random.default_rng(0))) == 20
    cont = [read_axis("s", "f", "c", {"start": 10, "stop": 1000, "scale": "log"},
                      sampling=True)]
    draws = [p["c"] for p in sample(cont, 200, np.random.default_rng(0))]
    assert min(draws) >= 10 and max(draws) <= 1000
    assert 50 < sum(d < 100 for d in draws) < 150  # log-uniform: half below the geometric mean


def test_hardware_axes_set_the_fields_they_name(trace_dir):
    """Named and dotted axes land in the spec; nothing else changes (leakage is derived by the
    cost model from the point's description, not rescaled by the sweep); area is per KB."""
    plan = _plan({"hardware": {"axes": {"sram_kb": [216], "array": ["16x8"],
                                        "dram_gb_per_s": [3.2], "clock_mhz": [400],
                                        "precision_mode": ["bit_serial"],
                                        "array.native_bits": [8]}}}, trace_dir)
    (point,) = plan.hardware
    base = load_hardware("edge_npu")
    spec = point.spec
    assert spec.global_buffer.size_bytes == 216 * 1024
    assert (spec.array.rows, spec.array.cols) == (16, 8)
    assert spec.dram.bandwidth_bytes_per_s == pytest.approx(3.2e9)
    assert spec.array.clock_hz == pytest.approx(4e8)
    assert spec.array.precision_mode == "bit_serial" and spec.array.native_bits == 8
    assert spec.global_buffer.leakage_mw is None and spec.pe_local.leakage_mw is None
    assert spec.memories[1] == base.memories[1]
    gb = spec.global_buffer
    bank = sram.bank_costs(gb.cells, 216 * 1024 / gb.banks, gb.word_bits)
    assert build_cost_models(spec).global_buffer.leakage_w == pytest.approx(
        gb.banks * bank.leakage_mw / 1000)
    cols = hardware_columns(spec, AreaModel())
    total = 216 * 1024 + 520 * 128
    assert cols["sram_total_bytes"] == total
    # default: the memories' parts of the run's own chip area (one answer per hardware)
    run_area = simulate(spec, make_trace(mlp_layers(), iterations=2), baseline=None).area_mm2
    assert cols["sram_area_mm2"] == pytest.approx(
        run_area["parts"]["sram:global_buffer"] + run_area["parts"]["sram:pe_spads"], rel=1e-12)
    flat = hardware_columns(spec, AreaModel(mm2_per_kb=CACTI_MM2_PER_KB, source="test"))
    assert flat["sram_area_mm2"] == pytest.approx(total / 1024 * 0.108577 / 16)
    assert CACTI_MM2_PER_KB == pytest.approx(6.786e-3, rel=1e-4)


def test_scale_leakage_is_accepted_and_changes_nothing(trace_dir):
    """Old sweep files may still say `scale_leakage`; the points are the same either way."""
    on = _plan({"hardware": {"scale_leakage": True, "axes": {"sram_kb": [216]}}}, trace_dir)
    off = _plan({"hardware": {"scale_leakage": False, "axes": {"sram_kb": [216]}}}, trace_dir)
    assert on.hardware[0].spec == off.hardware[0].spec


@pytest.mark.parametrize("axes, words", [
    ({"sram_kib": [64]}, "hardware.axes.sram_kib: unknown hardware axis (did you mean "
     "'sram_kb'?)"),
    ({"array.dataflw": ["ws"]}, "unknown hardware axis (did you mean 'array.dataflow'?)"),
    ({"dataflow": ["ws", "xs"]}, "hardware.axes.dataflow: 'xs' is rejected by the hardware "
     "schema: array.dataflow"),
    ({"sram_kb": [64, 0]}, "hardware.axes.sram_kb: 0 is rejected by the hardware schema: "
     "memories[0].size_bytes"),
    ({"precision_mode": ["bit_fusion"]}, "hardware.axes.precision_mode: 'bit_fusion' is "
     "rejected by the hardware schema: array.int_bits"),
    ({"array": ["16by16"]}, "hardware.axes.array: '16by16' is not ROWSxCOLS"),
    ({"sram_kb": ["big"]}, "hardware.axes.sram_kb: 'big' is not a number"),
    ({"energy_table": ["nope_7nm"]}, "hardware.axes.energy_table: 'nope_7nm' is rejected by "
     "the hardware schema: energy_table"),
    ({"hw": ["no_such_npu"]}, "hardware.axes.hw: 'no_such_npu'"),
    ({"array.bogus": [1]}, "unknown hardware axis"),
])
def test_bad_hardware_axes_fail_before_any_work(trace_dir, axes, words):
    """Unknown axes and values the hardware schema rejects are one line naming the axis."""
    with pytest.raises(InputError) as err:
        _plan({"hardware": {"axes": axes}}, trace_dir)
    text = str(err.value)
    assert text.startswith("s.yaml: ") and words in text and "\n" not in text


def test_a_misspelt_base_names_the_base_field(trace_dir):
    """A base description that does not load is named as `hardware.base` (not as an axis that
    happened to be checked first), with the suggestion."""
    with pytest.raises(InputError) as err:
        _plan({"hardware": {"base": "edge_nup", "axes": {"sram_kb": [64, 128]}}}, trace_dir)
    text = str(err.value)
    assert text.startswith("s.yaml: hardware.base: 'edge_nup'") and "edge_npu" in text
    assert "\n" not in text


def test_a_rejected_combination_names_the_point(trace_dir):
    """Values fine alone but not together name the whole point."""
    with pytest.raises(InputError) as err:
        _plan({"hardware": {"base": "mcu_npu", "axes": {
            "precision_mode": ["bit_fusion", "energy_only"],
            "array.int_bits": [[8, 16], [2, 3, 8]]}}}, trace_dir)
    assert "hardware.axes: the point precision_mode=bit_fusion, array.int_bits=[2, 3, 8]" \
        in str(err.value)


def test_policy_parameter_axes_apply_only_where_they_exist():
    """rct x {t_low a, b} + qat once: a parameter axis does not multiply other policies."""
    space = PolicySpace(train={"model": "mlp", "max_iterations": 5},
                        axes={"policy": ["rct", "qat"], "t_low": [0.01, 0.05]})
    points = trained_points("s.yaml", space, rng=np.random.default_rng(0))
    assert [(p.train["policy"], p.train["policy_params"].get("t_low")) for p in points] == [
        ("rct", 0.01), ("rct", 0.05), ("qat", None)]
    assert points[2].train["policy_params"] == {"w_q": 8, "a_q": 8, "opt_state_bits": 32}
    assert points[0].label == "mlp/rct t_low=0.01" and points[0].train["max_iterations"] == 5
    shared = PolicySpace(train={"model": "mlp", "policy_params": {"b_min": 6, "w_q": 4}},
                         axes={"policy": ["rct", "qat"]})
    rct, qat = trained_points("s.yaml", shared, rng=np.random.default_rng(0))
    assert rct.train["policy_params"]["b_min"] == 6 and "w_q" not in rct.train["policy_params"]
    assert qat.train["policy_params"]["w_q"] == 4 and "b_min" not in qat.train["policy_params"]


@pytest.mark.parametrize("space, words", [
    ({"train": {"model": "mlp"}, "axes": {"policy": ["qat"], "t_low": [0.1]}},
     "policies.axes.t_low: applies to none of the policies swept"),
    ({"train": {"model": "mlp"}, "axes": {"t_low": [0.5]}},
     "policies.axes: need t_low < t_high, got 0.5 >= 0.2 (rct) with t_low=0.5"),
    ({"train": {"model": "mlp"}, "axes": {"b_min": [1]}},
     "policies.axes.b_min: Input should be greater than or equal to 2 (rct)"),
    ({"train": {"model": "mlp"}, "axes": {"policy": ["rct", "int4"]}},
     "policies.axes.policy: unknown policy 'int4'"),
    ({"train": {"model": "mlp"}, "axes": {"t_lo": [0.5]}}, "policies.axes.t_lo: unknown policy"),
    ({"train": {"model": "mlp", "policy": "qat", "policy_params": {"t_low": 0.1}}},
     "policies.train.policy_params.t_low: applies to none of the policies swept"),
    ({"train": {"model": "alexnet"}}, "policies.train.model: unknown model 'alexnet'"),
    ({"train": {"model": "lstm", "dataset": "strokes"}},
     "policies.train.dataset: 'strokes' does not fit model 'lstm'"),
    ({"train": {"model": "mlp", "epochs": 0}}, "policies.train.epochs"),
])
def test_bad_policy_points_fail_before_training(space, words):
    """Trainer settings are checked by the trainer's own models, errors name the config key."""
    with pytest.raises(InputError) as err:
        trained_points("s.yaml", PolicySpace(**space), rng=np.random.default_rng(0))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_flags_write_over_the_config():
    """`--sram-kb 64,128 --policy rct --axis t_low=...` land in the right sections."""
    data = overlay("s.yaml", {"hardware": {"axes": {"sram_kb": [8]}}},
                   axes={"sram_kb": parse_values("--sram-kb", "64,128"),
                         "dataflow": parse_values("--dataflow", "ws"),
                         "t_low": parse_values("--axis", "{start: 0.01, stop: 0.03, num: 3}")},
                   traces=["a.trace"], hw="mcu_npu", seed=0, objectives=["energy"])
    assert data["hardware"] == {"axes": {"sram_kb": [64, 128], "dataflow": ["ws"]},
                                "base": "mcu_npu"}
    assert data["policies"] == {"axes": {"t_low": {"start": 0.01, "stop": 0.03, "num": 3}},
                                "traces": ["a.trace"]}
    assert data["seed"] == 0 and data["objectives"] == ["energy"]
    with pytest.raises(InputError, match="unknown axis 'colour'"):
        overlay("s.yaml", {}, axes={"colour": ["red"]})
    with pytest.raises(InputError, match=r"unknown axis 't_loww' \(did you mean 't_low'\?\)"):
        overlay("s.yaml", {}, axes={"t_loww": [0.1]})


def test_cli_bad_config_is_one_line_and_no_store(tmp_path, trace_dir, capsys):
    """Exit status 2, one stderr line, and the store file never created."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"hardware": {"axes": {"sram_kb": {"start": 64, "stop": 8,
                                                                     "factor": 2}}},
                                   "policies": {"traces": [str(trace_dir / "rct.trace")]}}))
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(cfg), "--store", str(tmp_path / "s.db"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"rctsim: error: {cfg}: hardware.axes.sram_kb: the range 64..8")
    assert not (tmp_path / "s.db").exists()


def test_cli_unknown_config_key_is_one_line(tmp_path, capsys):
    """A misspelt section names the allowed keys."""
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("hardwares: {}\n")
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(cfg), "--quiet"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unknown key 'hardwares'" in err and "hardware" in err


def test_example_study_config_plans():
    """studies/sweep_example.yaml is valid: 20 hardware points x 3 bundled traces."""
    from rctsim.sweep import load_sweep_config
    from rctsim.trace import list_bundled_traces

    path = Path(__file__).resolve().parents[1] / "studies" / "sweep_example.yaml"
    if not {"resnet", "resnet_qat", "resnet_fp32"} <= set(list_bundled_traces()):
        pytest.skip("the bundled resnet traces are not there")
    plan = plan_sweep(load_sweep_config(path), source=str(path), base_dir=path.parent)
    assert (len(plan.hardware), len(plan.policies)) == (20, 3)
    assert sorted({p.spec.global_buffer.size_bytes // 1024 for p in plan.hardware}) == [
        32, 64, 128, 256, 512]


def test_docs_name_every_store_column():
    """docs/sweeps.md documents every column of the store."""
    from rctsim.sweep.store import COLUMN_NAMES

    text = (Path(__file__).resolve().parents[1] / "docs" / "sweeps.md").read_text()
    missing = [c for c in COLUMN_NAMES if f"`{c}`" not in text]
    assert not missing, missing


def test_bank_size_axis_builds_larger_buffers_from_more_banks(trace_dir):
    """`sram_bank_kb` is applied after the size whatever the axis order: banks = size / bank,
    so 256 KB and 1 MB of 32 KB banks have 8 and 32 banks; a bank size that does not divide the
    buffer is one line."""
    plan = _plan({"hardware": {"axes": {"sram_bank_kb": [32], "sram_kb": [256, 1024]}}},
                 trace_dir)
    banks = sorted((p.spec.global_buffer.size_bytes, p.spec.global_buffer.banks)
                   for p in plan.hardware)
    assert banks == [(256 * 1024, 8), (1024 * 1024, 32)]
    with pytest.raises(InputError, match="sram_bank_kb: 48 does not divide"):
        _plan({"hardware": {"axes": {"sram_kb": [256], "sram_bank_kb": [48]}}}, trace_dir)


def test_misspelt_axes_get_the_closest_name_in_grid_and_search(trace_dir):
    """A grid plan and a search space name the same closest axis for a misspelt name."""
    from rctsim.sweep.search_space import search_space

    for section, name, close in (("hardware", "dram_gb_per_sec", "dram_gb_per_s"),
                                 ("policies", "t_hihg", "t_high")):
        data = {"policies": {"traces": ["rct.trace"]}}
        data.setdefault(section, {})["axes"] = {name: [1]}
        config = parse_sweep_config("s.yaml", data)
        for make in (plan_sweep, search_space):
            with pytest.raises(InputError) as err:
                make(config, source="s.yaml", base_dir=trace_dir)
            assert f"{section}.axes.{name}: unknown " in str(err.value)
            assert f"(did you mean '{close}'?)" in str(err.value)
