"""The notebook API: Result.to_dataframe / HTML view, rctsim.figures, rctsim.sweep.run / load,
and the example script that uses them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rctsim
import rctsim.figures as rf
import rctsim.sweep
from rctsim.trace import write_trace
from tests.helpers import make_trace, mlp_layers

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = tmp_path_factory.mktemp("nb") / "mlp.trace"
    write_trace(make_trace(mlp_layers(), iterations=30, starts=(0, 10),
                           bits=[[(8, 8, 8, 32)] * 3, [(6, 8, 8, 32)] * 3]), path)
    return rctsim.simulate("edge_npu", path, baseline="qat")


def test_to_dataframe_holds_every_ledger_row(result):
    pytest.importorskip("pandas")
    df = result.to_dataframe()
    assert list(df.columns) == ["policy", "layer", "op", "component", "action", "tensor",
                                "bits", "quantity", "energy_pj"]
    for label, pr in result.policies.items():
        mine = df[df.policy == label]
        assert len(mine) == len(pr.rows)
        # the summary's total adds its parts; the frame adds every row: the two agree
        assert mine.energy_pj.sum() == pytest.approx(pr.energy_pj["total"], rel=1e-9)
        assert mine[mine.action == "mac"].quantity.sum() == pytest.approx(
            sum(3 * la.m * la.n * la.k for la in mlp_layers()) * 30)


def test_without_pandas_one_clear_line(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ModuleNotFoundError) as exc:
        result.to_dataframe()
    assert "pip install 'rctsim[pandas]'" in str(exc.value) and "\n" not in str(exc.value)


def test_result_repr_is_short_and_html_is_the_summary(result):
    text = repr(result)
    assert "\n" not in text and len(text) < 300 and "edge_npu" in text
    html = result._repr_html_()
    assert "4,928 parameters" in html and "12x14 array" in html and "<table>" in html
    assert "Savings of rct against qat" in html


def test_figure_functions_are_public_and_documented(result):
    for name in rf.__all__:
        assert getattr(rf, name).__doc__, name
    fig = rf.energy_over_training(result)
    assert {t.name for t in fig.data} == {"rct", "qat"}
    assert rf.layer_utilisation(result, pes=168).data
    assert rf.bits_heatmap("resnet").data


def test_sweep_run_then_load_gives_the_same_points(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    monkeypatch.chdir(tmp_path)
    config = {"name": "nb", "hardware": {"base": "edge_npu", "axes": {"sram_kb": [16, 64]}},
              "policies": {"traces": ["resnet", "resnet_qat"]},
              "objectives": ["energy", "sram"]}
    ran = rctsim.sweep.run(config, workers=1)
    assert Path(ran.store) == tmp_path / "nb.db"  # the default store: the current directory
    loaded = rctsim.sweep.load(tmp_path / "nb.db", objectives=["energy", "sram"])
    assert len(ran) == len(loaded) == 4
    df = loaded.to_dataframe()
    assert sorted(df.sram_kb) == [16, 16, 64, 64] and set(df.policy) == {"rct", "qat"}
    front = {r["key"] for r in loaded.front()}
    assert set(df[df.on_front].key) == front
    # brute force: a point is on the front when no other is at most as large in both
    rows = df[["key", "energy_pj", "sram_bytes"]].to_dict("records")
    brute = {a["key"] for a in rows if not any(
        b["energy_pj"] <= a["energy_pj"] and b["sram_bytes"] <= a["sram_bytes"]
        and (b["energy_pj"], b["sram_bytes"]) != (a["energy_pj"], a["sram_bytes"])
        for b in rows)}
    assert front == brute
    assert "Pareto front" in loaded._repr_html_() and "nb: 4 points" in repr(loaded)


def test_sweep_cli_store_defaults_to_the_current_directory(tmp_path, monkeypatch):
    from rctsim.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(ROOT / "studies" / "sweep_example.yaml"), "--sram-kb", "64",
              "--dataflow", "ws", "--dram-gb-per-s", "6.4", "--trace", "resnet",
              "--workers", "1", "--quiet"])
    assert exc.value.code in (0, None)
    assert (tmp_path / "edge_npu_sram_x_policy.db").is_file()
    assert not list((ROOT / "studies").glob("*.db"))


def test_example_script_runs(tmp_path):
    pytest.importorskip("pandas")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "notebook_tour.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "SweepResults(tour: 6 points" in proc.stdout
    for name in ("energy_over_training.html", "layer_components.html", "pareto.html"):
        assert (tmp_path / name).stat().st_size > 1000
