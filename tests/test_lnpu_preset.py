"""The `lnpu` preset (a published on-device training processor, issue 10) and the validation
study's comparison with its papers: what the papers publish is what the preset and the study
use; what they do not publish is marked as an assumption; the study's bounds and factors follow
their closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hwmodels.load import load_hardware
from rctsim import study

ROOT = Path(__file__).resolve().parents[1]

# Published by Lee et al., "LNPU: A 25.3TFLOPS/W Sparse Deep-Neural-Network Learning Processor
# with Fine-Grained Mixed Precision of FP8-FP16", ISSCC 2019, paper 7.7 (title, first paragraph
# and Fig. 7.7.1), and the letter version, IEEE SSC-L 2(11) 2019, abstract.
PUBLISHED_FORMATS = {"fp8", "fp16"}          # title: "Fine-Grained Mixed Precision of FP8-FP16"
PUBLISHED_TFLOPS_PER_W = 25.3                # title
PUBLISHED_ZERO_INPUTS = (0.37, 0.61)         # first paragraph: "37%-61% of the inputs"
PUBLISHED_FP16_OVER_FP8_ENERGY = 4.0         # first paragraph: "4x less energy than FP16"
PUBLISHED_MIXED_OVER_FP16 = 1.76             # letter abstract: "improved 1.76x ... sparse FP16"


def _validation():
    import runpy
    return runpy.run_path(str(ROOT / "studies/validation/run.py"), run_name="validation_test")


def test_lnpu_formats_are_the_published_ones():
    """FP8 and FP16 in every PE, nothing else: no fp32 unit (QAT's fp32 backward is refused)."""
    hw = load_hardware("lnpu")
    assert [u.placement for u in hw.compute_units] == ["pe"]
    assert set(hw.compute_units[0].formats) == PUBLISHED_FORMATS
    assert "ISSCC 2019" in hw.compute_units[0].source


def test_lnpu_unpublished_organisation_is_marked_assumed():
    """The chip summary (PEs, clock, SRAM, DRAM) is not in the reachable sources: every part of
    the preset that sets one of those says [assumed], so a published number can replace it."""
    hw = load_hardware("lnpu")
    assert "[assumed]" in hw.array.source
    assert "[assumed]" in hw.array.area_source
    for mem in hw.memories:
        assert "[assumed]" in mem.source, mem.name
    assert "[assumed]" in hw.dram.source


def test_validation_config_uses_the_published_lnpu_figures():
    """The study compares with the papers' numbers as published (written above with their
    sources), and the derived fp16 figure is 25.3 / 1.76."""
    run = _validation()
    cfg = study.load_config(ROOT / "studies/validation/config.yaml", run["ValidationConfig"])
    chip = cfg.training_chip
    assert chip.hw == "lnpu"
    pub = {p.precision: p.tflops_per_w for p in chip.published}
    assert pub["fp8"] == PUBLISHED_TFLOPS_PER_W
    assert pub["fp16"] == pytest.approx(PUBLISHED_TFLOPS_PER_W / PUBLISHED_MIXED_OVER_FP16,
                                        abs=0.05)
    assert (chip.zero_inputs.low, chip.zero_inputs.high) == PUBLISHED_ZERO_INPUTS
    assert chip.fp16_over_fp8_energy.value == PUBLISHED_FP16_OVER_FP8_ENERGY
    assert chip.mixed_over_fp16_efficiency.value == PUBLISHED_MIXED_OVER_FP16


def test_zero_skip_credit_is_the_one_over_one_minus_s_bound():
    """Crediting skipped MACs: dense efficiency / (1 - s) at the published s, ratio to the paper."""
    run = _validation()
    rows = {r["precision"]: r for r in run["training_chip_rows"](run["TrainingChip"](
        hw="lnpu", gemm=(64, 64, 64),
        published=[run["PublishedEfficiency"](precision="fp8", tflops_per_w=25.3, source="t")],
        zero_inputs=run["ZeroInputs"](low=0.37, high=0.61, source="t")))}
    r = rows["fp8"]
    ours = r["ours_on_chip_tflops_per_w"]
    assert r["ours_crediting_skipped_low"] == pytest.approx(ours / 0.63)
    assert r["ours_crediting_skipped_high"] == pytest.approx(ours / 0.39)
    assert r["ratio_crediting_skipped_high"] == pytest.approx(ours / 0.39 / 25.3)


def test_zero_inputs_must_be_ordered():
    run = _validation()
    with pytest.raises(ValueError, match="must not exceed"):
        run["ZeroInputs"](low=0.7, high=0.3, source="t")


def test_fp16_over_fp8_factor_is_horowitz_closed_form():
    """The table's fp16 MAC (1.1 pJ multiply + 0.4 pJ add, Horowitz ISSCC 2014) over its fp8 MAC
    (multiply by the power law through the fp16 and fp32 points, 1.1 and 3.7 pJ, at a quarter of
    the fp16 mantissa-product area; fp16 add): the study's MAC-arithmetic factor."""
    run = _validation()
    cfg = run["TrainingChip"](
        hw="lnpu", gemm=(64, 64, 64),
        published=[run["PublishedEfficiency"](precision="fp8", tflops_per_w=25.3, source="t"),
                   run["PublishedEfficiency"](precision="fp16", tflops_per_w=14.4, source="t")],
        fp16_over_fp8_energy=run["PublishedFactor"](value=4.0, source="t"))
    rows = run["training_chip_rows"](cfg)
    [factor] = run["training_chip_factor_rows"](cfg, rows)
    p = math.log(3.7 / 1.1) / math.log(4)
    assert factor["ours_mac_only"] == pytest.approx(1.5 / (1.1 * 0.25 ** p + 0.4))
    by = {r["precision"]: r for r in rows}
    assert factor["ours_on_chip"] == pytest.approx(
        by["fp8"]["ours_on_chip_tflops_per_w"] / by["fp16"]["ours_on_chip_tflops_per_w"])
    assert factor["published"] == 4.0


def test_factor_rows_need_both_precisions():
    run = _validation()
    cfg = run["TrainingChip"](
        hw="lnpu", gemm=(64, 64, 64),
        published=[run["PublishedEfficiency"](precision="fp8", tflops_per_w=25.3, source="t")],
        fp16_over_fp8_energy=run["PublishedFactor"](value=4.0, source="t"))
    assert run["training_chip_factor_rows"](cfg, run["training_chip_rows"](cfg)) == []
