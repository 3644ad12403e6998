"""HTML reports without a browser: the page's figure JSON against the result it was built from.

The builders at the top (`ReportFiles`, `make_reports`) are shared with test_report_browser.py.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import rctsim
from rctsim.cli import main
from rctsim.errors import InputError
from rctsim.report import (
    RUN_FIGURES,
    build_run_report,
    figure_specs,
    page_manifest,
    read_run_json,
)
from rctsim.report.run_figures import PEAK_BARS
from rctsim.report.sweep_report import SWEEP_FIGURES, read_store_rows
from rctsim.trace import load_trace, write_trace
from rctsim.trace.model import PolicySpec, Series, Trace, TraceHeader
from tests.helpers import mlp_layers

ITERATIONS = 100
ACC_AT = np.array([19, 39, 59, 79, 99])
"""Iterations at which the test traces measured `eval_acc`."""
ACC = np.array([0.3, 0.5, 0.6, 0.7, 0.75])
PJ = 1e-12


def metric_trace(policy: str, bits: list[tuple[int, int, int, int]], *,
                 iterations: int = ITERATIONS, acc: np.ndarray = ACC) -> Trace:
    """An MLP trace with phases starting at 0 and 40 and an `eval_acc` series."""
    layers = mlp_layers()
    starts = [0, 40][: len(bits)]
    phase_bits = np.array([[b] * len(layers) for b in bits], dtype=np.uint8)
    header = TraceHeader(producer="tests", producer_version="0", model="mlp", dataset="none",
                         policy=PolicySpec(name=policy), batch_size=16, seed=0,
                         iterations=iterations)
    keep = ACC_AT < iterations
    return Trace.build(header=header, layers=layers, phase_start=np.array(starts),
                       phase_bits=phase_bits,
                       metrics={"eval_acc": Series(ACC_AT[keep], acc[keep]),
                                "loss": Series(np.arange(iterations),
                                               np.linspace(2.0, 0.5, iterations))})


RCT_BITS = [(8, 8, 8, 32), (6, 8, 8, 32)]
"""Two phases: the weights drop from 8 to 6 bits at iteration 40."""


@dataclass(frozen=True)
class ReportFiles:
    """Inputs and reports made once per test module."""

    trace: Path
    run_json: Path
    run_html: Path
    """Written by `rctsim run --html`."""
    saved_html: Path
    """Written by `rctsim report RUN.json`."""
    store: Path
    sweep_html: Path


def make_reports(folder: Path) -> ReportFiles:
    """Run, report and sweep through the command line, into `folder`."""
    trace, qat = folder / "rct.trace", folder / "qat.trace"
    write_trace(metric_trace("rct", RCT_BITS), trace)
    write_trace(metric_trace("qat", [(8, 8, 32, 32)], acc=ACC - 0.02), qat)
    files = ReportFiles(trace=trace, run_json=folder / "run.json",
                        run_html=folder / "run.html", saved_html=folder / "saved.html",
                        store=folder / "sweep.db", sweep_html=folder / "sweep.html")
    _cli(["run", "--hw", "edge_npu", "--trace", str(trace), "--json", str(files.run_json),
          "--html", str(files.run_html)])
    _cli(["report", str(files.run_json), "-o", str(files.saved_html)])
    _cli(["sweep", "--trace", str(trace), "--trace", str(qat), "--sram-kb", "2,4,8,16",
          "--dataflow", "ws,os", "--workers", "1", "--store", str(files.store), "--quiet",
          "--objective", "energy", "--objective", "sram"])
    _cli(["report", str(files.store), "-o", str(files.sweep_html), "--objective", "energy",
          "--objective", "sram"])
    return files


def _cli(argv: list[str]) -> None:
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code in (0, None), f"rctsim {' '.join(argv)} exited {exc.code}"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> ReportFiles:
    """The module's reports."""
    return make_reports(tmp_path_factory.mktemp("reports"))


