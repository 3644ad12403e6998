"""Hostile and huge inputs: one line, exit status 2, nothing read unbounded (issue 14 items 1-7).

Each test reproduces one failure class of the audit; the expected wording is the field and the
limit the project documents, never text copied from the code's output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from hwmodels.load import load_hardware
from rctsim.cli import main
from rctsim.fileread import MAX_CONFIG_BYTES
from rctsim.sweep import hardware as sweep_hardware
from rctsim.sweep.values import MAX_POINTS
from rctsim.trace import Trace, load_trace, write_trace

REPO = Path(__file__).resolve().parents[1]


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run `rctsim ARGS` in-process: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capsys.readouterr()
    return done.value.code or 0, out, err


def one_line(code: int, err: str, *words: str) -> None:
    """Exit 2 with exactly one `rctsim: error:` line holding `words`, no traceback."""
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rctsim: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


@pytest.fixture()
def resnet() -> Trace:
    return load_trace("resnet")


def _with(trace: Trace, *, bits=None, params=None, layers=None, model=None) -> Trace:
    header = trace.header
    if params is not None:
        header = header.model_copy(update={"policy": header.policy.model_copy(
            update={"params": header.policy.params | params})})
    if model is not None:
        header = header.model_copy(update={"model": model})
    return Trace.build(header=header, layers=layers or trace.layers,
                       phase_start=trace.phase_start,
                       phase_bits=trace.phase_bits if bits is None else bits)


# ---------------------------------------------------------------- 1. unbounded reads and sizes

@pytest.mark.parametrize("device", ["/dev/zero", "/dev/stdin"])
def test_devices_as_config_files_are_refused_unread(device, capsys):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    for args in (["sweep", device], ["run", "--hw", device, "--trace", "resnet"],
                 ["trace", "info", device], ["report", device, "-o", "x.html"]):
        code, _, err = cli(args, capsys)
        one_line(code, err, device)


def test_a_fifo_as_config_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for args in (["sweep", str(fifo)], ["run", "--hw", str(fifo), "--trace", "resnet"],
                 ["trace", "info", str(fifo)]):
        done = subprocess.run([sys.executable, "-m", "rctsim", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        one_line(done.returncode, done.stderr, str(fifo))


def test_an_oversized_config_is_refused_with_its_size_and_the_limit(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    code, _, err = cli(["sweep", str(big)], capsys)
    one_line(code, err, "big.yaml", f"{big.stat().st_size:,} bytes", f"{MAX_CONFIG_BYTES:,}")


def test_grid_size_is_refused_before_any_value_is_checked(tmp_path, capsys, monkeypatch):
    built = []
    real = sweep_hardware._Builder.build
    monkeypatch.setattr(sweep_hardware._Builder, "build",
                        lambda self, values: built.append(values) or real(self, values))
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(json.dumps({"hardware": {"axes": {
        "sram_kb": list(range(1, 1001)), "clock_mhz": list(range(1, 1001)),
        "dram_gb_per_s": list(range(1, 1001))}}, "policies": {"traces": ["resnet"]}}))
    code, _, err = cli(["sweep", str(cfg)], capsys)
    one_line(code, err, "1,000,000,000 points", f"at most {MAX_POINTS:,}")
    assert built == [] and not cfg.with_suffix(".db").exists()


def test_a_list_axis_of_200000_values_is_refused(tmp_path, capsys):
    cfg = tmp_path / "long.yaml"
    cfg.write_text(json.dumps({"hardware": {"axes": {"sram_kb": list(range(1, 200_001))}},
                               "policies": {"traces": ["resnet"]}}))
    code, _, err = cli(["sweep", str(cfg)], capsys)
    one_line(code, err, "hardware.axes.sram_kb", "200,000 values")


@pytest.mark.parametrize("args", [
    ["--sram-kb", "{start: 16, stop: 512}", "--sample", "1000000000"],
    ["--sram-kb", "{start: 16, stop: 512}", "--axis", "clock_mhz=100,200", "--sample",
     str(MAX_POINTS + 1)],
])
def test_sample_is_capped(args, capsys, tmp_path):
    code, _, err = cli(["sweep", "--trace", "resnet", "--store", str(tmp_path / "s.db"), *args],
                       capsys)
    one_line(code, err, "sample", f"{MAX_POINTS}")
    assert not (tmp_path / "s.db").exists()


def test_policy_sample_is_capped(tmp_path, capsys):
    cfg = tmp_path / "p.yaml"
    cfg.write_text(json.dumps({"policies": {"train": {"model": "mlp"}, "sample": 10**9,
                                            "axes": {"lr": {"start": 0.01, "stop": 0.1}}}}))
    code, _, err = cli(["sweep", str(cfg)], capsys)
    one_line(code, err, "policies.sample", f"{MAX_POINTS}")


def test_names_are_length_limited_at_the_format_level(tmp_path, capsys, resnet):
    with pytest.raises(ValueError, match="at most 256 characters"):
        resnet.layers[-1].model_validate(resnet.layers[-1].model_dump() | {"name": "n" * 50_000})
    hw = load_hardware("edge_npu").model_dump(mode="json") | {"name": "h" * 50_000}
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(hw))
    code, _, err = cli(["hw", "validate", str(tmp_path / "h.yaml")], capsys)
    one_line(code, err, "name", "50,000 characters", "at most 256")
    (tmp_path / "s.yaml").write_text(json.dumps({"name": "s" * 50_000}))
    code, _, err = cli(["sweep", str(tmp_path / "s.yaml")], capsys)
    one_line(code, err, "name", "at most 256")


# ---------------------------------------------------------------- 4. names in terminal output

def test_markup_in_names_is_printed_literally(tmp_path, capsys, resnet):
    layers = [la.model_copy(update={"name": la.name + "[/]",
                                    "preds": tuple(p + "[/]" for p in la.preds)})
              for la in resnet.layers]
    write_trace(_with(resnet, layers=layers, model="m[/]x[bold]y"), tmp_path / "m.trace")
    hw = load_hardware("edge_npu").model_dump(mode="json") | {"name": "hw[/]"}
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(hw))
    code, out, err = cli(["run", "--trace", str(tmp_path / "m.trace"), "--hw",
                          str(tmp_path / "h.yaml")], capsys)
    assert code == 0, err
    assert "hw[/]" in out and "m[/]x[bold]y" in out
    code, out, err = cli(["trace", "info", str(tmp_path / "m.trace")], capsys)
    assert code == 0, err
    assert "stem[/]" in out and "m[/]x[bold]y" in out


def test_long_names_are_cut_for_display(tmp_path, capsys, resnet):
    write_trace(_with(resnet, model="M" * 256), tmp_path / "long.trace")
    code, out, _ = cli(["trace", "info", str(tmp_path / "long.trace")], capsys)
    assert code == 0 and "M" * 119 + "…" in out and "M" * 121 not in out


# ---------------------------------------------------------------- 5-6. values out of range

@pytest.mark.parametrize("name, value, allowed", [
    ("opt_state_per_param", "abc", "0..8"), ("opt_state_per_param", 1e308, "0..8"),
    ("opt_state_per_param", -1, "0..8"), ("opt_state_per_param", 1.5, "0..8"),
    ("opt_state_bits", 0, "1..32"), ("opt_state_bits", 65, "1..32"),
    ("opt_state_bits", -1, "1..32"), ("opt_state_bits", "abc", "1..32"),
])
def test_optimiser_state_parameters_are_range_checked(name, value, allowed, tmp_path, capsys,
                                                      resnet):
    write_trace(_with(resnet, params={name: value}), tmp_path / "p.trace")
    code, _, err = cli(["run", "--trace", str(tmp_path / "p.trace"), "--baseline", "none"],
                       capsys)
    one_line(code, err, "p.trace", f"header.policy.params.{name}", allowed)


def test_nan_opt_state_in_a_trace_file_is_refused(tmp_path, capsys, resnet):
    write_trace(_with(resnet, params={"opt_state_bits": 16}), tmp_path / "p.trace")
    _rewrite_header(tmp_path / "p.trace", tmp_path / "nan.trace",
                    lambda h: h.replace(b'"opt_state_bits":16', b'"opt_state_bits":NaN'))
    code, _, err = cli(["run", "--trace", str(tmp_path / "nan.trace")], capsys)
    one_line(code, err, "opt_state_bits", "1..32")


@pytest.mark.parametrize("acc, layer, need", [(1, "stem", 16), (17, None, 18)])
def test_accumulator_narrower_than_a_product_is_refused(acc, layer, need, tmp_path, capsys,
                                                         resnet):
    bits = resnet.phase_bits.copy()
    bits[..., 3] = acc
    write_trace(_with(resnet, bits=bits), tmp_path / "a.trace")
    code, _, err = cli(["run", "--trace", str(tmp_path / "a.trace"), "--baseline", "none"],
                       capsys)
    one_line(code, err, "a.trace", ".bits.acc", f"{acc} accumulator bits", "..32 bits")
    # by hand: a (layer's activation bits) + w (its weight bits) is the narrowest product
    fwd = [int(resnet.phase_bits[p, i, 0] + resnet.phase_bits[p, i, 1])
           for p in range(len(resnet.phase_start)) for i in range(resnet.n_layers)]
    assert need <= max(fwd) and (layer is None or f"({layer})" in err)


def test_bits_the_hardware_lacks_name_trace_layer_and_operand(tmp_path, capsys, resnet):
    i = next(i for i, la in enumerate(resnet.layers) if la.has_gemm and i > 0)
    bits = resnet.phase_bits.copy()
    bits[:, i, 2] = 24  # the layer's gradients: wider than edge_npu's widest integer MAC (16)
    write_trace(_with(resnet, bits=bits), tmp_path / "g.trace")
    code, _, err = cli(["run", "--trace", str(tmp_path / "g.trace"), "--baseline", "none"],
                       capsys)
    name = resnet.layers[i].name
    one_line(code, err, "g.trace", f"layers[{i}] ({name}).bits.g", "24 bits", "edge_npu",
             "array.int_bits")
    assert ".b" not in err.split("(allowed")[0].replace(".bits", "")


@pytest.mark.parametrize("where, value, field", [
    ("clock_hz", 1e-308, "seconds"), ("leakage_mw", 1e308, "energy_pj"),
])
def test_results_are_finite_or_refused(where, value, field, tmp_path, capsys):
    hw = load_hardware("edge_npu").model_dump(mode="json")
    if where == "clock_hz":
        hw["array"]["clock_hz"] = value
    else:
        hw["memories"][0]["leakage_mw"] = value
    (tmp_path / "h.yaml").write_text(yaml.safe_dump(hw))
    out = tmp_path / "run.json"
    code, _, err = cli(["run", "--hw", str(tmp_path / "h.yaml"), "--json", str(out)], capsys)
    one_line(code, err, "result", field, "inf")
    assert not out.exists()


def test_json_with_nan_is_never_written(resnet):
    import rctsim

    result = rctsim.simulate("edge_npu", resnet, baseline=None)
    result.policies[resnet.header.policy.name].energy_pj["total"] = float("nan")
    with pytest.raises(ValueError, match="not JSON compliant"):
        result.to_json()


@pytest.mark.parametrize("text, lines", [
    ("name: a\nseed: 1\nname: b\n", ("line 1", "line 3")),
    ("hardware:\n  base: edge_npu\n  sample: 3\n  base: mcu_npu\n", ("line 2", "line 4")),
])
def test_duplicate_yaml_keys_are_refused_with_both_lines(text, lines, tmp_path, capsys):
    cfg = tmp_path / "dup.yaml"
    cfg.write_text(text)
    code, _, err = cli(["sweep", str(cfg)], capsys)
    one_line(code, err, "dup.yaml", "duplicate key", *lines)


def test_duplicate_keys_in_a_hardware_file(tmp_path, capsys):
    text = yaml.safe_dump(load_hardware("edge_npu").model_dump(mode="json"))
    (tmp_path / "h.yaml").write_text(text + "name: again\n")
    n = text.count("\n")
    code, _, err = cli(["hw", "validate", str(tmp_path / "h.yaml")], capsys)
    first = 1 + text.split("\n").index(next(x for x in text.split("\n")
                                            if x.startswith("name:")))
    one_line(code, err, "duplicate key 'name'", f"line {first}", f"line {n + 1}")


@pytest.mark.parametrize("args", [
    ["--sram-kb", "1.0e+308"], ["--sram-kb", "{start: -1.0e+300, stop: 1.0e+300, step: 1}"],
    ["--sram-kb", "{start: 1, stop: 1.0e+17, factor: 1.0000001}"], ["--sram-kb", "9" * 5000],
    ["--axis", "clock_mhz=" + "[" * 5000 + "]" * 5000],
])
def test_huge_numbers_on_the_command_line_are_one_line(args, tmp_path, capsys):
    code, _, err = cli(["sweep", "--trace", "resnet", "--store", str(tmp_path / "s.db"), *args],
                       capsys)
    one_line(code, err)
    assert not (tmp_path / "s.db").exists()


def test_deep_nesting_and_huge_integers_in_files_are_one_line(tmp_path, capsys, resnet):
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, _, err = cli(["sweep", str(tmp_path / "deep.yaml")], capsys)
    one_line(code, err, "deep.yaml", "nest")
    (tmp_path / "digits.yaml").write_text("seed: " + "9" * 5000 + "\n")
    code, _, err = cli(["sweep", str(tmp_path / "digits.yaml")], capsys)
    one_line(code, err, "digits.yaml")
    (tmp_path / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = cli(["report", str(tmp_path / "run.json"), "-o", str(tmp_path / "r.html")],
                       capsys)
    one_line(code, err, "run.json", "nested too deeply")


def _rewrite_header(path: Path, out: Path, edit) -> None:
    """A trace file whose header text is edited, with a fresh length and checksum."""
    import hashlib
    import struct

    data = path.read_bytes()
    magic, major, minor, h_len, d_len = struct.unpack_from("<8sHHIQ", data)
    header = edit(data[24:24 + h_len].rstrip(b" "))
    header += b" " * (-len(header) % 8)
    body = struct.pack("<8sHHIQ", magic, major, minor, len(header), d_len) + header + \
        data[24 + h_len:-32]
    out.write_bytes(body + hashlib.sha256(body).digest())


@pytest.mark.parametrize("edit, words", [
    (lambda h: h.replace(b'"seed":', b'"seed":' + b"[" * 100_000 + b"]" * 100_000 + b',"x":'),
     "nested too deeply"),
    (lambda h: h.replace(b'"seed":0', b'"seed":' + b"9" * 5000), "invalid JSON"),
    (lambda h: h.replace(b'"batch_size":', b'"batch_size":' + b"9" * 40 + b',"y":'),
     "header"),
])
def test_hostile_trace_headers_are_one_line(edit, words, tmp_path, capsys, resnet):
    write_trace(_with(resnet, params={}), tmp_path / "t.trace")
    assert b'"seed":0' in (tmp_path / "t.trace").read_bytes()
    _rewrite_header(tmp_path / "t.trace", tmp_path / "bad.trace", edit)
    code, _, err = cli(["trace", "info", str(tmp_path / "bad.trace")], capsys)
    one_line(code, err, "bad.trace", words)


@pytest.mark.parametrize("args", [
    ["run", "--trace", "x" * 5000], ["run", "--hw", "x" * 5000 + ".yaml"],
    ["sweep", "x" * 5000], ["report", "x" * 5000, "-o", "r.html"],
    ["run", "--json", "x" * 5000 + ".json"], ["hw", "validate", "x" * 5000],
])
def test_a_5000_character_path_is_one_line(args, capsys):
    code, _, err = cli(args, capsys)
    one_line(code, err, "characters")


# ---------------------------------------------------------------- store corruption

def _store(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    code = subprocess.run([sys.executable, "-m", "rctsim", "sweep", "--trace", "resnet",
                           "--sram-kb", "64,128", "--store", str(db), "--workers", "1",
                           "--quiet", "--show", "0"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert code.returncode == 0, code.stderr
    return db


def _damage(db: Path, how: str) -> None:
    import sqlite3
    from contextlib import closing

    if how == "cut":
        db.write_bytes(db.read_bytes()[:1500])
    elif how == "overwrite":
        data = bytearray(db.read_bytes())
        data[100:4000] = bytes(np.random.default_rng(0).integers(0, 256, 3900, dtype=np.uint8))
        db.write_bytes(bytes(data))
    elif how == "drop column":
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("ALTER TABLE points DROP COLUMN energy_pj")
            conn.commit()
    elif how == "bad json":
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("UPDATE points SET params = '{not json'")
            conn.commit()


@pytest.mark.parametrize("how", ["cut", "overwrite", "drop column", "bad json"])
def test_a_damaged_store_is_one_line_telling_to_move_it_aside(how, tmp_path, capsys):
    db = _store(tmp_path)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    _damage(db, how)
    for args in (["report", str(db), "-o", str(tmp_path / "r.html")],
                 ["sweep", "--trace", "resnet", "--sram-kb", "64,128", "--store", str(db),
                  "--workers", "1", "--quiet"]):
        code, _, err = cli(args, capsys)
        one_line(code, err, str(db))
        assert "move it aside" in err or "not a sweep store" in err, err
