"""Figures of a run report built from the run JSON alone: energy, memory, step timeline."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rctsim.report.style import OP_COLOURS, base_layout, policy_colours
from rctsim.units import PJ_TO_J, si

BREAKDOWNS = ("op", "component", "tensor", "non-GEMM kind")
"""Breakdowns stacked side by side in the energy-breakdown figure (layer has its own);
`non-GEMM kind` is `energy_pj.non_gemm.parts` (absent from run JSONs before it existed)."""
MEMORY_PARTS = ("params", "master_copy", "optimizer", "activations_peak", "gradients_peak",
                "workspace_peak")
"""Footprint parts of `memory_bytes`, as plotted."""
PEAK_BARS = ("on chip", "off chip", "total")
"""Bars of the peak-memory panel: peak on chip, peak total minus it, peak total."""
STEP_WIDE = "*"
"""Breakdown key of step-wide energy (leakage) in the run JSON."""


def _policies(run: dict) -> list[str]:
    return list(run["policies"])


def energy_by_layer_figure(run: dict, layer_order: list[str] | None = None) -> go.Figure:
    """Energy per layer (J), one bar per policy; step-wide leakage last as `*`."""
    colours = policy_colours(_policies(run))
    seen: dict[str, None] = dict.fromkeys(layer_order or [])
    for summary in run["policies"].values():
        seen.update(dict.fromkeys(summary["breakdown_energy_pj"]["layer"]))
    layers = [k for k in seen if k != STEP_WIDE] + ([STEP_WIDE] if STEP_WIDE in seen else [])
    fig = go.Figure()
    for label, summary in run["policies"].items():
        by_layer = summary["breakdown_energy_pj"]["layer"]
        fig.add_bar(name=label, x=layers, y=[by_layer.get(k, 0.0) * PJ_TO_J for k in layers],
                    marker_color=colours[label],
                    hovertemplate="%{x}<br>%{y:.4s}J<extra>" + label + "</extra>")
    fig.update_layout(barmode="group", xaxis_title="layer (* = step-wide leakage)",
                      yaxis_title="energy over the run (J)", xaxis_tickangle=-45)
    return base_layout(fig, title="Energy by layer")


def _breakdown(summary: dict, by: str) -> dict[str, float]:
    if by == "non-GEMM kind":
        non_gemm = summary["energy_pj"].get("non_gemm")
        return non_gemm["parts"] if isinstance(non_gemm, dict) else {}
    return summary["breakdown_energy_pj"][by]


def energy_breakdown_figure(run: dict) -> go.Figure:
    """Energy (J) by op, component, tensor class and non-GEMM kind: one stacked bar per policy,
    per panel."""
    labels = _policies(run)
    fig = make_subplots(rows=1, cols=len(BREAKDOWNS), horizontal_spacing=0.07,
                        subplot_titles=[f"by {b}" for b in BREAKDOWNS])
    for col, by in enumerate(BREAKDOWNS, start=1):
        keys: dict[str, None] = {}
        for summary in run["policies"].values():
            keys.update(dict.fromkeys(_breakdown(summary, by)))
        legend = "legend" if col == 1 else f"legend{col}"
        for key in keys:
            values = [_breakdown(run["policies"][p], by).get(key, 0.0) * PJ_TO_J
                      for p in labels]
            fig.add_bar(name=key, x=labels, y=values, legend=legend, row=1, col=col,
                        meta=by, hovertemplate=f"{by} {key}<br>%{{x}}: %{{y:.4s}}J<extra></extra>")
    fig.update_layout(barmode="stack")
    for col in range(1, len(BREAKDOWNS) + 1):
        key = "legend" if col == 1 else f"legend{col}"
        x0 = (col - 1) / len(BREAKDOWNS)
        fig.update_layout({key: {"x": x0, "y": -0.12, "xanchor": "left", "yanchor": "top",
                                 "orientation": "v", "font": {"size": 11}}})
    fig.update_yaxes(title_text="energy over the run (J)", row=1, col=1)
    fig = base_layout(fig, title="Energy by op, component, tensor class and non-GEMM kind",
                      height=640)
    fig.update_layout(margin={"b": 230})
    return fig


def peak_split(memory: dict) -> dict[str, float]:
    """Peak memory of a step: on chip, off chip (peak total minus on chip) and total, bytes."""
    on_chip, total = float(memory["peak_on_chip"]), float(memory["peak_total"])
    return {"on chip": on_chip, "off chip": max(total - on_chip, 0.0), "total": total}


def memory_figure(run: dict, *, on_chip_bytes: float | None = None) -> go.Figure:
    """Memory footprint of a step per policy: its parts, and the peak on chip and off."""
    colours = policy_colours(_policies(run))
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.09,
                        subplot_titles=["footprint parts (per step)",
                                        "peak: on chip and off"])
    for label, summary in run["policies"].items():
        memory = summary["memory_bytes"]
        fig.add_bar(name=label, x=list(MEMORY_PARTS), y=[float(memory[p]) for p in MEMORY_PARTS],
                    marker_color=colours[label], legendgroup=label, row=1, col=1,
                    hovertemplate="%{x}: %{y:.4s}B<extra>" + label + "</extra>")
        split = peak_split(memory)
        fig.add_bar(name=label, x=list(PEAK_BARS), y=[split[p] for p in PEAK_BARS],
                    marker_color=colours[label], legendgroup=label, showlegend=False, row=1,
                    col=2, hovertemplate="peak %{x}: %{y:.4s}B<extra>" + label + "</extra>")
    if on_chip_bytes is not None:
        fig.add_scatter(name=f"global buffer ({si(on_chip_bytes, 'B')})", x=list(PEAK_BARS),
                        y=[on_chip_bytes] * len(PEAK_BARS), mode="lines", row=1, col=2,
                        line={"dash": "dash", "color": "#555"},
                        hovertemplate="global buffer %{y:.4s}B<extra></extra>")
    fig.update_yaxes(type="log", dtick="D2", tickformat="~s", title_text="bytes (log)", row=1,
                     col=1)
    fig.update_yaxes(type="log", dtick="D2", tickformat="~s", row=1, col=2)
    fig.update_layout(barmode="group")
    return base_layout(fig, title="Memory footprint of one training step")


def _op_kind(label: str) -> str:
    return label.rsplit(".", 1)[-1]


def timeline_figure(run: dict) -> go.Figure:
    """One step's DMA and compute lanes per policy (cycles), coloured by op."""
    labels = [p for p in _policies(run) if run["policies"][p]["timeline"]]
    fig = make_subplots(rows=max(len(labels), 1), cols=1, vertical_spacing=0.12,
                        subplot_titles=[f"{p}: one step of its first phase" for p in labels])
    for row, label in enumerate(labels, start=1):
        intervals = run["policies"][label]["timeline"]
        for kind, colour in OP_COLOURS.items():
            mine = [iv for iv in intervals if _op_kind(iv["label"]) == kind]
            if not mine:
                continue
            fig.add_bar(
                name=kind, orientation="h", y=[iv["lane"] for iv in mine],
                x=[iv["end"] - iv["start"] for iv in mine], base=[iv["start"] for iv in mine],
                customdata=[[iv["label"], iv["start"], iv["end"]] for iv in mine],
                marker_color=colour, legendgroup=kind, showlegend=row == 1, meta=label,
                hovertemplate="%{customdata[0]}<br>cycles %{customdata[1]:,.0f} – "
                              "%{customdata[2]:,.0f}<extra>" + label + " %{y}</extra>",
                row=row, col=1)
        fig.update_yaxes(categoryorder="array", categoryarray=["compute", "dma"], row=row, col=1)
    fig.update_xaxes(title_text="cycles", row=max(len(labels), 1), col=1)
    fig.update_layout(barmode="overlay", bargap=0.3)
    return base_layout(fig, title="Timeline of one step (discrete-event simulation)",
                       height=170 + 190 * max(len(labels), 1))