@pytest.fixture(scope="module")
def run(files) -> dict:
    """The run JSON."""
    return json.loads(files.run_json.read_text())


@pytest.fixture(scope="module")
def specs(files) -> dict[str, dict]:
    """Figure JSON of the run report written by `rctsim run --html`."""
    return figure_specs(files.run_html.read_text())


def _by_name(spec: dict) -> dict[str, dict]:
    return {t["name"]: t for t in spec["data"]}


# ------------------------------------------------------------------------------- the run page


def test_run_page_has_every_figure_and_is_self_contained(files):
    """All six figures; plotly.js inline once; nothing loaded from elsewhere."""
    html = files.run_html.read_text()
    assert page_manifest(html)["figures"] == list(RUN_FIGURES)
    assert html.count("<script>") == 2  # plotly.js, then the drawing script
    assert html.count('"use strict";var Plotly=') == 1
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html)
    assert not [t for t in tags if re.search(r"\b(src|href)=\"(?!data:)", t)]


def test_inputs_stated_on_top(files, run):
    """Hardware and trace names with their sha256, and the versions, precede the figures."""
    html = files.run_html.read_text()
    head = html[html.index("<h1>"): html.index('class="cards"')]
    for text in (run["hardware"]["name"], run["hardware"]["sha256"], run["trace"]["sha256"],
                 str(files.trace), run["producer"], "12x14 array (ws) @ 200 MHz"):
        assert text in head
    assert page_manifest(html)["versions"]["rctsim"] == rctsim.__version__


def test_cards_are_the_run_numbers_and_savings(files, run):
    """Each card's numbers are the run's, and its saving is 1 - ours / baseline."""
    html = files.run_html.read_text()
    cards = {m: (float(o), float(b)) for m, o, b in re.findall(
        r'data-metric="([^"]+)" data-ours="([^"]+)" data-base="([^"]+)"', html)}
    ours, base = run["policies"]["rct"], run["policies"]["qat"]
    expect = {"GEMM energy": ("energy_pj", "gemm"), "Peak memory": ("memory_bytes", "peak_total"),
              "DRAM traffic": ("traffic_bytes", "dram_total"),
              "Parameter memory": ("memory_bytes", "param_total"),
              "Parameter movement energy": ("energy_pj", "param_movement"),
              "Total energy": ("energy_pj", "total")}
    for title, (group, key) in expect.items():
        assert cards[title] == (ours[group][key], base[group][key])
    assert cards["Latency"] == (ours["seconds"], base["seconds"])
    gemm = 1 - ours["energy_pj"]["gemm"] / base["energy_pj"]["gemm"]
    assert run["comparison"]["savings"]["gemm_energy"] == pytest.approx(gemm)
    assert f"{100 * gemm:.1f} % less" in html


def test_energy_by_layer_sums_to_total(specs, run):
    """Bars are the layer breakdown in J, and each policy's bars add up to its total energy."""
    for label, trace in _by_name(specs["fig-energy-layer"]).items():
        summary = run["policies"][label]
        by_layer = summary["breakdown_energy_pj"]["layer"]
        assert trace["x"][:3] == ["fc0", "fc1", "fc2"] and trace["x"][-1] == "*"
        assert trace["y"] == pytest.approx([by_layer.get(x, 0.0) * PJ for x in trace["x"]],
                                           rel=1e-12)
        assert sum(trace["y"]) == pytest.approx(summary["energy_pj"]["total"] * PJ, rel=1e-9)


