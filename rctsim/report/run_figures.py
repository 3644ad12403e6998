"""Figures of a run report built from the run JSON alone: energy, memory, step timeline."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rctsim.report.style import (
    OP_COLOURS,
    base_layout,
    category_colours,
    policy_colours,
    readable,
)
from rctsim.summary import role_label
from rctsim.units import PJ_TO_J, si

BREAKDOWNS = ("op", "component", "tensor", "non-GEMM kind")
"""Breakdowns stacked side by side in the energy-breakdown figure (layer has its own);
`non-GEMM kind` is `energy_pj.non_gemm.parts` (absent from run JSONs before it existed)."""
MEMORY_PARTS = ("params", "master_copy", "optimizer", "activations_peak", "gradients_peak",
                "workspace_peak")
"""Footprint parts of `memory_bytes`, as plotted."""
PEAK_BARS = ("on chip", "off chip", "total")
"""Bars of the peak-memory panel: peak on chip, peak total minus it, peak total."""
GEMM_OPS = ("fwd", "dgrad", "wgrad")
"""Ops that run on the array (utilisation counts these)."""
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
    keys_by: dict[str, dict[str, None]] = {}
    for by in BREAKDOWNS:
        keys_by[by] = {}
        for summary in run["policies"].values():
            keys_by[by].update(dict.fromkeys(_breakdown(summary, by)))
    colours = category_colours([k for keys in keys_by.values() for k in keys])
    for col, by in enumerate(BREAKDOWNS, start=1):
        legend = "legend" if col == 1 else f"legend{col}"
        for key in keys_by[by]:
            values = [_breakdown(run["policies"][p], by).get(key, 0.0) * PJ_TO_J
                      for p in labels]
            name = readable(key)
            fig.add_bar(name=name, x=labels, y=values, legend=legend, row=1, col=col,
                        meta=by, customdata=[key] * len(labels), marker_color=colours[key],
                        hovertemplate=f"{by} {name}<br>%{{x}}: %{{y:.4s}}J<extra></extra>")
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
        fig.add_bar(name=label, x=[readable(p) for p in MEMORY_PARTS],
                    y=[float(memory[p]) for p in MEMORY_PARTS], customdata=list(MEMORY_PARTS),
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
                name=readable(kind), orientation="h", y=[iv["lane"] for iv in mine],
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


def energy_per_iteration_figure(run: dict) -> go.Figure:
    """Energy of one iteration (J) over training, per policy: a step per phase of constant bits
    (from each policy's `phase_energy`)."""
    colours = policy_colours(_policies(run))
    fig = go.Figure()
    for label, summary in run["policies"].items():
        phases = summary.get("phase_energy") or []
        if not phases:
            continue
        xs, ys = [], []
        for p in phases:
            xs += [p["start"], p["stop"]]
            ys += [p["energy_pj_per_iteration"] * PJ_TO_J] * 2
        fig.add_scatter(name=label, x=xs, y=ys, mode="lines", line={"color": colours[label]},
                        hovertemplate="iteration %{x:,}<br>%{y:.4s}J per iteration<extra>"
                                      + label + "</extra>")
    fig.update_layout(xaxis_title="training iteration",
                      yaxis={"title": "energy of one iteration (J)", "tickformat": ".3~s",
                             "rangemode": "tozero"})
    return base_layout(fig, title="Energy per iteration over training")


def layer_component_figure(run: dict) -> go.Figure:
    """Energy of each layer over the run (J) split by component: one panel per policy, stacked
    bars in the component colours."""
    labels = [p for p in _policies(run) if run["policies"][p].get("per_layer")]
    fig = make_subplots(rows=max(len(labels), 1), cols=1, shared_xaxes=True,
                        vertical_spacing=0.1,
                        subplot_titles=[f"{p} ({role_label(run['policies'][p]['role'])})"
                                        for p in labels])
    components: dict[str, None] = {}
    for p in labels:
        for layer in run["policies"][p]["per_layer"].values():
            components.update(dict.fromkeys(layer["energy_pj"]))
    colours = category_colours(list(components))
    for row, label in enumerate(labels, start=1):
        per_layer = run["policies"][label]["per_layer"]
        layers = [k for k in per_layer if k != STEP_WIDE] + (
            [STEP_WIDE] if STEP_WIDE in per_layer else [])
        for comp in components:
            name = readable(comp)
            fig.add_bar(name=name, legendgroup=comp, showlegend=row == 1, row=row, col=1,
                        x=layers, meta=label, customdata=[comp] * len(layers),
                        y=[per_layer[k]["energy_pj"].get(comp, 0.0) * PJ_TO_J for k in layers],
                        marker_color=colours[comp],
                        hovertemplate="%{x}<br>" + name + ": %{y:.4s}J<extra>" + label
                                      + "</extra>")
        fig.update_yaxes(title_text="energy (J)", tickformat=".3~s", row=row, col=1)
    fig.update_xaxes(tickangle=-45, title_text="layer (* = step-wide leakage)",
                     row=max(len(labels), 1), col=1)
    fig.update_layout(barmode="stack")
    return base_layout(fig, title="Energy of each layer by component",
                       height=200 + 260 * max(len(labels), 1))


def layer_step_cycles(timeline: list[dict]) -> dict[str, dict[str, float]]:
    """Per layer, in one simulated step: `busy` cycles of its GEMMs (fwd, dgrad, wgrad) on the
    compute lane and `waiting` cycles (the compute lane idle before one of the layer's ops
    starts, waiting for its data). Labels are `LAYER.OP`."""
    out: dict[str, dict[str, float]] = {}
    last_end = 0.0
    for iv in sorted((iv for iv in timeline if iv["lane"] == "compute"),
                     key=lambda iv: iv["start"]):
        layer, op = iv["label"].rsplit(".", 1)
        cell = out.setdefault(layer, {"busy": 0.0, "waiting": 0.0})
        if op in GEMM_OPS:
            cell["busy"] += iv["end"] - iv["start"]
        cell["waiting"] += max(iv["start"] - last_end, 0.0)
        last_end = max(last_end, iv["end"])
    return out


def layer_utilisation_figure(run: dict, *, pes: int) -> go.Figure:
    """Per layer, one step of the first phase: array utilisation (MACs / (PEs x busy cycles))
    and the cycles the array waits for memory before the layer's ops, per policy."""
    colours = policy_colours(_policies(run))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["array utilisation while computing",
                                        "cycles waiting for memory (one step)"])
    for label, summary in run["policies"].items():
        cycles = layer_step_cycles(summary.get("timeline") or [])
        per_layer = summary.get("per_layer") or {}
        layers = [k for k in cycles if k in per_layer]
        if not layers:
            continue
        util = [per_layer[k]["macs"] / summary["iterations"] / (pes * cycles[k]["busy"])
                if cycles[k]["busy"] else None for k in layers]
        fig.add_bar(name=label, legendgroup=label, x=layers, y=util, row=1, col=1,
                    marker_color=colours[label],
                    hovertemplate="%{x}: %{y:.1%}<extra>" + label + "</extra>")
        fig.add_bar(name=label, legendgroup=label, showlegend=False, x=layers, row=2, col=1,
                    y=[cycles[k]["waiting"] for k in layers], marker_color=colours[label],
                    hovertemplate="%{x}: %{y:,.0f} cycles<extra>" + label + "</extra>")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], title_text="utilisation", row=1, col=1)
    fig.update_yaxes(tickformat=".3~s", title_text="cycles", row=2, col=1)
    fig.update_xaxes(tickangle=-45, title_text="layer", row=2, col=1)
    fig.update_layout(barmode="group")
    return base_layout(fig, title="Array utilisation and memory waits per layer", height=640)
