"""SRAM size x policy on ResNet-18 (CIFAR) and BERT-tiny: where QAT spills and RCT does not.

    python studies/sram_pareto/run.py [--config studies/sram_pareto/config.yaml]

Makes the synthetic traces (shape-only models, RCT's schedule carried over from a bundled
trainer run), sweeps the global-buffer size with `rctsim.sweep` (one in-process worker, a
throw-away store), and writes `results.csv` (every point), `spills.csv` and `windows.csv`
(where each policy stops spilling; what QAT pays where only it spills), `results.md` and
`figures/*.json` next to this file.
"""

from __future__ import annotations

import argparse
import runpy
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rctsim import InputError, load_trace, study, synth_trace, write_trace
from rctsim.sweep import (
    LocalExecutor,
    SweepStore,
    TraceCache,
    pareto_front,
    parse_sweep_config,
    plan_sweep,
    run_sweep,
    sweep_table,
)

HERE = Path(__file__).resolve().parent
"""The study's folder (outputs are written here)."""

COLUMNS: tuple[str, ...] = (
    "model", "policy", "sram_kb", "sram_area_mm2", "status", "energy_pj", "leakage_energy_pj",
    "dram_energy_pj", "param_movement_energy_pj", "latency_s", "param_dram_bytes",
    "dram_traffic_bytes", "param_memory_bytes", "optimizer_bytes", "peak_on_chip_bytes",
    "mean_w_bits", "on_front")
"""Columns of results.csv (sweep store columns, docs/sweeps.md)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ModelSetup(_Strict):
    """A shape-only model and where its RCT schedule comes from."""

    batch_size: Annotated[int, Field(ge=1)]
    """Batch folded into M."""
    options: dict[str, Any] = {}
    """Model options (docs/workloads.md)."""
    rct_schedule_from: str
    """Bundled RCT trace whose bit schedule is carried over."""


class ParetoConfig(_Strict):
    """studies/sram_pareto/config.yaml."""

    hardware: str = "edge_npu"
    """Base hardware (preset or file)."""
    sram_kb: Any
    """Global-buffer sizes: a list or a `rctsim sweep` range mapping."""
    sram_bank_kb: Annotated[int, Field(ge=1)] | None = None
    """Bank size in KB: each size is built of size / bank banks (`rctsim sweep` axis
    `sram_bank_kb`); None keeps the base preset's bank count (larger sizes, larger banks)."""
    iterations: Annotated[int, Field(ge=1)] = 1000
    """Iterations of every synthetic trace."""
    objectives: Annotated[list[str], Field(min_length=1)] = ["energy", "sram"]
    """Pareto objectives (`rctsim sweep` names)."""
    models: Annotated[dict[str, ModelSetup], Field(min_length=1)]
    """Shape-only models by name."""
    policies: Annotated[list[Literal["rct", "qat", "fp32"]], Field(min_length=1)]
    """Policies swept."""


def make_traces(cfg: ParetoConfig, folder: Path) -> dict[str, tuple[str, str]]:
    """Write one synthetic trace per model x policy; path -> (model, policy)."""
    out = {}
    for model, setup in cfg.models.items():
        for policy in cfg.policies:
            schedule = (load_trace(setup.rct_schedule_from) if policy == "rct" else policy)
            trace = synth_trace(model, batch_size=setup.batch_size, iterations=cfg.iterations,
                                schedule=schedule, source_name=setup.rct_schedule_from,
                                **setup.options)
            path = folder / f"{model}_{policy}.trace"
            write_trace(trace, path)
            out[str(path)] = (model, policy)
    return out