def test_breakdown_panels_each_sum_to_total(specs, run):
    """The op, component and tensor panels each split the same total energy; the non-GEMM kind
    panel splits `energy_pj.non_gemm.total`."""
    totals: dict[tuple[str, str], float] = {}
    for trace in specs["fig-energy-breakdown"]["data"]:
        for label, value, key in zip(trace["x"], trace["y"], trace["customdata"], strict=True):
            summary = run["policies"][label]
            source = (summary["energy_pj"]["non_gemm"]["parts"]
                      if trace["meta"] == "non-GEMM kind"
                      else summary["breakdown_energy_pj"][trace["meta"]])
            assert value == pytest.approx(source.get(key, 0.0) * PJ, rel=1e-12)
            totals[(trace["meta"], label)] = totals.get((trace["meta"], label), 0.0) + value
    assert len(totals) == 4 * len(run["policies"])
    for (by, label), total in totals.items():
        energy = run["policies"][label]["energy_pj"]
        whole = energy["non_gemm"]["total"] if by == "non-GEMM kind" else energy["total"]
        assert total == pytest.approx(whole * PJ, rel=1e-9)


def test_bits_heatmap_is_the_trace_schedule(specs):
    """Phase edges on x; w bits per layer and phase: fc* at 8 then 6 from iteration 40."""
    heat = _by_name(specs["fig-bits"])
    assert heat["w"]["x"] == [0, 40, ITERATIONS]
    assert heat["w"]["z"] == [[8, 6]] * 3
    assert heat["g"]["z"] == [[8, 8]] * 3
    assert heat["w"]["visible"] is True and heat["a"]["visible"] is False


def test_memory_figure_is_the_footprint(files, specs, run):
    """Parts are memory_bytes; off chip = peak total - peak on chip, floored at 0 with a note."""
    parts, peaks = {}, {}
    for trace in specs["fig-memory"]["data"]:
        target = peaks if trace["x"][0] == "on chip" else parts
        keys = trace["customdata"] if target is parts else trace["x"]
        target[trace["name"]] = dict(zip(keys, trace["y"], strict=True))
    for label, summary in run["policies"].items():
        memory = summary["memory_bytes"]
        assert parts[label] == {k: memory[k] for k in parts[label]}
        assert peaks[label]["on chip"] == memory["peak_on_chip"]
        assert peaks[label]["total"] == memory["peak_total"]
        assert peaks[label]["off chip"] == max(memory["peak_total"] - memory["peak_on_chip"], 0)
    assert parts["qat"]["master_copy"] > 0 == parts["rct"]["master_copy"]
    buffer = [v for k, v in peaks.items() if k.startswith("global buffer")]
    assert buffer == [dict.fromkeys(PEAK_BARS, 110592)]  # edge_npu.yaml: 108 KB
    odd = [p for p, s in run["policies"].items()
           if s["memory_bytes"]["peak_on_chip"] > s["memory_bytes"]["peak_total"]]
    assert ("peak on chip exceeds its peak total" in files.run_html.read_text()) == bool(odd)


def test_timeline_bars_are_the_intervals(specs, run):
    """Each bar starts and ends where the simulated interval does."""
    for label, summary in run["policies"].items():
        bars = [(lane, base, base + width, cd[0])
                for t in specs["fig-timeline"]["data"] if t["meta"] == label
                for lane, base, width, cd in zip(t["y"], t["base"], t["x"], t["customdata"],
                                                 strict=True)]
        want = sorted((iv["lane"], iv["start"], iv["end"], iv["label"])
                      for iv in summary["timeline"])
        assert len(want) > 0 and len(bars) == len(want)
        for got, expected in zip(sorted(bars), want, strict=True):
            assert got == (expected[0], expected[1], pytest.approx(expected[2]), expected[3])


def test_cumulative_energy_matches_a_shorter_run(specs, run, tmp_path):
    """Energy at a measurement equals a run stopped there, for QAT (one phase) and for RCT (its
    bits change at iteration 40, before the measurement at 59); the end point is the total."""
    curves = {t["meta"]: t for t in specs["fig-energy-accuracy"]["data"]}
    assert curves["rct"]["y"] == pytest.approx(ACC.tolist())
    assert curves["qat"]["y"] == pytest.approx(ACC.tolist())
    assert curves["qat"]["line"]["dash"] == "dash"
    short = rctsim.simulate("edge_npu", metric_trace("rct", RCT_BITS, iterations=60))
    assert curves["qat"]["x"][2] == pytest.approx(
        short.policies["qat"].energy_pj["total"] * PJ, rel=1e-9)
    assert curves["rct"]["x"][2] == pytest.approx(
        short.policies["rct"].energy_pj["total"] * PJ, rel=1e-9)
    assert curves["rct"]["x"][-1] == pytest.approx(
        run["policies"]["rct"]["energy_pj"]["total"] * PJ, rel=1e-12)


