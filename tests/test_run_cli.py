"""`rctsim run` and `rctsim gemm` end to end: outputs, JSON keys, errors with exit status 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from hwmodels.systolic import compute_cycles
from rctsim.cli import main
from rctsim.trace import write_trace
from tests.helpers import make_trace, mlp_layers

POLICY_KEYS = {
    "macs": {"fwd", "dgrad", "wgrad", "total"},
    "cycles": {"compute", "stall", "total"},
    "energy_pj": {"mac", "gemm", "gemm_arith", "gemm_datapath", "sram", "dram", "leakage",
                  "param_movement", "total"},
    "traffic_bytes": {"sram_read", "sram_write", "dram_read", "dram_write"},
    "memory_bytes": {"params", "master_copy", "optimizer", "activations_peak", "gradients_peak",
                     "peak_on_chip", "peak_total"},
}


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture()
def trace_file(tmp_path):
    path = tmp_path / "mlp.trace"
    write_trace(make_trace(mlp_layers(), iterations=20), path)
    return path


def test_run_writes_json_and_csv(trace_file, tmp_path, capsys):
    code, out, err = _run(["run", "--hw", "edge_npu", "--trace", str(trace_file),
                           "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv")],
                          capsys)
    assert code in (0, None), err
    assert "rct against qat" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["schema_version"] == 2
    assert set(doc["hardware"]) >= {"name", "sha256"} and set(doc["trace"]) >= {"name", "sha256"}
    for label in ("rct", "qat"):
        pol = doc["policies"][label]
        for key, fields in POLICY_KEYS.items():
            assert fields <= set(pol[key]), (label, key)
        assert pol["seconds"] > 0
    assert set(doc["comparison"]["savings"]) == {
        "gemm_energy", "gemm_arith_energy", "gemm_datapath_energy", "param_memory",
        "param_memory_with_optimizer",
        "param_movement_energy", "dram_traffic", "total_energy", "latency"}
    area = doc["area_mm2"]
    assert set(area["parts"]) == {"array", "unit:fp32_vector", "unit:fp16_vector",
                                  "sram:global_buffer", "sram:pe_spads"}
    assert area["total"] == pytest.approx(sum(area["parts"].values()))
    assert area["parts"]["array"] == pytest.approx(12 * 14 * 1129.769e-6)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    energy = sum(float(r["energy_pj"]) for r in rows if r["policy"] == "rct")
    assert energy == pytest.approx(doc["policies"]["rct"]["energy_pj"]["total"], rel=1e-9)


@pytest.mark.parametrize("argv, field", [
    (["run", "--trace", "/nonexistent/x.trace"], "x.trace"),
    (["run", "--hw", "no_such_preset"], "no_such_preset"),
    (["gemm", "0", "4", "4"], "M"),
    (["gemm", "4", "4", "4", "--bits", "a=40"], "--bits"),
    (["gemm", "4", "4", "4", "--dataflow", "rs"], "array.dataflow"),
])
def test_bad_input_is_one_line_and_exit_2(argv, field, capsys):
    code, _, err = _run(argv, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and field in lines[0], err
    assert "Traceback" not in err


def test_trace_with_unsupported_bits_exits_2(tmp_path, capsys):
    path = tmp_path / "wide.trace"
    write_trace(make_trace(mlp_layers(), bits=(24, 8, 8, 32)), path)
    code, _, err = _run(["run", "--trace", str(path), "--json", str(tmp_path / "o.json")], capsys)
    assert code == 2 and "array.int_bits" in err
    assert not (tmp_path / "o.json").exists()  # nothing half-written


def test_gemm_json_matches_the_closed_form(capsys):
    code, out, _ = _run(["gemm", "100", "30", "70", "--array", "8x8", "--dataflow", "os",
                         "--json"], capsys)
    assert code in (0, None)
    doc = json.loads(out)
    for key in ("cycles", "compute_cycles", "stall_cycles", "utilization", "macs",
                "sram_read_bytes", "dram_read_bytes", "energy_pj"):
        assert key in doc
    assert doc["compute_cycles"] == compute_cycles(100, 30, 70, 8, 8, "os")
    assert doc["macs"] == 100 * 30 * 70
    assert doc["cycles"] == pytest.approx(doc["compute_cycles"] + doc["stall_cycles"])


def test_console_script_runs_in_a_subprocess(trace_file):
    proc = subprocess.run([sys.executable, "-m", "rctsim", "run", "--trace", str(trace_file),
                           "--baseline", "fp32"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "rct against fp32" in proc.stdout


def test_readme_defaults_run_the_bundled_resnet_on_edge_npu(capsys):
    """`rctsim run --hw edge_npu --trace resnet` (the README's quickstart) works as written."""
    code, out, err = _run(["run", "--hw", "edge_npu", "--trace", "resnet"], capsys)
    assert code in (0, None), err
    assert "edge_npu" in out and "trace resnet" in out and "rct against qat" in out


def test_bundled_trace_info_json_names_its_policy(capsys):
    code, out, _ = _run(["trace", "info", "resnet", "--json"], capsys)
    assert code in (0, None)
    doc = json.loads(out)
    assert doc["header"]["policy"]["name"] == "rct"
    assert doc["n_layers"] == len(doc["layers"]) > 0


def test_version(capsys):
    from rctsim import __version__

    code, out, _ = _run(["--version"], capsys)
    assert code in (0, None) and out.strip() == f"rctsim {__version__}"


@pytest.mark.parametrize("argv, field", [
    (["gemm", "x", "1", "1"], "'m'"),                       # the parser's own errors: one line
    (["run", "--bogus", "1"], "--bogus"),
    (["gemm", "99999999999999999999", "1", "1"], "M"),
    (["run", "--trace", "resnet", "--json", "/dev/null"], "--json"),
    (["train", "--model", "mlp", "--out", "/tmp/t.trace", "--seed", "-1"], "--seed"),
    (["sweep", "--trace", "resnet", "--sram-kb", "{start: 1, stop: 2000000, step: 1}"],
     "sram_kb"),
    (["sweep", "--trace", "resnet", "--sram-kb", "64,128", "--sample", "2", "--seed", "-5"],
     "seed"),
])
def test_hostile_input_is_one_line_and_exit_2(argv, field, capsys):
    code, _, err = _run(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and field in lines[0], err


def test_outputs_never_overwrite_inputs_or_each_other(trace_file, tmp_path, capsys):
    before = trace_file.read_bytes()
    code, _, err = _run(["run", "--trace", str(trace_file), "--json", str(trace_file)], capsys)
    assert code == 2 and "would overwrite an input" in err
    assert trace_file.read_bytes() == before
    out = tmp_path / "x.out"
    code, _, err = _run(["run", "--trace", str(trace_file), "--json", str(out),
                         "--csv", str(out)], capsys)
    assert code == 2 and "--csv" in err and not out.exists()