def sweep_rows(cfg: ParetoConfig, folder: Path, traces: dict[str, tuple[str, str]]
               ) -> tuple[list[dict[str, Any]], Any]:
    """Every (size, trace) point through rctsim.sweep; rows and the plan's objectives."""
    config = parse_sweep_config("config.yaml", {
        "name": "sram_pareto", "hardware": {"base": cfg.hardware, "axes": {
            "sram_kb": cfg.sram_kb,
            **({"sram_bank_kb": [cfg.sram_bank_kb]} if cfg.sram_bank_kb else {})}},
        "policies": {"traces": list(traces)}, "objectives": cfg.objectives})
    plan = plan_sweep(config, source="config.yaml", base_dir=folder)
    executor = LocalExecutor(workers=1)
    with SweepStore(folder / "sweep.db") as store:
        outcome = run_sweep(plan, store=store, executor=executor,
                            cache=TraceCache(folder / "cache"))
        rows = sweep_table(plan, outcome.points, store)
    executor.close()
    by_label = {Path(p).name: mp for p, mp in traces.items()}
    for row in rows:
        row["model"], row["policy"] = by_label[Path(row["trace_name"]).name]
        row["sram_kb"] = row["sram_bytes"] // 1024
    return rows, plan.objectives


def mark_fronts(rows: list[dict[str, Any]], objectives: Any) -> None:
    """Set `on_front` per model: Pareto-optimal among that model's ok points."""
    for model in dict.fromkeys(r["model"] for r in rows):
        ok = [r for r in rows if r["model"] == model and r["status"] == "ok"]
        front = {id(r) for r in pareto_front(ok, objectives)}
        for r in rows:
            if r["model"] == model:
                r["on_front"] = id(r) in front


