"""What a new user of `rctsim sensitivity` sees: a progress count that agrees with the summary,
a table without the duplicate alias and with `unchanged` rows, errors before any progress, error
lines that name no flag for Python callers, and a clear refusal of a run JSON as sensitivity."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

import rctsim
import rctsim.cli.sensitivity_cmd as sensitivity_cmd
from rctsim.errors import InputError
from rctsim.sensitivity_assumptions import BY_NAME
from tests.helpers import run_main

TRACE = "charlm"
"""The smallest bundled trace (3 layers)."""


_run = run_main


def test_progress_counts_the_settings_the_summary_counts():
    """Progress reaches exactly the number of distinct settings in the rows (packing's three
    documented settings), starting from 0 after the default run."""
    seen = []
    sens = rctsim.sensitivity("edge_npu", TRACE, "qat", ["packing"],
                              progress=lambda label, done, total: seen.append((done, total)))
    settings = {(r["assumption"], r["setting"]) for r in sens["rows"]}
    assert len(settings) == len(sens["assumptions"][0]["settings"]) == 3
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]


def test_cli_progress_line_and_summary_agree(capsys):
    code, out = _run(["sensitivity", "--trace", TRACE, "--assumption", "packing",
                      "--assumption", "workspace_fraction=0.5,0.75"], capsys)
    assert code == 0, out.err
    last = [line for line in out.err.splitlines() if line.startswith("sensitivity:")][-1]
    assert last.startswith("sensitivity: 5/5 settings"), out.err
    assert "2 assumptions, 5 settings," in out.out
    code, out = _run(["sensitivity", "--trace", TRACE, "--assumption", "packing"], capsys)
    assert code == 0 and "sensitivity: 3/3 settings" in out.err
    assert "1 assumption, 3 settings," in out.out


def _table_text(sens):
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(sensitivity_cmd.range_table(sens))
    return console.export_text()


def _rows(metric_values, default):
    return [{"assumption": a, "setting": s, "metric": m, "value": v, "is_default": d}
            for m, settings in metric_values.items()
            for (a, s, d), v in zip([("packing", "byte", True), ("packing", "packed", False)],
                                    settings, strict=True)]


def test_table_shows_the_alias_once_and_unchanged_metrics_without_settings():
    metrics = ["gemm_energy", "gemm_arith_energy", "dram_traffic"]
    default = {"gemm_energy": 0.5, "gemm_arith_energy": 0.5, "dram_traffic": 0.25}
    sens = {"policy": "rct", "baseline": "qat", "trace": TRACE, "hw": "edge_npu",
            "metrics": metrics, "default": default,
            "rows": _rows({"gemm_energy": [0.5, 0.5], "gemm_arith_energy": [0.5, 0.5],
                           "dram_traffic": [0.25, 0.5]}, default)}
    text = _table_text(sens)
    gemm = [line for line in text.splitlines() if "GEMM energy" in line]
    assert len(gemm) == 1 and "(MAC arithmetic)" in gemm[0], text
    assert gemm[0].count("unchanged") == 2 and "packing =" not in gemm[0]
    dram = [line for line in text.splitlines() if "DRAM traffic" in line]
    assert "25.0 % (packing = byte)" in dram[0] and "50.0 % (packing = packed)" in dram[0]


def test_counted_grammar():
    assert sensitivity_cmd.counted(1, "assumption") == "1 assumption"
    assert sensitivity_cmd.counted(2, "assumption") == "2 assumptions"


class _NoProgress:
    def __init__(self, *args, **kwargs):
        raise AssertionError("progress started before the input was checked")


@pytest.mark.parametrize("argv", [
    ["--assumption", "packing,opt_state"],
    ["--assumption", "packing=huge"],
    ["--baseline", "qat:w_q=99"],
    ["--hw", "no_such_preset"],
])
def test_bad_input_is_refused_before_progress_starts(monkeypatch, capsys, argv):
    monkeypatch.setattr(sensitivity_cmd, "Progress", _NoProgress)
    code, out = _run(["sensitivity", "--trace", TRACE, *argv], capsys)
    assert code == 2 and len(out.err.strip().splitlines()) == 1, out.err
    assert "progress started" not in out.err


@pytest.mark.parametrize("assumptions, baseline, needle", [
    ({"packing": ["huge"]}, "qat", "sensitivity: assumption: packing=huge"),
    (["nope"], "qat", "sensitivity: assumption: unknown assumption 'nope'"),
    ({"packing": [""]}, "qat", "sensitivity: assumption: packing: empty setting"),
    (None, "qat:w_q=99", "sensitivity: baseline: qat: w_q=99"),
    (None, "qat,fp32", "sensitivity: baseline: 'qat,fp32'"),
])
def test_python_errors_name_no_command_line_flag(assumptions, baseline, needle):
    with pytest.raises(InputError) as caught:
        rctsim.sensitivity("edge_npu", TRACE, baseline, assumptions)
    text = str(caught.value)
    assert text.startswith(needle), text
    assert "--" not in text and "command line" not in text


def test_every_assumption_refusal_names_no_flag():
    """Each assumption's apply refuses a nonsense setting without naming a flag."""
    ctx_errors = []
    for name in BY_NAME:
        with pytest.raises(InputError) as caught:
            rctsim.sensitivity("edge_npu", TRACE, "qat", {name: ["?bogus?"]})
        ctx_errors.append(str(caught.value))
    assert all(e.startswith("sensitivity: assumption: ") and "--" not in e
               for e in ctx_errors), ctx_errors


def test_report_says_a_run_json_is_no_sensitivity_json(tmp_path, capsys):
    run_json = tmp_path / "run.json"
    assert _run(["run", "--trace", TRACE, "--json", str(run_json)], capsys)[0] == 0
    assert "schema" not in json.loads(run_json.read_text())
    code, out = _run(["report", str(run_json), "--sensitivity", str(run_json), "-o",
                      str(tmp_path / "x.html")], capsys)
    assert code == 2 and len(out.err.strip().splitlines()) == 1
    assert "is not a sensitivity JSON (no schema field; a run JSON?)" in out.err
    assert "None" not in out.err
    assert not (tmp_path / "x.html").exists()
