"""studies/rct_vs_qat/claim_ranges: the committed page is what its rows render to, the papers'
settings are marked where stated, and the default rows are a plain run's savings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from rctsim.replay import simulate

STUDY = Path(__file__).resolve().parents[1] / "studies" / "rct_vs_qat"


@pytest.fixture(scope="module")
def mod():
    if str(STUDY) not in sys.path:
        sys.path.insert(0, str(STUDY))
    name = "study_rct_vs_qat_claim_ranges"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, STUDY / "claim_ranges.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def rows(mod):
    return mod.read_csv(STUDY / mod.CSV_NAME)


def test_the_page_is_rendered_from_the_rows(mod, rows):
    assert (STUDY / mod.MD_NAME).read_text(encoding="utf-8") == mod.render(rows)


def test_paper_settings_are_marked_exactly_where_stated(mod, rows):
    for r in rows:
        paper = mod.PAPER_SETTINGS.get(r["assumption"], (None,))[0]
        assert r["paper_setting"] == (r["setting"] == paper)
    assert {r["assumption"] for r in rows if r["paper_setting"]} == set(mod.PAPER_SETTINGS)


def test_default_rows_are_a_plain_runs_savings(rows):
    savings = simulate("edge_npu", "resnet", baseline="qat").comparison["savings"]
    claim_metric = {"gemm": "gemm_energy", "param_mem_arxiv": "param_memory",
                    "param_move": "param_movement_energy"}
    for r in rows:
        if (r["model"], r["hardware"], r["baseline"]) == ("image", "edge_npu", "qat") \
                and r["is_default"] and r["claim"] in claim_metric:
            assert r["value"] == pytest.approx(savings[claim_metric[r["claim"]]], rel=1e-12)
