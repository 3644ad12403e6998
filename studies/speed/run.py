"""Speed study: rctsim against SCALE-Sim and ZigZag on the same layers; how rctsim's cost grows.

    python studies/speed/run.py [--config studies/speed/config.yaml]
                                [--scalesim-python /tmp/ssvenv/bin/python]
                                [--zigzag-python /tmp/zzvenv/bin/python]

SCALE-Sim and ZigZag run (in their own venvs, as subprocesses) only when their Python is given;
every ratio in the output is between timings taken in the same run. Writes `results.csv`,
`results.md` and `figures/*.json` next to this file. Timings vary from run to run and machine
to machine: compare ratios and orders of magnitude, not the digits.
"""

from __future__ import annotations

import argparse
import json
import platform
import runpy
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hwmodels.schema import ArraySpec, HardwareSpec
from hwmodels.systolic import SystolicArray
from rctsim import InputError, SimOptions, Trace, load_hardware, simulate, study, synth_trace
from rctsim.reuse import clear_process_memos

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
"""Repository root: paths in the config are relative to it."""
"""The study's folder (outputs are written here)."""

OPTIONS = SimOptions(keep_timeline=False)
"""Replay options (defaults, no timeline)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Layers(_Strict):
    """The GEMM layers every tool times."""

    model: str
    """Shape-only model."""
    batch_size: Annotated[int, Field(ge=1)] = 1
    """Batch folded into M."""
    names: Annotated[list[str], Field(min_length=1)]
    """Layer names."""


class ZigZag(_Strict):
    """ZigZag's bundled accelerator and mapping used."""

    hardware: str = "tpu_like"
    """Name of a ZigZag `inputs/hardware/*.yaml`."""
    mapping: str = "tpu_like"
    """Name of a ZigZag `inputs/mapping/*.yaml`."""


class Growth(_Strict):
    """How rctsim's replay time grows."""

    hardware: str = "edge_npu"
    """Preset replayed on."""
    model: str = "resnet18_cifar"
    """Shape-only model of the length and phase series."""
    batch_size: Annotated[int, Field(ge=1)] = 32
    """Batch of every synthetic trace."""
    iterations: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]
    """Trace lengths (at 10 distinct phases)."""
    phases: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]
    """Distinct phase counts (at 100,000 iterations)."""
    models: Annotated[list[str], Field(min_length=1)]
    """Models of the size series (one phase, 1000 iterations)."""


class SpeedConfig(_Strict):
    """studies/speed/config.yaml."""

    layers: Layers
    """Layers timed by every tool."""
    arrays: Annotated[list[tuple[int, int]], Field(min_length=1)]
    """Array sizes for SCALE-Sim and rctsim."""
    dataflows: Annotated[list[Literal["ws", "os", "is"]], Field(min_length=1)]
    """Dataflows."""
    zigzag: ZigZag = ZigZag()
    """ZigZag setup."""
    repeat: Annotated[int, Field(ge=1)] = 5
    """Best-of count of each rctsim timing."""
    growth: Growth
    """Growth series."""


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Smallest wall time of `repeat` calls (seconds), each as in a fresh process: the memos of
    pure functions the process keeps (mapping search, GEMM timings, layer formats:
    rctsim.reuse.clear_process_memos) emptied before each, untimed."""
    times = []
    for _ in range(repeat):
        clear_process_memos()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def array_pass(layers: list[dict[str, Any]], rows: int, cols: int, dataflow: str) -> list[int]:
    """rctsim's array model on every layer (what SCALE-Sim computes): cycles per layer."""
    spec = ArraySpec(rows=rows, cols=cols, dataflow=dataflow, clock_hz=1e9, int_bits=[8],
                     pe_area_um2=1.0, pe_leakage_uw=0.0, area_source="timing only",
                     source="speed study")
    array = SystolicArray(spec, source="speed")
    return [array.gemm(la["m"], la["n"], la["k"], 8, 8, False).compute_cycles for la in layers]


