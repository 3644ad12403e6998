"""`rctsim sensitivity` and `rctsim report --sensitivity` on a small bundled trace: the JSON,
CSV and HTML they write, their agreement, and one-line refusals of bad input."""

from __future__ import annotations

import csv
import json

import pytest

from rctsim.cli import main
from rctsim.report.page import figure_specs, page_manifest
from rctsim.report.tornado import tornado_figures, tornado_rows
from rctsim.sensitivity_run import CSV_COLUMNS, METRICS, SCHEMA
from tests.helpers import run_main

TRACE = "charlm"
"""The smallest bundled trace (3 layers)."""


_run = run_main


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("sens")
    paths = {k: out / f"s.{k}" for k in ("json", "csv", "html")}
    try:
        main(["sensitivity", "--hw", "edge_npu", "--trace", TRACE, "--baseline", "qat",
              "--json", str(paths["json"]), "--csv", str(paths["csv"]),
              "--html", str(paths["html"])])
    except SystemExit as done:
        assert not done.code
    return paths


def test_json_csv_and_html_agree(written):
    sens = json.loads(written["json"].read_text())
    assert sens["schema"] == SCHEMA and sens["trace"] == TRACE and sens["hw"] == "edge_npu"
    assert {"hw", "trace", "baseline", "default", "assumptions", "rows"} <= set(sens)
    assert len(sens["assumptions"]) >= 8
    assert set(sens["default"]) == set(METRICS)
    with written["csv"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(sens["rows"])
    for a, b in zip(rows, sens["rows"], strict=True):
        assert (a["assumption"], a["setting"], a["metric"]) == (
            b["assumption"], b["setting"], b["metric"])
        assert (float(a["value"]) if a["value"] else None) == b["value"]
        assert (a["is_default"] == "true") == b["is_default"]
    html = written["html"].read_text()
    specs = figure_specs(html)
    assert page_manifest(html)["kind"] == "sensitivity"
    assert set(specs) == {f"fig-tornado-{m}" for m in METRICS}
    assert "<script src=" not in html and "<link rel=\"stylesheet\"" not in html  # inline


def test_tornado_bars_span_each_assumptions_range(written):
    """Read back from the page: for each assumption, base + x of the two bars are the lowest
    and highest saving over its settings in the JSON (in %), the base is the default."""
    sens = json.loads(written["json"].read_text())
    specs = figure_specs(written["html"].read_text())
    for metric in METRICS:
        low, high = specs[f"fig-tornado-{metric}"]["data"][:2]
        for i, name in enumerate(low["y"]):
            values = [r["value"] for r in sens["rows"]
                      if r["assumption"] == name and r["metric"] == metric]
            assert low["base"][i] == pytest.approx(100 * sens["default"][metric])
            assert low["base"][i] + low["x"][i] == pytest.approx(100 * min(values))
            assert high["base"][i] + high["x"][i] == pytest.approx(100 * max(values))
        spans = [r["span"] for r in tornado_rows(sens, metric)]
        assert spans == sorted(spans, reverse=True)
    assert set(tornado_figures(sens)) == set(METRICS)


def test_report_appends_the_tornado_section(written, tmp_path, capsys):
    run_json, page = tmp_path / "run.json", tmp_path / "run.html"
    code, _ = _run(["run", "--hw", "edge_npu", "--trace", TRACE, "--json", str(run_json)],
                   capsys)
    assert code == 0
    code, out = _run(["report", str(run_json), "--sensitivity", str(written["json"]),
                      "-o", str(page)], capsys)
    assert code == 0, out.err
    html = page.read_text()
    ids = page_manifest(html)["figures"]
    tornado = [f"fig-tornado-{m}" for m in METRICS]
    assert ids[-len(tornado):] == tornado and "fig-energy-layer" in ids
    assert set(tornado) <= set(figure_specs(html))
    assert "Sensitivity: rct against qat" in html


@pytest.mark.parametrize("argv, needle", [
    (["--assumption", "nope"], "unknown assumption 'nope'"),
    (["--assumption", "packing=zip"], "packing=zip"),
    (["--assumption", "sram_energy_scale=x"], "sram_energy_scale=x"),
    (["--assumption", "first_layer_dgrad=maybe"], "first_layer_dgrad=maybe"),
    (["--baseline", "qat,fp32"], "one named baseline"),
    (["--baseline", "qat:w_q=99"], "w_q=99"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, needle):
    out = tmp_path / "s.json"
    code, captured = _run(["sensitivity", "--trace", TRACE, "--json", str(out), *argv], capsys)
    assert code == 2
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_report_refuses_a_file_that_is_no_sensitivity_json(tmp_path, capsys, written):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "other"}))
    run_json = tmp_path / "run.json"
    assert _run(["run", "--trace", TRACE, "--json", str(run_json)], capsys)[0] == 0
    code, captured = _run(["report", str(run_json), "--sensitivity", str(bad), "-o",
                           str(tmp_path / "x.html")], capsys)
    assert code == 2 and "rctsim-sensitivity/1" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "x.html").exists()