def spill_sizes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and policy: the smallest swept size with no parameter bytes in DRAM."""
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        for policy in dict.fromkeys(r["policy"] for r in rows):
            sel = sorted((r for r in rows if (r["model"], r["policy"]) == (model, policy)
                          and r["status"] == "ok"), key=lambda r: r["sram_kb"])
            fits = [r for r in sel if r["param_dram_bytes"] == 0]
            spills = [r for r in sel if r["param_dram_bytes"] > 0]
            out.append({"model": model, "policy": policy,
                        "param_memory_bytes": sel[0]["param_memory_bytes"],
                        "fits_from_kb": fits[0]["sram_kb"] if fits else None,
                        "largest_spilling_kb": spills[-1]["sram_kb"] if spills else None})
    return out


def window_costs(rows: list[dict[str, Any]], spills: list[dict[str, Any]]
                 ) -> list[dict[str, Any]]:
    """At each size where RCT's parameters fit and QAT's spill: what QAT pays, and what it
    costs QAT to stop spilling (its own smallest fitting size)."""
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        at = {(r["policy"], r["sram_kb"]): r for r in rows
              if r["model"] == model and r["status"] == "ok"}
        qat_fit = next(s["fits_from_kb"] for s in spills
                       if (s["model"], s["policy"]) == (model, "qat"))
        for (policy, kb), rct in sorted(at.items(), key=lambda kv: kv[0][1]):
            qat = at.get(("qat", kb))
            if policy != "rct" or qat is None or rct["param_dram_bytes"] > 0 \
                    or qat["param_dram_bytes"] == 0:
                continue
            fit = at.get(("qat", qat_fit)) if qat_fit else None
            out.append({
                "model": model, "sram_kb": kb, "qat_fits_from_kb": qat_fit,
                "qat_over_rct_energy": qat["energy_pj"] / rct["energy_pj"],
                "qat_over_rct_latency": qat["latency_s"] / rct["latency_s"],
                "qat_param_dram_bytes": qat["param_dram_bytes"],
                "qat_extra_dram_energy_pj": qat["dram_energy_pj"] - rct["dram_energy_pj"],
                "qat_fit_over_rct_energy": None if fit is None
                else fit["energy_pj"] / rct["energy_pj"],
                "qat_fit_extra_area_mm2": None if fit is None
                else fit["sram_area_mm2"] - rct["sram_area_mm2"],
            })
    return out


def size_label(kb: int | None) -> str:
    """A size in KB as text (MB from 1024 KB on)."""
    if kb is None:
        return "not in the sweep"
    return f"{kb // 1024} MB" if kb >= 1024 and kb % 1024 == 0 else f"{kb} KB"


def grid_table(rows: list[dict[str, Any]], model: str) -> str:
    """Energy (J), parameter DRAM traffic (MB) and latency per size and policy."""
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    sizes = sorted({r["sram_kb"] for r in rows if r["model"] == model})
    at = {(r["policy"], r["sram_kb"]): r for r in rows if r["model"] == model}
    out = []
    for kb in sizes:
        cells = []
        for p in policies:
            r = at.get((p, kb))
            cells.append("error" if r is None or r["status"] != "ok" else
                         f"{r['energy_pj'] / 1e12:.4g} J / {r['param_dram_bytes'] / 1e6:.3g} MB"
                         + (" *" if r["on_front"] else ""))
        area = next(r["sram_area_mm2"] for r in rows if r["model"] == model
                    and r["sram_kb"] == kb)
        out.append((size_label(kb), f"{area:.3g}", *cells))
    return study.md_table(out, ["global buffer", "SRAM mm²",
                                   *(f"{p}: energy / param DRAM" for p in policies)],
                             "l" + "r" * (1 + len(policies)))


def results_md(cfg: ParetoConfig, rows: list[dict[str, Any]], spills: list[dict[str, Any]],
               windows: list[dict[str, Any]]) -> str:
    """The whole results.md."""
    spill_rows = [(s["model"], s["policy"], f"{s['param_memory_bytes'] / 2**20:.3g}",
                   size_label(s["largest_spilling_kb"]), size_label(s["fits_from_kb"]))
                  for s in spills]
    win_rows = [(w["model"], size_label(w["sram_kb"]), f"{w['qat_over_rct_energy']:.3f}x",
                 f"{w['qat_over_rct_latency']:.3f}x", f"{w['qat_param_dram_bytes'] / 1e9:.3g}",
                 f"{w['qat_extra_dram_energy_pj'] / 1e12:.3g}",
                 size_label(w["qat_fits_from_kb"]),
                 "n/a" if w["qat_fit_over_rct_energy"] is None
                 else f"{w['qat_fit_over_rct_energy']:.2f}x",
                 "n/a" if w["qat_fit_extra_area_mm2"] is None
                 else f"{w['qat_fit_extra_area_mm2']:.3g}") for w in windows]
    parts = [
        "# SRAM size x policy: where QAT's parameters spill and RCT's do not", "",
        "Generated by `python studies/sram_pareto/run.py` (config "
        "`studies/sram_pareto/config.yaml`). Do not edit by hand.", "",
        f"Sweep: `{cfg.hardware}` with its global buffer from "
        f"{span(min(r['sram_kb'] for r in rows), max(r['sram_kb'] for r in rows))} "
        "(x2 steps; SRAM leakage scaled "
        "with capacity and area from CACTI 45 nm, as `rctsim sweep` does, docs/sweeps.md) x "
        f"policies {', '.join(cfg.policies)}, {cfg.iterations} iterations each, through "
        "`rctsim.sweep` (the same points as `rctsim sweep`). Models (shape-only, docs/"
        "workloads.md): "
        + "; ".join(f"`{m}` batch {s.batch_size} {s.options or ''}, RCT schedule from the "
                    f"bundled `{s.rct_schedule_from}` trace" for m, s in cfg.models.items())
        + ". Parameters *spill* when any byte of weights or master copy goes to DRAM "
        "(`param_dram_bytes > 0`). The resident share of the buffer is 75% (the rest is "
        "workspace, docs/model.md §3), filled weights first, then the master copy, then "
        "optimiser state.", "",
        "## Where each policy's parameters stop spilling", "",
        study.md_table(spill_rows, ["model", "policy", "parameter memory MB",
                                       "largest size that spills", "fits from"], "llrrr"),
        "## What QAT pays where RCT fits and QAT spills", "",
        "At each swept size inside the window: QAT's energy and latency over RCT's, QAT's "
        "parameter DRAM traffic and extra DRAM energy over the run; and what it would take for "
        "QAT not to spill: its smallest fitting size, its energy there over RCT's at the window "
        "size, and the extra SRAM area.", "",
        study.md_table(win_rows, ["model", "global buffer", "QAT / RCT energy",
                                     "QAT / RCT latency", "QAT param DRAM GB",
                                     "QAT extra DRAM J", "QAT fits from",
                                     "QAT there / RCT here, energy", "extra mm²"],
                          "llrrrrrrr"),
        window_words(windows), "", front_words(rows, cfg), "",
    ]
    for model in cfg.models:
        parts += [f"## `{model}`: every point", "",
                  "Energy over the run (J) / parameter bytes moved to and from DRAM (MB); "
                  "`*` marks the Pareto front over (" + ", ".join(cfg.objectives) + ").", "",
                  grid_table(rows, model)]
    parts += ["Figures (plotly JSON): `figures/energy_vs_sram.json`, "
              "`figures/param_dram_vs_sram.json`.", ""]
    return "\n".join(parts)


def span(first: int, last: int) -> str:
    """'A to B', or 'A' when they are the same size."""
    return size_label(first) if first == last else f"{size_label(first)} to {size_label(last)}"


def ratio_span(values: list[float]) -> str:
    """'a-bx', or 'ax' when all equal to 2 decimals."""
    lo, hi = min(values), max(values)
    return f"{lo:.2f}x" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}x"


def window_words(windows: list[dict[str, Any]]) -> str:
    """The reading of the window table."""
    if not windows:
        return "No swept size has RCT's parameters resident and QAT's spilling."
    words = []
    for model in dict.fromkeys(w["model"] for w in windows):
        sel = [w for w in windows if w["model"] == model]
        words.append(
            f"`{model}`: at {span(sel[0]['sram_kb'], sel[-1]['sram_kb'])} RCT keeps its "
            "parameters on chip while QAT streams its master copy every iteration, costing QAT "
            f"{ratio_span([w['qat_over_rct_energy'] for w in sel])} RCT's energy; QAT stops "
            f"spilling only at {size_label(sel[0]['qat_fits_from_kb'])}.")
    return " ".join(words) + (
        " These sizes are far beyond an edge NPU's SRAM (the preset has 108 KB): at realistic "
        "sizes every policy's parameters spill, and RCT's advantage is then the ratio of the "
        "bytes each streams per iteration (studies/rct_vs_qat, section 7), visible in the "
        "small-buffer rows of the grids below.")


def front_words(rows: list[dict[str, Any]], cfg: ParetoConfig) -> str:
    """Which points are on each model's front, and what the energy does as the buffer grows
    (read from the rows: the energy-optimal size and the parts that grow)."""
    words = []
    for model in cfg.models:
        front = [r for r in rows if r["model"] == model and r.get("on_front")]
        words.append(f"`{model}`: " + ", ".join(
            f"{r['policy']} at {size_label(r['sram_kb'])}" for r in front))
    text = "Pareto front over (" + ", ".join(cfg.objectives) + "): " + "; ".join(words) + ". "
    return text + energy_words(rows, cfg)


def energy_optima(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model x policy: the energy-optimal size and the energy at the smallest, optimal and
    largest sizes, with the leakage share at the largest."""
    out = []
    for key in dict.fromkeys((r["model"], r["policy"]) for r in rows):
        sel = sorted((r for r in rows if (r["model"], r["policy"]) == key
                      and r["status"] == "ok"), key=lambda r: r["sram_kb"])
        if not sel:
            continue
        best = min(sel, key=lambda r: float(r["energy_pj"]))
        out.append({"model": key[0], "policy": key[1], "best_kb": best["sram_kb"],
                    "smallest_kb": sel[0]["sram_kb"], "largest_kb": sel[-1]["sram_kb"],
                    "best_over_smallest": float(best["energy_pj"]) / float(sel[0]["energy_pj"]),
                    "largest_over_best": float(sel[-1]["energy_pj"]) / float(best["energy_pj"]),
                    "leakage_share_largest": float(sel[-1]["leakage_energy_pj"])
                    / float(sel[-1]["energy_pj"])})
    return out