def external(python: str, script: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run a study helper script under another Python; its JSON output."""
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec))
        subprocess.run([python, str(script), str(spec_path), str(out_path)], check=True,
                       cwd=ROOT)
        return json.loads(out_path.read_text())


def tool_rows(cfg: SpeedConfig, layers: list[dict[str, Any]], scalesim_python: str | None,
              zigzag_python: str | None) -> list[dict[str, Any]]:
    """Seconds of each tool on the layers, with the ratio to rctsim's array model."""
    rows = []
    scalesim = None
    if scalesim_python:
        spec = {"model": cfg.layers.model, "batch_size": cfg.layers.batch_size,
                "layers": layers, "arrays": [list(a) for a in cfg.arrays],
                "dataflows": list(cfg.dataflows)}
        scalesim = external(scalesim_python, HERE.parent / "validation" / "scalesim_layers.py",
                            spec)
    for rows_, cols in cfg.arrays:
        for dataflow in cfg.dataflows:
            ours = best_of(lambda r=rows_, c=cols, d=dataflow: array_pass(layers, r, c, d),
                           cfg.repeat)
            rows.append({"tool": "rctsim array model", "array": f"{rows_}x{cols}",
                         "dataflow": dataflow, "seconds": ours, "ratio_to_rctsim": 1.0})
            if scalesim is not None:
                run = next(r for r in scalesim["runs"] if (r["rows"], r["cols"], r["dataflow"])
                           == (rows_, cols, dataflow))
                cycles = [c["compute_cycles"] for c in scalesim["cases"]
                          if (c["rows"], c["cols"], c["dataflow"]) == (rows_, cols, dataflow)]
                agree = cycles == array_pass(layers, rows_, cols, dataflow)
                rows.append({"tool": f"SCALE-Sim {scalesim['header']['scalesim_version']}",
                             "array": f"{rows_}x{cols}", "dataflow": dataflow,
                             "seconds": run["seconds"], "ratio_to_rctsim": run["seconds"] / ours,
                             "note": "cycles agree" if agree else "cycles DIFFER"})
    if zigzag_python:
        rows += zigzag_rows(cfg, layers, zigzag_python, rows[0]["seconds"])
    return rows


def zigzag_rows(cfg: SpeedConfig, layers: list[dict[str, Any]], python: str,
                ours_seconds: float) -> list[dict[str, Any]]:
    """ZigZag's total time over the layers, against rctsim's first array-model pass."""
    spec = {"layers": layers, "zigzag_hardware": cfg.zigzag.hardware,
            "zigzag_mapping": cfg.zigzag.mapping}
    out = external(python, HERE / "zigzag_layers.py", spec)
    seconds = sum(c["seconds"] for c in out["cases"])
    latency = ", ".join(f"{c['name']} {c['latency_cycles']:.0f}" for c in out["cases"])
    return [{"tool": f"ZigZag {out['header']['zigzag_version']}",
             "array": f"{cfg.zigzag.hardware} (32x32)", "dataflow": "searched",
             "seconds": seconds, "ratio_to_rctsim": seconds / ours_seconds,
             "note": f"its latency in cycles: {latency}"}]


def training_step_row(cfg: SpeedConfig) -> dict[str, Any]:
    """rctsim replaying one training iteration of the whole network (all layers, 3 GEMMs each,
    update, memory and DRAM model) on the growth hardware."""
    hw = load_hardware(cfg.growth.hardware)
    trace = synth_trace(cfg.layers.model, batch_size=cfg.layers.batch_size, iterations=1,
                        schedule="w=8,a=8,g=8")
    seconds = best_of(lambda: simulate(hw, trace, baseline=None, options=OPTIONS), cfg.repeat)
    return {"tool": "rctsim simulate (whole training step)", "array": cfg.growth.hardware,
            "dataflow": hw.array.dataflow, "seconds": seconds, "ratio_to_rctsim": None,
            "note": f"{len(trace.layers)} layers, fwd+dgrad+wgrad+update, memory and DRAM"}


def phased(trace: Trace, phases: int, iterations: int) -> Trace:
    """`trace`'s layers over `iterations` with `phases` distinct phases, each changing the
    weight bits of up to three layers (as an RCT trace does), equally long."""
    n = len(trace.layers)
    bits = np.tile(trace.phase_bits[0], (phases, 1, 1))
    for p in range(phases):
        for digit in range(3):
            bits[p, (13 * digit) % n, 0] = 4 + (p // 13**digit) % 13
    starts = np.linspace(0, iterations, phases, endpoint=False).astype(np.int64)
    header = trace.header.model_copy(update={"iterations": iterations})
    return Trace.build(header=header, layers=trace.layers, phase_start=starts, phase_bits=bits)


def growth_rows(cfg: SpeedConfig) -> list[dict[str, Any]]:
    """Replay time against trace length, distinct phases and model size."""
    g = cfg.growth
    hw = load_hardware(g.hardware)
    base = synth_trace(g.model, batch_size=g.batch_size, iterations=1, schedule="w=8,a=8,g=8")
    rows = [_growth(hw, phased(base, 10, n), "iterations", n, cfg.repeat) for n in g.iterations]
    rows += [_growth(hw, phased(base, p, 100_000), "phases", p, cfg.repeat) for p in g.phases]
    for model in g.models:
        trace = synth_trace(model, batch_size=g.batch_size, iterations=1000,
                            schedule="w=8,a=8,g=8")
        rows.append(_growth(hw, trace, "model", model, cfg.repeat))
    return rows


def _growth(hw: HardwareSpec, trace: Trace, series: str, x: object, repeat: int
            ) -> dict[str, Any]:
    """One growth point: replay seconds and what the trace holds."""
    result = None

    def once() -> None:
        nonlocal result
        result = simulate(hw, trace, baseline=None, options=OPTIONS)

    seconds = best_of(once, repeat if len(trace.phase_start) <= 100 else 1)
    run = result.policies[result.trace_policy]
    return {"series": series, "x": x, "model": trace.header.model, "layers": len(trace.layers),
            "macs_per_iteration": 3 * sum(la.macs for la in trace.layers),
            "iterations": trace.iterations, "distinct_phases": run.distinct_phases,
            "seconds": seconds,
            "seconds_per_phase": seconds / run.distinct_phases,
            "simulated_macs_per_second": run.macs["total"] / seconds}


def order(ratio: float) -> str:
    """An order of magnitude in words ('10^4')."""
    return f"10^{int(np.floor(np.log10(ratio)))}"


def tools_md(rows: list[dict[str, Any]]) -> str:
    """The tool comparison table and what it says."""
    out = [(r["tool"], r["array"], r["dataflow"], f"{r['seconds']:.3g}",
            "" if r["ratio_to_rctsim"] is None else f"{r['ratio_to_rctsim']:,.0f}x",
            r.get("note", "")) for r in rows]
    ratios = [r["ratio_to_rctsim"] for r in rows
              if r["tool"].startswith("SCALE-Sim") and r["ratio_to_rctsim"]]
    zig = [r["ratio_to_rctsim"] for r in rows if r["tool"].startswith("ZigZag")]
    words = []
    if ratios:
        words.append(f"SCALE-Sim needs {min(ratios):,.0f}x to {max(ratios):,.0f}x the time of "
                     f"rctsim's array model for the same cycle counts (order {order(min(ratios))}"
                     "): it builds and walks per-cycle demand matrices, ours is closed form.")
    if zig:
        words.append(f"ZigZag needs {zig[0]:,.0f}x (order {order(zig[0])}): it searches "
                     "temporal mappings (LOMA) per layer and models its own memory hierarchy, "
                     "a different question from a fixed-dataflow cycle count.")
    step = [r for r in rows if r["tool"].startswith("rctsim simulate")]
    scalesim = [r["seconds"] for r in rows if r["tool"].startswith("SCALE-Sim")]
    if step and scalesim:
        words.append(f"Even a whole training iteration of the full network through rctsim's "
                     f"replay ({step[0]['seconds'] * 1e3:.0f} ms: every layer's three GEMMs, "
                     "the update, placement, tiling and the DRAM timing) is "
                     f"{min(scalesim) / step[0]['seconds']:,.0f}x faster than SCALE-Sim's "
                     "forward pass of the five layers on one dataflow.")
    if not words:
        words.append("SCALE-Sim and ZigZag were not run (give --scalesim-python / "
                     "--zigzag-python); only rctsim was timed.")
    table = study.md_table(out, ["tool", "array", "dataflow", "seconds", "x rctsim",
                                    "note"], "lllrrl")
    return table + "\n" + " ".join(words) + "\n"


def growth_md(rows: list[dict[str, Any]]) -> str:
    """The growth tables and their reading."""
    parts = []
    for series, label in (("iterations", "trace length (10 distinct phases)"),
                          ("phases", "distinct phases (100,000 iterations)"),
                          ("model", "model size (one phase, 1000 iterations, batch 32)")):
        sel = [r for r in rows if r["series"] == series]
        out = [(r["x"] if series == "model" else f"{r['x']:,} ({r['model']})", r["layers"],
                f"{r['macs_per_iteration']:.3g}", r["iterations"], r["distinct_phases"],
                f"{r['seconds'] * 1e3:.3g}", f"{r['seconds_per_phase'] * 1e3:.3g}",
                f"{r['simulated_macs_per_second']:.3g}") for r in sel]
        parts += [f"### Against {label}", "", study.md_table(out, [
            series, "layers", "MACs / iteration", "iterations", "distinct phases", "ms",
            "ms / phase", "simulated MACs / s"], "lrrrrrrr")]
    it = [r for r in rows if r["series"] == "iterations"]
    ph = [r for r in rows if r["series"] == "phases"]
    parts.append(
        f"Reading: {it[-1]['iterations'] // it[0]['iterations']:,}x more iterations cost "
        f"{it[-1]['seconds'] / it[0]['seconds']:.2f}x the time (each distinct phase is "
        "simulated once and multiplied, docs/concepts.md §4); "
        f"{ph[-1]['distinct_phases'] // ph[0]['distinct_phases']:,}x more distinct phases cost "
        f"{ph[-1]['seconds'] / ph[0]['seconds']:.0f}x (linear, "
        f"{ph[-1]['seconds_per_phase'] * 1e3:.1f} ms per phase when a phase changes a few "
        "layers: unchanged ops are counted once per run); model size enters through the "
        "number of layers (ops), not their MACs.\n")
    return "\n".join(parts)


def results_md(tools: list[dict[str, Any]], growth: list[dict[str, Any]],
               command: str) -> str:
    """The whole results.md."""
    import os

    machine = (f"{platform.machine()}, {os.cpu_count()} logical CPUs, Python "
               f"{platform.python_version()}, numpy {np.__version__}")
    return "\n".join([
        "# Speed: rctsim against SCALE-Sim and ZigZag; how its cost grows", "",
        f"Generated by `{command}`. **Timings are not byte-reproducible**: they vary between "
        "runs and machines (this run: " + machine + ", shared with other jobs). Compare "
        "ratios and orders of magnitude; every ratio below is between timings of the same run.",
        "",
        "## 1. The same layers through each tool", "",
        "Forward GEMMs of ResNet-18 (CIFAR stem, batch 1) layers conv1, layer2.0.conv1, "
        "layer3.0.downsample.0, layer4.0.conv2, fc (the validation study's layers). SCALE-Sim: "
        "one run per array and dataflow over all five layers (its 'seconds' exclude the Python "
        "start-up); rctsim: `SystolicArray.gemm` on each layer, best of several runs; the "
        "cycle counts are compared in the same run. The last row replays a whole training "
        "iteration of the full network for scale.", "",
        tools_md(tools), "## 2. How rctsim's replay time grows", "",
        growth_md(growth),
        "Figures (plotly JSON): `figures/growth_phases.json`, `figures/growth_iterations.json`.",
        "",
    ])


def figures(growth: list[dict[str, Any]]) -> dict[str, Any]:
    """Replay time against distinct phases and against iterations (log-log)."""
    import plotly.graph_objects as go

    out = {}
    for series in ("phases", "iterations"):
        sel = [r for r in growth if r["series"] == series]
        fig = go.Figure(go.Scatter(x=[r["x"] for r in sel], y=[r["seconds"] for r in sel],
                                   mode="lines+markers"))
        fig.update_layout(title=f"rctsim replay time against {series}",
                          xaxis={"type": "log", "title": series},
                          yaxis={"type": "log", "title": "seconds"})
        out[f"growth_{series}"] = fig
    return out


def run(cfg: SpeedConfig, *, scalesim_python: str | None = None,
        zigzag_python: str | None = None, out_dir: Path = HERE, write: bool = True,
        command: str = "python studies/speed/run.py", source: str = "config.yaml"
        ) -> dict[str, Any]:
    """The whole study (`source` names the config in errors)."""
    layers = study.gemm_layers(cfg.layers.model, cfg.layers.batch_size, cfg.layers.names,
                                  f"{source}: layers.names")
    tools = tool_rows(cfg, layers, scalesim_python, zigzag_python) + [training_step_row(cfg)]
    growth = growth_rows(cfg)
    if write:
        study.write_text(out_dir / "results.csv", study.csv_text(
            [{"table": "tools", **r} for r in tools] + [{"table": "growth", **r}
                                                        for r in growth],
            ["table", "tool", "array", "dataflow", "series", "x", "model", "layers",
             "macs_per_iteration", "iterations", "distinct_phases", "seconds",
             "seconds_per_phase", "simulated_macs_per_second", "ratio_to_rctsim", "note"]))
        study.write_text(out_dir / "results.md", results_md(tools, growth, command))
        for name, fig in figures(growth).items():
            study.write_figure(out_dir / "figures" / f"{name}.json", fig)
    return {"tools": tools, "growth": growth}


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "config.yaml"))
    parser.add_argument("--scalesim-python", default=None)
    parser.add_argument("--zigzag-python", default=None)
    args = parser.parse_args(argv)
    command = "python studies/speed/run.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in
        (("scalesim_python", args.scalesim_python), ("zigzag_python", args.zigzag_python)) if v)
    try:
        cfg = study.load_config(args.config, SpeedConfig)
        result = run(cfg, scalesim_python=args.scalesim_python,
                     zigzag_python=args.zigzag_python, command=command, source=args.config)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for r in result["tools"]:
        print(f"{r['tool']:40s} {r['array']:12s} {r['dataflow']:8s} {r['seconds']:.4g} s")
    print(f"wrote {HERE / 'results.md'}")
    return run_summary()


def run_summary() -> int:
    """Refresh docs/results.md from the studies' committed outputs (studies/summary.py)."""
    return runpy.run_path(str(HERE.parent / "summary.py"), run_name="summary")["main"]()


if __name__ == "__main__":
    sys.exit(main())
