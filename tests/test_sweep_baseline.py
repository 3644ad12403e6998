"""A sweep's baseline reads the syntax `rctsim run` reads (`name:key=value` variants), in the
YAML file and on `rctsim sweep --baseline`; a bad one is one line blaming where it came from."""

from __future__ import annotations

import json

import pytest

from rctsim.errors import InputError
from rctsim.replay import SimOptions, simulate
from rctsim.sweep import parse_sweep_config
from rctsim.trace import read_trace
from tests.helpers import hardware, run_main
from tests.test_sweep_run import GRID, _run, traces  # noqa: F401 (the traces fixture)

_cli = run_main


def test_a_baseline_variant_fills_the_savings(traces, tmp_path):  # noqa: F811
    """`qat:w_q=4` in the YAML: the saving columns are those of `simulate(..., "qat:w_q=4")`,
    whose GEMM saving differs from plain `qat` (4-bit instead of 8-bit forward weights)."""
    data = {**GRID, "simulation": {"baseline": "qat: w_q=4"},
            "policies": {"traces": ["rct.trace"]}}
    plan, _, rows = _run(data, traces, tmp_path / "s.db")
    assert plan.baseline == "qat:w_q=4" and rows[0]["baseline"] == "qat:w_q=4"
    direct = {name: simulate(hardware(global_size=16 * 1024, dataflow="ws"),
                             read_trace(traces / "rct.trace"), baseline=name,
                             options=SimOptions(keep_timeline=False)).comparison["savings"]
              for name in ("qat:w_q=4", "qat")}
    row = rows[0]
    assert (row["sram_kb"], row["dataflow"]) == (16, "ws")
    for metric in ("total_energy", "param_memory", "gemm_arith_energy"):
        assert row[f"saving_{metric}"] == direct["qat:w_q=4"][metric], metric
    assert direct["qat:w_q=4"]["gemm_arith_energy"] != direct["qat"]["gemm_arith_energy"]


@pytest.mark.parametrize("text, needle", [
    ("qat:w_q=99", "qat: w_q=99 (allowed: an integer 2..16)"),
    ("qat:foo=1", "'foo': unknown parameter for baseline qat"),
    ("nope", "unknown baseline 'nope' (allowed: none, or one baseline"),
    ("qat,fp32", "unknown baseline 'qat,fp32'"),
])
def test_a_bad_baseline_in_the_file_names_the_file_and_field(text, needle):
    with pytest.raises(InputError) as caught:
        parse_sweep_config("s.yaml", {"simulation": {"baseline": text}})
    assert str(caught.value).startswith("s.yaml: simulation.baseline: ")
    assert needle in str(caught.value) and "or a trace" not in str(caught.value)


def test_cli_baseline_variant_runs_and_a_bad_one_blames_the_command_line(traces, tmp_path,  # noqa: F811
                                                                        capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "s.yaml"
    cfg.write_text(json.dumps({"name": "b", "hardware": {"axes": {"sram_kb": [16]}},
                               "policies": {"traces": [str(traces / "rct.trace")]}}))
    code, out = _cli(["sweep", str(cfg), "--baseline", "qat:w_q=99", "--workers", "1",
                      "--quiet"], capsys)
    err = out.err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "command line: --baseline: qat: w_q=99" in err[0] and str(cfg) not in err[0], err
    assert not (tmp_path / "b.db").exists()
    table = tmp_path / "all.json"
    code, out = _cli(["sweep", str(cfg), "--baseline", "qat:w_q=4", "--workers", "1",
                      "--quiet", "--json", str(table)], capsys)
    assert code == 0, out.err
    rows = json.loads(table.read_text())["rows"]
    assert len(rows) == 1 and rows[0]["baseline"] == "qat:w_q=4"
    assert rows[0]["saving_param_memory"] is not None
