"""Plotly figures of the rct_vs_qat study (written as JSON by report.py)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import tables

PARTS: tuple[tuple[str, str], ...] = (("mac_energy", "MACs"), ("sram_energy", "SRAM"),
                                      ("dram_energy", "DRAM"), ("leakage_energy", "leakage"))
"""Energy components stacked in the breakdown figure."""


def breakdown(rows: list[dict[str, Any]]) -> go.Figure:
    """Stacked energy components (mJ) of every model x hardware x policy."""
    labels = [f"{r['model']} / {r['hardware']} / {r['policy']}" for r in rows]
    fig = go.Figure([go.Bar(name=name, x=labels, y=[r[key] / 1e9 for r in rows])
                     for key, name in PARTS])
    fig.update_layout(barmode="stack", title="Training energy by component",
                      yaxis={"title": "mJ"})
    return fig


def accuracy_vs_energy(curves: list[dict[str, Any]]) -> go.Figure:
    """Test accuracy against the energy spent so far, one line per run."""
    fig = go.Figure()
    keys = dict.fromkeys((c["model"], c["hardware"], c["policy"]) for c in curves)
    for model, hw, policy in keys:
        pts = [c for c in curves if (c["model"], c["hardware"], c["policy"]) == (model, hw, policy)]
        fig.add_trace(go.Scatter(x=[p["energy_pj"] / 1e9 for p in pts],
                                 y=[p["eval_acc"] for p in pts], mode="lines+markers",
                                 name=f"{model} / {hw} / {policy}"))
    fig.update_layout(title="Accuracy against energy spent", xaxis={"title": "mJ", "type": "log"},
                      yaxis={"title": "test accuracy"})
    return fig


def apt_tradeoff(apt_rows: list[dict[str, Any]], rows: list[dict[str, Any]]) -> go.Figure:
    """APT's accuracy against total energy, with the image model's fp32/qat/rct runs."""
    fig = go.Figure()
    for hw in dict.fromkeys(r["hardware"] for r in apt_rows):
        runs = [r for r in apt_rows if r["hardware"] == hw]
        fig.add_trace(go.Scatter(x=[r["total_energy"] / 1e9 for r in runs],
                                 y=[r["accuracy"] for r in runs], mode="lines+markers",
                                 text=[f"tradeoff {r['tradeoff']:g}" for r in runs],
                                 name=f"apt / {hw}"))
        others = [r for r in rows if r["hardware"] == hw and r["model"] == runs[0]["model"]]
        fig.add_trace(go.Scatter(x=[r["total_energy"] / 1e9 for r in others],
                                 y=[r["accuracy"] for r in others], mode="markers+text",
                                 text=[r["policy"] for r in others], name=f"others / {hw}"))
    fig.update_layout(title="APT: accuracy against training energy",
                      xaxis={"title": "mJ", "type": "log"}, yaxis={"title": "test accuracy"})
    return fig


def all_figures(result: dict[str, Any]) -> dict[str, go.Figure]:
    """Every figure of the study by file stem."""
    return {"energy_breakdown": breakdown(tables.ordered_rows(result) + result["apt"]),
            "accuracy_vs_energy": accuracy_vs_energy(result["curves"]),
            "apt_tradeoff": apt_tradeoff(result["apt"], result["rows"])}