def test_mean_rate_note_only_without_phase_energies(files, run):
    """A run JSON with per-phase energies is exact (no note); one without them (an older JSON)
    falls back to the mean rate for a policy whose bits change, and says so."""
    assert "mean energy per iteration" not in files.run_html.read_text()
    trace = load_trace(files.trace)
    old = json.loads(json.dumps(run))
    for summary in old["policies"].values():
        del summary["phase_energy"]
    html = build_run_report(old, trace=trace)
    assert "mean energy per iteration" in html
    assert "fig-energy-accuracy" in page_manifest(html)["figures"]


def test_saved_json_report_equals_in_process_report(files):
    """`rctsim report RUN.json` draws the same numbers as `rctsim run --html`."""
    assert figure_specs(files.saved_html.read_text()) == figure_specs(
        files.run_html.read_text())


def test_missing_or_changed_trace_leaves_figures_out_with_a_note(files, run, tmp_path):
    """Unresolvable name: note, no trace figures; a different file at that name: note."""
    gone = json.loads(json.dumps(run))
    gone["trace"]["name"] = str(tmp_path / "nowhere.trace")
    html = build_run_report(gone)
    figures = page_manifest(html)["figures"]
    assert "fig-bits" not in figures and "fig-energy-accuracy" not in figures
    assert "fig-timeline" in figures and "not found" in html
    other = tmp_path / "other.trace"
    write_trace(metric_trace("rct", [(4, 8, 8, 32)]), other)
    gone["trace"]["name"] = str(other)
    html = build_run_report(gone)
    assert "differs from the one the run was made from" in html
    assert "fig-bits" not in page_manifest(html)["figures"]
    with pytest.raises(InputError, match="sha256"):
        build_run_report(run, trace=other)


def test_real_baseline_trace_gets_its_own_curve(files, tmp_path):
    """A baseline run from a trace: its accuracy curve appears once its file is given."""
    qat = tmp_path / "qat.trace"
    write_trace(metric_trace("qat", [(8, 8, 32, 32)], acc=ACC - 0.1), qat)
    result = rctsim.simulate("edge_npu", str(files.trace), baseline=str(qat))
    without = build_run_report(result)
    assert "--baseline-trace" in without
    assert {t["meta"] for t in figure_specs(without)["fig-energy-accuracy"]["data"]} == {"rct"}
    with_base = figure_specs(build_run_report(result, baseline_trace=qat))
    curves = {t["meta"]: t for t in with_base["fig-energy-accuracy"]["data"]}
    assert curves["qat"]["y"] == pytest.approx((ACC - 0.1).tolist())
    assert curves["qat"]["line"]["dash"] == "solid"


@pytest.mark.parametrize("text, field", [
    ("{not json", "line 1"),
    ('{"schema_version": 3, "hardware": {}, "trace": {}, "policies": {}, "comparison": {}}',
     "schema_version"),
    ('{"schema_version": 1}', "hardware"),
])
def test_bad_run_json_is_one_input_error(tmp_path, capsys, text, field):
    """A broken or foreign JSON: InputError naming the field; the CLI exits 2."""
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    with pytest.raises(InputError, match=field):
        read_run_json(bad)
    with pytest.raises(SystemExit) as exc:
        main(["report", str(bad), "-o", str(tmp_path / "x.html")])
    assert exc.value.code == 2
    assert field in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


# ----------------------------------------------------------------------------- the sweep page


def _store_rows(path: Path) -> list[dict]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM points WHERE status = 'ok'")]


