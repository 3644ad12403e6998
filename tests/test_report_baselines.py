"""The run report's several-baselines view and energy per iteration over training, against the
run JSON they were built from (numbers recomputed here from the JSON's policy summaries).

`make_baseline_report` is shared with test_report_browser.py.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from rctsim.report import build_run_report, figure_specs, page_manifest
from rctsim.trace import write_trace
from tests.test_report import ITERATIONS, PJ, RCT_BITS, _cli, metric_trace

BASELINES = ("qat", "fp32", "mixed-bf16")
"""The baselines of the test run, in the order given."""
EXPECTED = {
    "gemm_arith": lambda s: s["energy_pj"]["gemm_arith"] * PJ,
    "gemm_datapath": lambda s: s["energy_pj"]["gemm_datapath"] * PJ,
    "param_memory": lambda s: s["memory_bytes"]["param_total"],
    "param_memory_with_optimizer": lambda s: (s["memory_bytes"]["param_total"]
                                              + s["memory_bytes"]["optimizer"]),
    "param_movement": lambda s: s["energy_pj"]["param_movement"] * PJ,
    "dram_traffic": lambda s: s["traffic_bytes"]["dram_read"] + s["traffic_bytes"]["dram_write"],
    "total_energy": lambda s: (s["energy_pj"]["mac"] + s["energy_pj"]["sram"]
                               + s["energy_pj"]["dram"] + s["energy_pj"]["leakage"]) * PJ,
    "latency": lambda s: s["seconds"],
}
"""Each headline metric from a policy summary, written out from docs/run-json.md's definitions
(parameter memory with optimiser state = param_total + optimizer; DRAM traffic = reads +
writes; total = mac + sram + dram + leakage), not read through the report's own table."""
SAVING_KEY = {"gemm_arith": "gemm_arith_energy", "gemm_datapath": "gemm_datapath_energy",
              "param_memory": "param_memory",
              "param_memory_with_optimizer": "param_memory_with_optimizer",
              "param_movement": "param_movement_energy", "dram_traffic": "dram_traffic",
              "total_energy": "total_energy", "latency": "latency"}
"""The comparison's saving of each metric (docs/run-json.md)."""


@dataclass(frozen=True)
class BaselineReport:
    """A run of the test trace against three baselines, its JSON and its report."""

    trace: Path
    run_json: Path
    run_html: Path


def make_baseline_report(folder: Path) -> BaselineReport:
    """`rctsim run --baseline qat,fp32,mixed-bf16 --json --html` on the two-phase RCT trace."""
    files = BaselineReport(trace=folder / "rct.trace", run_json=folder / "many.json",
                           run_html=folder / "many.html")
    write_trace(metric_trace("rct", RCT_BITS), files.trace)
    _cli(["run", "--hw", "edge_npu", "--trace", str(files.trace), "--baseline",
          ",".join(BASELINES), "--json", str(files.run_json), "--html", str(files.run_html)])
    return files


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> BaselineReport:
    return make_baseline_report(tmp_path_factory.mktemp("baselines"))


@pytest.fixture(scope="module")
def run(many) -> dict:
    return json.loads(many.run_json.read_text())


@pytest.fixture(scope="module")
def specs(many) -> dict[str, dict]:
    return figure_specs(many.run_html.read_text())


def _panels(spec: dict) -> dict[str, dict[str, float]]:
    """metric -> policy -> bar height, from the small multiples."""
    out: dict[str, dict[str, float]] = {}
    for trace in spec["data"]:
        (label,), (value,) = trace["x"], trace["y"]
        assert label == trace["name"]
        out.setdefault(trace["meta"], {})[label] = value
    return out


def test_three_baselines_show_three(specs, run):
    """Every panel has the trace's policy and the three baselines, in the order given."""
    assert list(run["comparisons"]) == list(BASELINES)
    panels = _panels(specs["fig-baselines"])
    assert list(panels) == list(EXPECTED)
    for bars in panels.values():
        assert list(bars) == ["rct", *BASELINES]
    curves = [t["meta"] for t in specs["fig-iteration-saving"]["data"]]
    assert curves == list(BASELINES)


def test_baseline_bars_and_table_are_the_json_numbers(many, specs, run):
    """Bar heights and table cells equal the metrics recomputed from each policy summary; each
    table saving is 1 - ours/baseline and equals the JSON's comparison."""
    panels = _panels(specs["fig-baselines"])
    html = many.run_html.read_text()
    cells = {(m, p): float(v) for m, p, v in re.findall(
        r'data-metric="([^"]+)" data-policy="([^"]+)" data-value="([^"]+)"', html)}
    savings = {(m, b): float(v) for m, b, v in re.findall(
        r'data-metric="([^"]+)" data-saving="([^"]+)" data-value="([^"]+)"', html)}
    for metric, value_of in EXPECTED.items():
        ours = value_of(run["policies"]["rct"])
        for label in ("rct", *BASELINES):
            expect = value_of(run["policies"][label])
            assert panels[metric][label] == pytest.approx(expect, rel=1e-9), (metric, label)
            assert cells[(metric, label)] == pytest.approx(expect, rel=1e-9), (metric, label)
        for base in BASELINES:
            expect = 1 - ours / value_of(run["policies"][base])
            assert savings[(metric, base)] == pytest.approx(expect, rel=1e-9, abs=1e-12)
            assert run["comparisons"][base]["savings"][SAVING_KEY[metric]] == pytest.approx(
                expect, rel=1e-9, abs=1e-12)
    layout = specs["fig-baselines"]["layout"]
    titles = [a["text"] for a in layout["annotations"]]
    assert "total energy (J)" in titles and "latency (s)" in titles
    axis_titles = {layout[k]["title"]["text"] for k in layout if k.startswith("yaxis")}
    assert axis_titles == {"energy (J)", "bytes", "seconds"}