def energy_words(rows: list[dict[str, Any]], cfg: ParetoConfig) -> str:
    """The energy-optimal buffer per model and policy, as the rows give it."""
    banks = (f"built of {cfg.sram_bank_kb} KB banks (an access touches one bank)"
             if cfg.sram_bank_kb else "with the preset's bank count (banks grow with the size)")
    parts = []
    for o in energy_optima(rows):
        where = ("the smallest size" if o["best_kb"] == o["smallest_kb"]
                 else f"{size_label(o['best_kb'])} ({1 - o['best_over_smallest']:.1%} below the "
                 "smallest size)")
        parts.append(f"{o['model']} {o['policy']}: {where}; the largest size costs "
                     f"{o['largest_over_best']:.2f}x that, {o['leakage_share_largest']:.0%} of it "
                     "leakage")
    return (f"Energy-optimal global buffer, {banks}: " + "; ".join(parts) + ". What a spill "
            "costs is best read at equal size (the window table) or as the extra SRAM QAT needs "
            "to avoid it.")


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Energy and parameter DRAM traffic against buffer size, one line per model x policy."""
    import plotly.graph_objects as go

    out = {}
    for key, title, scale in (("energy_pj", "Energy (J)", 1e12),
                              ("param_dram_bytes", "Parameter DRAM traffic (MB)", 1e6)):
        fig = go.Figure()
        for model in dict.fromkeys(r["model"] for r in rows):
            for policy in dict.fromkeys(r["policy"] for r in rows):
                sel = sorted((r for r in rows if (r["model"], r["policy"]) == (model, policy)
                              and r["status"] == "ok"), key=lambda r: r["sram_kb"])
                fig.add_trace(go.Scatter(x=[r["sram_kb"] for r in sel],
                                         y=[r[key] / scale for r in sel],
                                         mode="lines+markers", name=f"{model} / {policy}"))
        fig.update_layout(title=f"{title} against global-buffer size",
                          xaxis={"type": "log", "title": "KB"}, yaxis={"title": title})
        out["energy_vs_sram" if key == "energy_pj" else "param_dram_vs_sram"] = fig
    return out


def run(cfg: ParetoConfig, *, out_dir: Path = HERE, write: bool = True) -> dict[str, Any]:
    """The whole study."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        traces = make_traces(cfg, folder)
        rows, objectives = sweep_rows(cfg, folder, traces)
    mark_fronts(rows, objectives)
    spills = spill_sizes(rows)
    windows = window_costs(rows, spills)
    if write:
        study.write_text(out_dir / "results.csv", study.csv_text(rows, COLUMNS))
        study.write_text(out_dir / "spills.csv", study.csv_text(spills, list(spills[0])))
        if windows:
            study.write_text(out_dir / "windows.csv",
                                study.csv_text(windows, list(windows[0])))
        study.write_text(out_dir / "results.md", results_md(cfg, rows, spills, windows))
        for name, fig in figures(rows).items():
            study.write_figure(out_dir / "figures" / f"{name}.json", fig)
    return {"rows": rows, "spills": spills, "windows": windows}


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(HERE / "config.yaml"))
    args = parser.parse_args(argv)
    try:
        cfg = study.load_config(args.config, ParetoConfig)
        result = run(cfg)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for s in result["spills"]:
        print(f"{s['model']:15s} {s['policy']:5s} parameters fit from "
              f"{size_label(s['fits_from_kb'])}")
    print(f"wrote {HERE / 'results.md'}")
    return run_summary()


def run_summary() -> int:
    """Refresh docs/results.md from the studies' committed outputs (studies/summary.py)."""
    return runpy.run_path(str(HERE.parent / "summary.py"), run_name="summary")["main"]()


if __name__ == "__main__":
    sys.exit(main())
