"""What a new user sees: the self-explaining run summary, `-` for standard output, whole tables
off a terminal, `--format`, and one meaning of `--json` across commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from hwmodels.load import load_hardware
from rctsim.cli import main
from rctsim.trace import load_trace


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rctsim", *argv], capture_output=True,
                          text=True, timeout=300)


def test_quickstart_summary_says_what_was_simulated(capsys):
    """The README quickstart's main job names the model, its parameter count, the array, the
    buffer, the DRAM and the iteration count (each read independently from the inputs)."""
    code, out, err = _run(["run", "--hw", "edge_npu", "--trace", "resnet"], capsys)
    assert code in (0, None), err
    trace = load_trace("resnet")
    spec = load_hardware("edge_npu")
    params = sum(layer.params for layer in trace.layers)
    assert trace.header.model in out and trace.header.dataset in out
    assert f"{params:,} parameters" in out
    assert f"{trace.iterations:,} iterations" in out
    assert f"batch {trace.header.batch_size}" in out
    assert f"{spec.array.rows}x{spec.array.cols} array" in out
    buffer = next(m for m in spec.memories if m.role == "global")
    assert f"{buffer.name} {buffer.size_bytes / 1024:.3g} KiB" in out
    # the preset names its technology; one LPDDR4-3200 x16 channel = 3200 MT/s x 2 B
    assert spec.dram.technology == "lpddr4" and spec.dram.channels == 1
    assert f"DRAM lpddr4 {3200e6 * 2 / 1e9:.3g} GB/s" in out
    assert "fp32 backward" in out  # the baseline names its assumption
    hardware_line = next(line for line in out.splitlines() if line.startswith("Hardware"))
    assert "200 MHz" in hardware_line and "horowitz_45nm" in hardware_line


def test_summary_parts_are_indented_under_their_whole_and_per_iteration(capsys):
    code, out, _ = _run(["run", "--trace", "resnet", "--baseline", "none"], capsys)
    assert code in (0, None)
    rows = {line.split("│")[1][1:].rstrip(): line for line in out.splitlines()
            if line.startswith("│")}
    assert "Energy" in rows and "  SRAM" in rows and "    GEMMs" in rows
    trace = load_trace("resnet")
    doc = json.loads(_cli("run", "--trace", "resnet", "--baseline", "none", "--json").stdout)
    time_s = doc["policies"]["rct"]["seconds"]
    cells = [c.strip() for c in rows["Time"].split("│")[2:4]]
    assert cells[0] == f"{time_s:.3g} s"
    assert cells[1] == f"{time_s / trace.iterations * 1e3:.3g} ms"


def test_run_json_to_stdout_is_pure_json():
    """`rctsim run ... --json - | python -c 'json.load(sys.stdin)'`: the summary goes to stderr."""
    proc = _cli("run", "--hw", "edge_npu", "--trace", "resnet", "--json", "-")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["hardware"]["name"] == "edge_npu" and "Simulated" in proc.stderr


@pytest.mark.parametrize("argv, check", [
    (["run", "--trace", "resnet", "--format", "json"], lambda out: json.loads(out)["policies"]),
    (["run", "--trace", "resnet", "--format", "csv"],
     lambda out: out.splitlines()[0].startswith("policy,layer,op")),
    (["run", "--trace", "resnet", "--csv", "-"],
     lambda out: out.splitlines()[0].startswith("policy,layer,op")),
    (["gemm", "64", "64", "64", "--json"], lambda out: json.loads(out)["macs"] == 64 ** 3),
    (["gemm", "64", "64", "64", "--json", "-"], lambda out: json.loads(out)["macs"] == 64 ** 3),
    (["gemm", "64", "64", "64", "--format", "csv"], lambda out: "macs,262144" in out),
    (["hw", "show", "edge_npu", "--json", "-"], lambda out: json.loads(out)["spec"]),
    (["trace", "info", "resnet", "--json", "-"], lambda out: json.loads(out)["n_layers"]),
    (["trace", "list", "--json"], lambda out: json.loads(out)["traces"]),
])
def test_every_output_takes_dash_for_stdout(argv, check):
    proc = _cli(*argv)
    assert proc.returncode == 0, proc.stderr
    assert check(proc.stdout)


def test_json_to_a_file_means_the_same_in_every_command(tmp_path, capsys):
    for argv in (["gemm", "8", "8", "8"], ["hw", "show", "edge_npu"], ["trace", "info", "resnet"]):
        target = tmp_path / f"{argv[0]}.json"
        code, _, err = _run([*argv, "--json", str(target)], capsys)
        assert code in (0, None), err
        assert isinstance(json.loads(target.read_text()), dict)


def test_two_outputs_to_stdout_are_refused(capsys):
    code, _, err = _run(["run", "--trace", "resnet", "--json", "-", "--csv", "-"], capsys)
    assert code == 2 and "standard output" in err


def test_piped_tables_print_whole():
    """Off a terminal no header or cell is cut (rich would squeeze to 80 columns)."""
    proc = _cli("trace", "info", "resnet")
    assert proc.returncode == 0
    assert "…" not in proc.stdout and "opt_state_per_param=1" in proc.stdout
    proc = _cli("gemm", "1024", "1024", "1024")
    assert "…" not in proc.stdout
    # one way of writing numbers: no exponent notation, every count with an SI prefix
    assert not re.search(r"\de[+-]\d", proc.stdout)
    assert re.search(r"macs\s+│\s+1\.07 G", proc.stdout)


def test_a_trace_written_to_stdout_is_the_file(tmp_path):
    """Binary outputs pipe too: `trace synth --out -` writes the same bytes as a file."""
    argv = ["trace", "synth", "--model", "mlp", "--bits", "w=8,a=8,g=8", "--iterations", "5"]
    piped = subprocess.run([sys.executable, "-m", "rctsim", *argv, "--out", "-"],
                           capture_output=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    target = tmp_path / "t.trace"
    assert _cli(*argv, "--out", str(target)).returncode == 0
    assert piped.stdout == target.read_bytes()