def test_saving_over_training_follows_the_phases(specs, run):
    """RCT's bits change at iteration 40 and each counterfactual baseline has one phase: the
    saving is 1 - rct/baseline on [0, 40) and on [40, 100), each from the phase energies."""
    rct = run["policies"]["rct"]["phase_energy"]
    assert [(p["start"], p["stop"]) for p in rct] == [(0, 40), (40, ITERATIONS)]
    lines = {t["meta"]: t for t in specs["fig-iteration-saving"]["data"]}
    for base in BASELINES:
        (only,) = run["policies"][base]["phase_energy"]
        rate = only["energy_pj_per_iteration"]
        first, second = (1 - p["energy_pj_per_iteration"] / rate for p in rct)
        assert lines[base]["x"] == [0, 40, 40, ITERATIONS]
        assert lines[base]["y"] == pytest.approx([first, first, second, second], rel=1e-12)
    # the per-iteration saving moves with the bits
    assert lines["qat"]["y"][0] != pytest.approx(lines["qat"]["y"][2], rel=1e-6)


def test_iteration_components_are_the_breakdown_per_iteration(specs, run):
    """Each stacked bar is a component's energy over the run / iterations; a policy's stack is
    its mean energy per iteration, the phase energies weighted by their lengths."""
    stacks: dict[str, float] = {}
    for trace in specs["fig-iteration-components"]["data"]:
        for label, key, value in zip(trace["x"], trace["customdata"], trace["y"], strict=True):
            summary = run["policies"][label]
            expect = summary["breakdown_energy_pj"]["component"].get(key, 0.0) * PJ / ITERATIONS
            assert value == pytest.approx(expect, rel=1e-12)
            stacks[label] = stacks.get(label, 0.0) + value
    assert set(stacks) == {"rct", *BASELINES}
    for label, total in stacks.items():
        phases = run["policies"][label]["phase_energy"]
        mean = sum(p["energy_pj_per_iteration"] * (p["stop"] - p["start"]) for p in phases)
        assert total == pytest.approx(mean * PJ / ITERATIONS, rel=1e-9)


def test_cards_compare_with_the_first_and_inputs_name_every_baseline(many):
    html = many.run_html.read_text()
    head = html[html.index("<h1>"): html.index('class="cards"')]
    assert "qat (counterfactual baseline), fp32 (counterfactual baseline), mixed-bf16" in head
    assert "(baseline (" not in html  # the role reads once, not nested
    assert "<h2>rct against qat</h2>" in head


def _as_version_1(run: dict) -> dict:
    """The run as rctsim wrote version 1: one `comparison`, no `comparisons`, none of the
    fields version 2 added (docs/run-json.md "Version 1")."""
    old = copy.deepcopy(run)
    old["schema_version"] = 1
    old.pop("comparisons")
    old.pop("area_mm2", None)
    for summary in old["policies"].values():
        for key in ("gemm_arith", "gemm_datapath", "non_gemm"):
            summary["energy_pj"].pop(key)
        summary["memory_bytes"].pop("params_with_optimizer")
    for key in ("gemm_arith_energy", "gemm_datapath_energy", "param_memory_with_optimizer"):
        old["comparison"]["savings"].pop(key)
    return old


def test_version_1_run_json_shows_its_one_baseline(run, many):
    """A version-1 run JSON renders: one baseline, GEMM energy from `gemm`, the metrics it
    lacks left out with a note."""
    old = _as_version_1(run)
    html = build_run_report(old, trace=many.trace)
    manifest = page_manifest(html)
    assert "fig-baselines" in manifest["figures"]
    panels = _panels(figure_specs(html)["fig-baselines"])
    assert list(panels) == ["gemm_arith", "param_memory", "param_movement", "dram_traffic",
                            "total_energy", "latency"]
    for bars in panels.values():
        assert list(bars) == ["rct", "qat"]
    assert panels["gemm_arith"]["qat"] == pytest.approx(
        run["policies"]["qat"]["energy_pj"]["gemm"] * PJ, rel=1e-12)
    assert [t["meta"] for t in figure_specs(html)["fig-iteration-saving"]["data"]] == ["qat"]
    assert any("GEMM energy, datapath" in n and "version 1" in n for n in manifest["notes"])


def test_no_baseline_leaves_the_view_out(run, many):
    """A run without a baseline has no several-baselines figure and no saving over training."""
    alone = copy.deepcopy(run)
    alone["policies"] = {"rct": alone["policies"]["rct"]}
    alone["comparison"], alone["comparisons"] = {}, {}
    figures = page_manifest(build_run_report(alone, trace=many.trace))["figures"]
    assert "fig-baselines" not in figures and "fig-iteration-saving" not in figures
    assert "fig-iteration-components" in figures


def test_saving_segments_cut_at_both_series_edges():
    """A baseline with other phase edges and a shorter run (a real baseline trace): one segment
    per interval between the two series' edges, none beyond either run (hand count)."""
    from rctsim.report.baseline_figures import saving_segments

    ours = [{"start": 0, "stop": 10, "energy_pj_per_iteration": 5.0},
            {"start": 10, "stop": 30, "energy_pj_per_iteration": 4.0}]
    base = [{"start": 0, "stop": 5, "energy_pj_per_iteration": 10.0},
            {"start": 5, "stop": 25, "energy_pj_per_iteration": 8.0}]
    assert saving_segments(ours, base) == [(0, 5, 0.5), (5, 10, 1 - 5 / 8), (10, 25, 0.5)]