def _front_by_brute_force(rows: list[dict], columns: tuple[str, ...]) -> set[str]:
    def dominates(a, b):
        return all(a[c] <= b[c] for c in columns) and any(a[c] < b[c] for c in columns)
    return {r["key"] for r in rows if not any(dominates(o, r) for o in rows)}


def test_sweep_front_is_the_non_dominated_points(files):
    """Front markers are exactly the points no other point beats in energy and SRAM."""
    html = files.sweep_html.read_text()
    assert page_manifest(html)["figures"] == list(SWEEP_FIGURES)
    rows = _store_rows(files.store)
    by_key = {r["key"]: r for r in rows}
    plotted = {}
    for trace in figure_specs(html)["fig-pareto"]["data"]:
        for key, x, y in zip(trace["customdata"], trace["x"], trace["y"], strict=True):
            plotted[key] = trace["name"]
            assert (x, y) == (pytest.approx(by_key[key]["energy_pj"] * PJ),
                              by_key[key]["sram_bytes"])
    assert set(plotted) == set(by_key)
    front = {k for k, name in plotted.items() if name.startswith("front")}
    assert front == _front_by_brute_force(rows, ("energy_pj", "sram_bytes"))
    assert 1 < len(front) < len(rows)


def test_sweep_hover_names_every_parameter(files):
    """Each point's hover text carries its axis values, trace and hardware fields."""
    rows = {r["key"]: r for r in _store_rows(files.store)}
    for trace in figure_specs(files.sweep_html.read_text())["fig-pareto"]["data"]:
        for key, text in zip(trace["customdata"], trace["hovertext"], strict=True):
            params = json.loads(rows[key]["params"])
            for name, value in params.items():
                assert f"{name}: {value}" in text
            for column in ("trace_name", "policy", "dataflow", "sram_bytes", "hw_name"):
                assert f"{column}: {rows[key][column]}" in text


def test_sweep_parallel_and_sram_figures_are_the_rows(files):
    """Parallel axes hold every point's values; the SRAM line is the lowest energy per size."""
    rows = read_store_rows(files.store)
    specs = figure_specs(files.sweep_html.read_text())
    dims = {d["label"]: d for d in specs["fig-parallel"]["data"][0]["dimensions"]}
    assert dims["total energy (J)"]["values"] == pytest.approx(
        [r["energy_pj"] * PJ for r in rows])
    assert dims["global buffer (KB)"]["values"] == [r["params"]["sram_kb"] for r in rows]
    assert {"dataflow", "policy", "trace", "on front"} <= set(dims)
    for trace in specs["fig-energy-sram"]["data"]:
        if trace["mode"] != "lines":
            continue
        mine = [r for r in rows if trace["name"] == f"{r['trace_name']} (best per size)"]
        sizes = sorted({r["sram_bytes"] for r in mine})
        assert trace["x"] == sizes
        assert trace["y"] == pytest.approx(
            [min(r["energy_pj"] for r in mine if r["sram_bytes"] == s) * PJ for s in sizes])


