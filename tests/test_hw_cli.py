"""`rctsim hw ...` through the console entry point: output, exit codes, one-line errors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from hwmodels.load import load_hardware
from rctsim.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI; (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def _edge_data() -> dict[str, Any]:
    return yaml.safe_load((resources.files("hwmodels") / "presets" / "edge_npu.yaml").read_text())


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    """`hw list` shows every preset and table with its description."""
    code, out, _ = _run(["hw", "list"], capsys)
    assert code == 0
    for name in (
        "edge_npu",
        "mcu_npu",
        "datacenter",
        "bitfusion",
        "horowitz_45nm",
        "tpuv4i_7nm",
        "Eyeriss-like",
    ):
        assert name in out


def test_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`hw show --json` carries the spec and derived numbers."""
    code, out, _ = _run(["hw", "show", "datacenter", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["spec"]["array"]["rows"] == 256
    assert data["derived"]["peak_macs_per_s"] == 256 * 256 * 700e6
    assert data["derived"]["int8_mac_pj"] == pytest.approx(0.3)
    # DDR3 technology entry (Micron DDR3-1600 datasheet derivation): read 16.06 + activation
    # 0.2861 pJ/bit, write 27.02 + 0.2861 pJ/bit
    assert data["derived"]["dram_read_pj_per_byte"] == pytest.approx(8 * (16.06 + 0.2861))
    assert data["derived"]["dram_write_pj_per_byte"] == pytest.approx(8 * (27.02 + 0.2861))
    assert data["derived"]["dram_technology"] == "ddr3"


def test_show_text(capsys: pytest.CaptureFixture[str]) -> None:
    """`hw show` prints the spec table and the derived numbers."""
    code, out, _ = _run(["hw", "show", "edge_npu", "--sources"], capsys)
    assert code == 0
    assert "peak MAC/s" in out and "33.6 GMAC/s" in out and "Eyeriss" in out


def test_validate_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A good file prints `ok: FILE`; tables validate with --table."""
    path = tmp_path / "hw.yaml"
    path.write_text(yaml.safe_dump(_edge_data()))
    assert _run(["hw", "validate", str(path)], capsys)[:2] == (0, f"ok: {path}\n")
    table = tmp_path / "t.yaml"
    table.write_text((resources.files("hwmodels") / "tables" / "tpuv4i_7nm.yaml").read_text())
    assert _run(["hw", "validate", "--table", str(table)], capsys)[:2] == (0, f"ok: {table}\n")


def _broken(kind: str) -> tuple[str, str]:
    """(YAML text, field the error must name) for each kind of mistake."""
    data = _edge_data()
    if kind == "syntax":
        return "name: x\narray: {rows: 3\n", "line"
    if kind == "unknown_key":
        data["memories"][0]["colour"] = "blue"
        return yaml.safe_dump(data), "memories[0].colour"
    if kind == "negative_sram":
        data["memories"][0]["size_bytes"] = -1024
        return yaml.safe_dump(data), "memories[0].size_bytes"
    if kind == "dataflow":
        data["array"]["dataflow"] = "row_stationary"
        return yaml.safe_dump(data), "array.dataflow"
    data["array"]["int_bits"] = [0, 8]
    return yaml.safe_dump(data), "array.int_bits[0]"


@pytest.mark.parametrize("kind", ["syntax", "unknown_key", "negative_sram", "dataflow", "bits"])
def test_validate_errors(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad file exits 2 with exactly one stderr line naming the file and field."""
    text, field = _broken(kind)
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text)
    code, out, err = _run(["hw", "validate", str(path)], capsys)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0] and field in lines[0]
    assert "Traceback" not in err


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file is an input error, not a preset lookup."""
    code, _, err = _run(["hw", "validate", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "no such file" in err


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`hw schema` prints HardwareSpec's JSON Schema; --table the EnergyTable one."""
    code, out, _ = _run(["hw", "schema"], capsys)
    schema = json.loads(out)
    assert code == 0 and {"array", "memories", "dram"} <= set(schema["properties"])
    assert schema["$defs"]["ArraySpec"]["properties"]["dataflow"]["enum"] == ["ws", "os", "is"]
    code, out, _ = _run(["hw", "schema", "--table"], capsys)
    assert "sram_64b" in json.loads(out)["properties"]


def test_export_writes_the_preset_with_its_comments_and_it_validates(tmp_path, capsys):
    from hwmodels.load import bundled_text, hardware_digest


    target = tmp_path / "x.yaml"
    with pytest.raises(SystemExit) as exc:
        main(["hw", "export", "edge_npu", "-o", str(target)])
    assert exc.value.code in (0, None)
    text = target.read_text()
    assert text.startswith("#") and "source:" in text  # comments and sources kept
    assert text == bundled_text("edge_npu")
    with pytest.raises(SystemExit) as exc:
        main(["hw", "validate", str(target)])
    assert exc.value.code in (0, None) and f"ok: {target}" in capsys.readouterr().out
    assert hardware_digest(load_hardware(target)) == hardware_digest(load_hardware("edge_npu"))


def test_export_to_stdout_and_unknown_name(capsys):


    with pytest.raises(SystemExit) as exc:
        main(["hw", "export", "edge_npu", "-o", "-"])
    assert exc.value.code in (0, None) and "name: edge_npu" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["hw", "export", "edge_npx"])
    assert exc.value.code == 2 and "edge_npu" in capsys.readouterr().err


def test_an_edited_preset_with_its_name_is_labelled_modified(tmp_path):
    from hwmodels.load import bundled_text, hardware_digest, hardware_label

    path = tmp_path / "mine.yaml"
    path.write_text(bundled_text("edge_npu").replace("  rows: 12", "  rows: 16"))
    spec = load_hardware(path)
    assert hardware_label(load_hardware("edge_npu")) == "edge_npu"
    assert hardware_label(spec) == f"edge_npu (modified, sha256 {hardware_digest(spec)[:12]})"
    renamed = spec.model_copy(update={"name": "my_npu"})
    assert hardware_label(renamed) == "my_npu"


def test_run_json_records_the_whole_spec_and_the_report_shows_it(tmp_path, capsys):
    """The report finds the hardware's details in the run JSON even when its file is gone."""
    from hwmodels.load import bundled_text


    hw = tmp_path / "mine.yaml"
    hw.write_text(bundled_text("edge_npu").replace("  cols: 14", "  cols: 10"))
    run_json, html = tmp_path / "r.json", tmp_path / "r.html"
    with pytest.raises(SystemExit) as exc:
        main(["run", "--hw", str(hw), "--trace", "resnet", "--baseline", "none",
              "--json", str(run_json)])
    assert exc.value.code in (0, None)
    doc = json.loads(run_json.read_text())
    assert doc["hardware"]["spec"] == load_hardware(hw).model_dump(mode="json")
    assert doc["hardware"]["label"].startswith("edge_npu (modified, sha256 ")
    hw.unlink()
    with pytest.raises(SystemExit) as exc:
        main(["report", str(run_json), "-o", str(html)])
    assert exc.value.code in (0, None), capsys.readouterr().err
    page = html.read_text()
    assert "edge_npu (modified, sha256" in page and "12x10 array (ws) @ 200 MHz" in page
