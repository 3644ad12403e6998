"""One answer per hardware: `rctsim run` on an edited YAML equals the sweep's point; bad memory
technology names are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hwmodels.load import load_hardware
from rctsim.cli import main
from rctsim.replay import SimOptions, simulate
from rctsim.sweep import (
    LocalExecutor,
    SweepStore,
    TraceCache,
    parse_sweep_config,
    plan_sweep,
    run_sweep,
    sweep_table,
)
from rctsim.synth import synth_trace
from rctsim.trace import read_trace, write_trace

SIZES_KB = (16, 54, 432, 2048)
"""Global buffer sizes compared (the issue's 54 KB, 432 KB and 2 MB among them)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("one_answer")
    write_trace(synth_trace("mlp", batch_size=8, iterations=20, schedule="qat"),
                path / "qat.trace")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI; (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def _edited_yaml(folder: Path, size_kb: int) -> Path:
    """edge_npu with only the global buffer's size changed, written as a user would."""
    data = load_hardware("edge_npu").model_dump(mode="json", exclude_none=True)
    for memory in data["memories"]:
        if memory["role"] == "global":
            memory["size_bytes"] = size_kb * 1024
    path = folder / f"edited_{size_kb}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_run_on_an_edited_yaml_equals_the_sweep(folder: Path) -> None:
    config = {"hardware": {"base": "edge_npu", "axes": {"sram_kb": list(SIZES_KB)}},
              "policies": {"traces": ["qat.trace"]}}
    plan = plan_sweep(parse_sweep_config("s.yaml", config), source="s.yaml", base_dir=folder)
    with SweepStore(folder / "s.db") as db:
        outcome = run_sweep(plan, store=db, executor=LocalExecutor(1),
                            cache=TraceCache(folder / "cache"))
        rows = sweep_table(plan, outcome.points, db)
    trace = read_trace(folder / "qat.trace")
    totals = []
    for size_kb in SIZES_KB:
        edited = load_hardware(_edited_yaml(folder, size_kb))
        direct = simulate(edited, trace, baseline=None, options=SimOptions(keep_timeline=False))
        row = next(r for r in rows if r["sram_kb"] == size_kb)
        ran = direct.policies["qat"].energy_pj["total"]
        assert row["energy_pj"] == pytest.approx(ran, rel=1e-9, abs=0)
        totals.append(ran)
    assert len(set(totals)) == len(SIZES_KB)  # the size does change the answer


def test_an_edited_size_without_derived_numbers_is_valid(folder: Path, capsys) -> None:
    path = _edited_yaml(folder, 432)
    assert "leakage_mw" not in path.read_text()
    assert _run(["hw", "validate", str(path)], capsys)[0] == 0


def test_bad_dram_technology_is_one_line(folder: Path, capsys) -> None:
    data = load_hardware("edge_npu").model_dump(mode="json", exclude_none=True)
    data["dram"]["technology"] = "ddr9"
    path = folder / "bad_dram.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, _, err = _run(["hw", "validate", str(path)], capsys)
    err = err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "dram.technology" in err and "'ddr9'" in err
    for name in ("ddr3", "ddr4", "lpddr4", "lpddr4x", "lpddr5", "hbm2", "hbm2e", "horowitz_45nm"):
        assert name in err


def test_bad_cell_type_and_unbankable_memory_are_one_line(folder: Path, capsys) -> None:
    data = load_hardware("edge_npu").model_dump(mode="json", exclude_none=True)
    data["memories"][0]["cells"] = "finfet"
    path = folder / "bad_cells.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, _, err = _run(["hw", "validate", str(path)], capsys)
    err = err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "memories[0].cells" in err and "itrs-lstp" in err
    data["memories"][0].update(cells="itrs-hp", size_bytes=1024, banks=16)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    code, _, err = _run(["hw", "validate", str(path)], capsys)
    err = err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "memories[0]" in err and "32 rows" in err


def test_hw_show_prints_the_technology(capsys) -> None:
    code, out, _ = _run(["hw", "show", "edge_npu"], capsys)
    assert code == 0
    assert "lpddr4" in out and "DRAM latency" in out
    code, out, _ = _run(["hw", "show", "edge_npu", "--json"], capsys)
    derived = json.loads(out)["derived"]
    assert derived["dram_technology"] == "lpddr4" and derived["overrides"] == []