def test_foreign_sqlite_file_is_refused_untouched(tmp_path, capsys):
    """An SQLite file that is not a sweep store: exit 2, and the file is not modified."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    before = other.read_bytes()
    with pytest.raises(SystemExit) as exc:
        main(["report", str(other), "-o", str(tmp_path / "x.html")])
    assert exc.value.code == 2 and "not a sweep store" in capsys.readouterr().err
    assert other.read_bytes() == before


def test_live_sweep_rows_report_like_the_store(files, tmp_path):
    """Rows of a running sweep (`sweep_table`, axes as columns, as `rctsim sweep --html` passes
    them) give the same front and the same parameters on hover as the saved store."""
    from rctsim.report.sweep_report import sweep_report_html
    from rctsim.sweep import (
        LocalExecutor,
        SweepStore,
        TraceCache,
        parse_sweep_config,
        plan_sweep,
        run_sweep,
        sweep_table,
    )

    traces = [str(files.trace), str(files.trace.with_name("qat.trace"))]
    config = parse_sweep_config("test", {
        "name": "live", "hardware": {"base": "edge_npu",
                                     "axes": {"sram_kb": [2, 4, 8, 16], "dataflow": ["ws", "os"]}},
        "policies": {"traces": traces}, "objectives": ["energy", "sram"]})
    plan = plan_sweep(config, source="test", base_dir=tmp_path)
    executor = LocalExecutor(1)
    try:
        with SweepStore(files.store) as store:  # every point is already there
            outcome = run_sweep(plan, store=store, executor=executor,
                                cache=TraceCache(tmp_path / "cache"))
            rows = sweep_table(plan, outcome.points, store)
    finally:
        executor.close()
    live = figure_specs(sweep_report_html(rows, objectives=plan.objectives, name=plan.name,
                                          source="test", axes=plan.axes))["fig-pareto"]
    saved = figure_specs(files.sweep_html.read_text())["fig-pareto"]

    def hover_by_key(spec):
        return {k: set(h.split("<br>")[1:]) for t in spec["data"]
                for k, h in zip(t["customdata"], t["hovertext"], strict=True)}

    def front(spec):
        return {k for t in spec["data"] if t["name"].startswith("front")
                for k in t["customdata"]}

    assert front(live) == front(saved)
    assert hover_by_key(live) == hover_by_key(saved)


def test_run_html_into_a_missing_folder_is_refused(files, tmp_path, capsys):
    """`rctsim run --html` into a folder that does not exist: exit 2 before simulating."""
    with pytest.raises(SystemExit) as exc:
        main(["run", "--trace", str(files.trace), "--html", str(tmp_path / "no" / "r.html")])
    assert exc.value.code == 2 and "--html" in capsys.readouterr().err


# ------------------------------------------------------------------ new run figures, legibility

def test_energy_per_iteration_figure_is_the_phase_energy(specs, run):
    """Each policy's line steps through its phases at the energy of one of their iterations."""
    lines = _by_name(specs["fig-energy-iteration"])
    assert set(lines) == set(run["policies"])
    for label, summary in run["policies"].items():
        phases = summary["phase_energy"]
        assert lines[label]["x"] == [v for p in phases for v in (p["start"], p["stop"])]
        assert lines[label]["y"] == pytest.approx(
            [p["energy_pj_per_iteration"] * PJ for p in phases for _ in (0, 1)], rel=1e-12)
    # the rct trace changes bits at iteration 40: two phases of different energy
    rct = run["policies"]["rct"]["phase_energy"]
    assert [p["start"] for p in rct] == [0, 40] and rct[0] != rct[1]


def test_layer_component_bars_add_up_to_each_layer(specs, run):
    """Stacked component bars of a layer sum to that layer's energy (the layer breakdown)."""
    sums: dict[tuple[str, str], float] = {}
    for trace in specs["fig-layer-components"]["data"]:
        for layer, value in zip(trace["x"], trace["y"], strict=True):
            sums[(trace["meta"], layer)] = sums.get((trace["meta"], layer), 0.0) + value
    for label, summary in run["policies"].items():
        for layer, energy in summary["breakdown_energy_pj"]["layer"].items():
            assert sums[(label, layer)] == pytest.approx(energy * PJ, rel=1e-9)


def test_layer_utilisation_is_the_closed_form(specs, run):
    """Utilisation = 3 M N K MACs / (PEs x the SCALE-Sim compute cycles of the three GEMMs),
    computed here from the layer shapes alone (edge_npu: 12 x 14, ws, one cycle per MAC)."""
    from hwmodels.systolic import compute_cycles

    bars = [t for t in specs["fig-layer-utilisation"]["data"] if t["xaxis"] == "x"]
    layers = {la.name: la for la in mlp_layers()}
    assert {t["name"] for t in bars} == set(run["policies"])
    utils = {t["name"]: dict(zip(t["x"], t["y"], strict=True)) for t in bars}
    for name, util in utils["qat"].items():
        # QAT's fp32 backward GEMMs run on edge_npu's fp32 vector unit, not the array: the
        # array idles through them, so its utilisation is below RCT's (all GEMMs on the array)
        assert 0 < util < utils["rct"][name]
    for trace in [t for t in bars if t["name"] == "rct"]:
        for name, util in zip(trace["x"], trace["y"], strict=True):
            la = layers[name]
            cycles = sum(compute_cycles(m, n, k, 12, 14, "ws") for m, n, k in
                         ((la.m, la.n, la.k), (la.m, la.k, la.n), (la.k, la.n, la.m)))
            assert util == pytest.approx(3 * la.m * la.n * la.k / (12 * 14 * cycles), rel=1e-9)
            assert 0 < util <= 1


def test_one_colour_per_meaning_on_the_run_page(specs):
    """Policies have their own colours in every figure; no category bar uses one of them."""
    from rctsim.report.style import POLICY_COLOUR, POLICY_COLOURS

    for fig in ("fig-energy-layer", "fig-memory", "fig-energy-iteration", "fig-baselines"):
        for trace in specs[fig]["data"]:
            if trace["name"] in POLICY_COLOUR:
                colour = trace.get("marker", {}).get("color") or trace["line"]["color"]
                assert colour == POLICY_COLOUR[trace["name"]]
    for fig in ("fig-energy-breakdown", "fig-layer-components", "fig-timeline",
                "fig-iteration-components"):
        colours = {t["marker"]["color"] for t in specs[fig]["data"]}
        assert colours and not colours & set(POLICY_COLOURS), fig
    # the same op has the same colour in the breakdown and the timeline
    op_colour = {t["name"]: t["marker"]["color"] for t in specs["fig-energy-breakdown"]["data"]
                 if t["meta"] == "op"}
    for trace in specs["fig-timeline"]["data"]:
        assert trace["marker"]["color"] == op_colour[trace["name"]]
    # a component has the same colour per layer and per iteration
    comp_colour = {t["customdata"][0]: t["marker"]["color"]
                   for t in specs["fig-layer-components"]["data"]}
    for trace in specs["fig-iteration-components"]["data"]:
        key = trace["customdata"][0]
        assert comp_colour.get(key, trace["marker"]["color"]) == trace["marker"]["color"]


def test_run_figures_use_readable_names(specs):
    names = [t["name"] for f in specs.values() for t in f["data"]]
    names += [x for t in specs["fig-memory"]["data"] for x in t["x"]]
    assert "workspace (peak)" in names and "fp32 master copy" in names
    assert not [n for n in names if re.fullmatch(r"[a-z]+_[a-z_]+", str(n))]


def test_sweep_figures_colour_by_policy_and_title_axes_in_words(files):
    """Pareto points of every policy, on the front or not, carry that policy's colour; axes are
    titled in words with units; the parallel plot's title holds no colour code."""
    from rctsim.report.style import POLICY_COLOUR

    rows = {r["key"]: r for r in read_store_rows(files.store)}
    specs = figure_specs(files.sweep_html.read_text())
    seen = set()
    for trace in specs["fig-pareto"]["data"]:
        for key in trace["customdata"]:
            policy = rows[key]["policy"]
            assert trace["marker"]["color"] == POLICY_COLOUR[policy]
            seen.add((policy, trace["name"].startswith("front")))
    assert {("qat", False), ("rct", True)} <= seen
    layout = specs["fig-pareto"]["layout"]
    assert (layout["xaxis"]["title"]["text"], layout["yaxis"]["title"]["text"]) == (
        "total energy (J)", "global buffer (B)")
    assert specs["fig-energy-sram"]["layout"]["yaxis"]["title"]["text"] == "total energy (J)"
    assert "#" not in specs["fig-parallel"]["layout"]["title"]["text"]
