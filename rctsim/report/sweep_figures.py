"""Figures of a sweep report, built from sweep rows (rctsim.sweep.store columns).

A row is one finished point: its parameters (the `params` JSON of axis values, and the identity
columns: trace, policy, hardware fields) and its metric columns. Energies (`*_pj`) are plotted
in joules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import plotly.graph_objects as go

from rctsim.report.style import base_layout, policy_colours
from rctsim.sweep.pareto import Objective
from rctsim.units import PJ_TO_J

IDENTITY_COLUMNS = ("trace_name", "model", "policy", "iterations", "hw_name", "sram_bytes",
                    "array_rows", "array_cols", "dataflow", "precision_mode", "clock_hz",
                    "dram_bytes_per_s", "energy_table", "baseline")
"""Parameter columns every point has (shown on hover besides its axis values)."""
SHOWN_METRICS = ("energy_pj", "latency_s", "param_memory_bytes", "peak_memory_bytes",
                 "dram_traffic_bytes", "accuracy")
"""Metrics shown on hover and as parallel-coordinate axes (when every point has them)."""
UNITS = {"_pj": "J", "_s": "s", "_bytes": "B", "_mm2": "mm²"}
"""Unit of a column by the end of its name (energies converted from pJ to J)."""
FRONT_MARKER = 6
"""Size of front markers (their thick outline makes them look larger). plotly's hover floors
the distance of a marker larger than 6 px above 0, so a bigger front marker would lose the hover
to a grey point next to it; at 6, front points (drawn last, on top) win such ties."""
SYMBOLS = ("circle", "diamond", "square", "triangle-up")
"""Marker symbols of successive traces of one policy (their colour is the policy's)."""
DASHES = ("solid", "dash", "dot", "dashdot")
"""Line styles of successive traces of one policy."""
KB = 1024
"""Bytes per KB, as in the hardware presets and the sweep's `sram_kb` axis."""


def plotted(column: str, value: Any) -> float | None:
    """A column's value as plotted: energies in J, other numbers as they are; None stays."""
    if value is None:
        return None
    return float(value) * PJ_TO_J if column.endswith("_pj") else float(value)


TITLES = {
    "energy_pj": "total energy (J)", "gemm_energy_pj": "GEMM energy (J)",
    "mac_energy_pj": "MAC energy (J)", "sram_energy_pj": "SRAM energy (J)",
    "dram_energy_pj": "DRAM energy (J)", "leakage_energy_pj": "leakage energy (J)",
    "param_movement_energy_pj": "parameter movement energy (J)",
    "latency_s": "training time (s)", "param_memory_bytes": "parameter memory (B)",
    "peak_memory_bytes": "peak memory (B)", "peak_on_chip_bytes": "peak on chip (B)",
    "dram_traffic_bytes": "DRAM traffic (B)", "optimizer_bytes": "optimiser state (B)",
    "accuracy": "accuracy", "sram_bytes": "global buffer (B)",
    "sram_total_bytes": "on-chip memory (B)", "sram_area_mm2": "SRAM area (mm²)",
    "sram_kb": "global buffer (KB)", "dram_gb_per_s": "DRAM bandwidth (GB/s)",
    "trace_name": "trace", "hw_name": "hardware", "precision_mode": "precision mode",
    "energy_table": "energy table", "dram_bytes_per_s": "DRAM bandwidth (B/s)",
    "clock_hz": "clock (Hz)", "array_rows": "array rows", "array_cols": "array columns",
    "mean_w_bits": "mean weight bits", "cycles": "cycles", "macs": "MACs",
}
"""Titles in words, with the plotted unit, of the columns a sweep report shows."""


def axis_title(column: str) -> str:
    """Axis title of a column in words, with its plotted unit (`energy_pj` -> `total energy
    (J)`); other columns lose their unit suffix and underscores and gain the unit."""
    if column in TITLES:
        return TITLES[column]
    if column.startswith("saving_"):
        return f"saving in {column.removeprefix('saving_').replace('_', ' ')} (fraction)"
    for ending, unit in UNITS.items():
        if column.endswith(ending):
            return f"{column.removesuffix(ending).replace('_', ' ')} ({unit})"
    return column.replace("_", " ")


def point_params(row: dict[str, Any], axes: Sequence[str] = ()) -> dict[str, Any]:
    """Every parameter of a point: axis values, policy parameters, identity columns."""
    axis_values = row["params"] if isinstance(row.get("params"), dict) else {
        a: row.get(a) for a in axes}
    out = dict(axis_values)
    for name, value in (row.get("policy_params") or {}).items():
        out.setdefault(f"policy.{name}", value)
    for column in IDENTITY_COLUMNS:
        out.setdefault(column, row.get(column))
    return out


def hover_text(row: dict[str, Any], objectives: Sequence[Objective],
               axes: Sequence[str] = ()) -> str:
    """Hover text of a point: its number, every parameter, the objectives and main metrics."""
    lines = [f"<b>point {escape(str(row.get('point', row.get('key', '?')[:12])))}</b>"]
    lines += [f"{escape(str(k))}: {escape(str(v))}" for k, v in point_params(row, axes).items()]
    columns = dict.fromkeys([o.column for o in objectives] + list(SHOWN_METRICS))
    lines += [f"<b>{escape(axis_title(c))}</b>: {_short(plotted(c, row.get(c)))}"
              for c in columns]
    return "<br>".join(lines)


def _short(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _log_if_wide(values: list[float]) -> str:
    positive = [v for v in values if v is not None and v > 0]
    wide = positive and len(positive) == len(values) and max(positive) / min(positive) > 100
    return "log" if wide else "linear"


def _group_colours(rows: Sequence[dict[str, Any]], column: str = "policy") -> dict[str, str]:
    """A colour per policy among the rows (the same policy colour as in the run report)."""
    return policy_colours(list(dict.fromkeys(str(r.get(column)) for r in rows)))


def pareto_axes(objectives: Sequence[Objective]) -> tuple[str, str]:
    """Columns on x and y: the first two objectives (energy or latency added if only one)."""
    columns = [o.column for o in objectives]
    if len(columns) == 1:
        columns.append("latency_s" if columns[0] == "energy_pj" else "energy_pj")
    return columns[0], columns[1]


def pareto_figure(rows: Sequence[dict[str, Any]], front: Sequence[dict[str, Any]],
                  objectives: Sequence[Objective], axes: Sequence[str] = ()) -> go.Figure:
    """Every point coloured by its policy: the Pareto front outlined, the others faint; hover
    shows every parameter of a point."""
    x_col, y_col = pareto_axes(objectives)
    front_keys = {r["key"] for r in front}
    usable = [r for r in rows if r.get(x_col) is not None and r.get(y_col) is not None]
    others = [r for r in usable if r["key"] not in front_keys]
    fig = go.Figure()
    colours = _group_colours(usable, "policy")
    for policy, colour in colours.items():
        mine = [r for r in others if str(r.get("policy")) == policy]
        if not mine:
            continue
        fig.add_scatter(name=f"{policy}: off the front", legendgroup=policy,
                        x=[plotted(x_col, r[x_col]) for r in mine],
                        y=[plotted(y_col, r[y_col]) for r in mine], mode="markers",
                        marker={"color": colour, "size": 5, "opacity": 0.45},
                        customdata=[r["key"] for r in mine],
                        hovertext=[hover_text(r, objectives, axes) for r in mine],
                        hoverinfo="text")
    for policy, colour in colours.items():
        mine = sorted((r for r in front if str(r.get("policy")) == policy),
                      key=lambda r: (r[x_col], r[y_col]))
        if not mine:
            continue
        fig.add_scatter(name=f"front: {policy}", legendgroup=policy,
                        x=[plotted(x_col, r[x_col]) for r in mine],
                        y=[plotted(y_col, r[y_col]) for r in mine], mode="markers",
                        marker={"color": colour, "size": FRONT_MARKER,
                                "line": {"width": 1.5, "color": "#222"}},
                        customdata=[r["key"] for r in mine],
                        hovertext=[hover_text(r, objectives, axes) for r in mine],
                        hoverinfo="text")
    xs = [plotted(x_col, r[x_col]) for r in usable]
    ys = [plotted(y_col, r[y_col]) for r in usable]
    fig.update_layout(xaxis={"title": axis_title(x_col), "type": _log_if_wide(xs),
                             "tickformat": ".3~s"},
                      yaxis={"title": axis_title(y_col), "type": _log_if_wide(ys),
                             "tickformat": ".3~s"},
                      hoverlabel={"align": "left"})
    names = ", ".join(str(o) for o in objectives)
    return base_layout(fig, title=f"Pareto front ({names})", height=520)


def _dimension(label: str, values: list[Any]) -> dict[str, Any] | None:
    if any(v is None for v in values) or not values:
        return None
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        numbers = [float(v) for v in values]
        if any(math.isnan(v) for v in numbers):
            return None
        return {"label": label, "values": numbers}
    names = sorted({str(v) for v in values})
    index = {n: i for i, n in enumerate(names)}
    return {"label": label, "values": [index[str(v)] for v in values],
            "tickvals": list(range(len(names))), "ticktext": names}


REDUNDANT = {"sram_bytes": "sram_kb", "dram_bytes_per_s": "dram_gb_per_s", "model": "trace_name"}
"""Identity columns left off the parallel axes when the axis they restate is there."""


def _same_as(values: list[Any], params: list[dict[str, Any]], name: str) -> bool:
    other = REDUNDANT.get(name)
    return other is not None and all(other in p for p in params)


def _si_ticks(dim: dict[str, Any]) -> dict[str, Any]:
    """Numeric axes tick with SI prefixes (`896M`, not `0.8958B`)."""
    if "ticktext" not in dim:
        dim["tickformat"] = ".3~s"
    return dim


def parallel_dimensions(rows: Sequence[dict[str, Any]], front: Sequence[dict[str, Any]],
                        objectives: Sequence[Objective],
                        axes: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Parallel-coordinate axes: varying parameters, the objectives, main metrics, on-front."""
    params = [point_params(r, axes) for r in rows]
    names = list(dict.fromkeys(k for p in params for k in p))
    dims = []
    for name in names:
        values = [p.get(name) for p in params]
        if len({str(v) for v in values}) > 1 and not _same_as(values, params, name):
            dims.append(_dimension(axis_title(name), values))
    for column in dict.fromkeys([o.column for o in objectives] + list(SHOWN_METRICS)):
        if column in names:
            continue
        dims.append(_dimension(axis_title(column),
                               [plotted(column, r.get(column)) for r in rows]))
    front_keys = {r["key"] for r in front}
    dims.append(_dimension("on front", [int(r["key"] in front_keys) for r in rows]))
    return [_si_ticks(d) for d in dims if d is not None]


def parallel_figure(rows: Sequence[dict[str, Any]], front: Sequence[dict[str, Any]],
                    objectives: Sequence[Objective], axes: Sequence[str] = ()) -> go.Figure:
    """Every point as a line across its parameters and metrics, coloured by policy."""
    colours = _group_colours(rows, "policy")
    groups = list(colours)
    n = max(len(groups) - 1, 1)
    scale = [[i / n, colours[g]] for i, g in enumerate(groups)] if len(groups) > 1 else \
        [[0, colours[groups[0]]], [1, colours[groups[0]]]]
    fig = go.Figure(go.Parcoords(
        dimensions=parallel_dimensions(rows, front, objectives, axes),
        line={"color": [groups.index(str(r.get("policy"))) for r in rows],
              "colorscale": scale, "cmin": 0, "cmax": n},
        labelangle=-30, labelside="top", labelfont={"size": 11}, tickfont={"size": 10}))
    fig = base_layout(fig, title="All points, coloured by policy; drag along an axis to filter",
                      height=560)
    key = "   ".join(f"<span style='color:{c}'>■</span> {escape(g)}" for g, c in colours.items())
    fig.add_annotation(text=key, xref="paper", yref="paper", x=0, y=-0.02, xanchor="left",
                       yanchor="top", showarrow=False, font={"size": 13})
    fig.update_layout(margin={"l": 80, "r": 80, "t": 170, "b": 50})
    return fig


def energy_sram_figure(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Energy against global-buffer size per policy point: every point, and the best per size."""
    usable = [r for r in rows if r.get("sram_bytes") is not None and r.get("energy_pj")
              is not None]
    policy_colour = _group_colours(usable, "policy")
    traces = list(dict.fromkeys(str(r.get("trace_name")) for r in usable))
    fig = go.Figure()
    seen: dict[str, int] = {}
    for label in traces:
        mine = [r for r in usable if str(r.get("trace_name")) == label]
        policy = str(mine[0].get("policy"))
        colour = policy_colour[policy]
        nth = seen[policy] = seen.get(policy, -1) + 1  # several traces of one policy: symbols
        fig.add_scatter(name=f"{label} ({policy})" if label != policy else label,
                        legendgroup=label, x=[r["sram_bytes"] for r in mine],
                        y=[plotted("energy_pj", r["energy_pj"]) for r in mine], mode="markers",
                        marker={"color": colour, "size": 7, "opacity": 0.55,
                                "symbol": SYMBOLS[nth % len(SYMBOLS)]},
                        customdata=[r["key"] for r in mine],
                        hovertemplate="SRAM %{x:.4s}B<br>%{y:.4s}J<extra>" + escape(label)
                                      + "</extra>")
        best = best_per_size(mine)
        fig.add_scatter(name=f"{label} (best per size)", legendgroup=label, showlegend=False,
                        x=list(best), y=[plotted("energy_pj", v) for v in best.values()],
                        mode="lines", hoverinfo="skip",
                        line={"color": colour, "width": 2, "dash": DASHES[nth % len(DASHES)]})
    sizes = sorted({int(r["sram_bytes"]) for r in usable})
    fig.update_layout(xaxis={"title": "global buffer (log scale)", "type": "log",
                             "tickvals": sizes, "ticktext": [f"{s / KB:g} KB" for s in sizes]},
                      yaxis={"title": axis_title("energy_pj"), "tickformat": ".3~s"})
    return base_layout(fig, title="Total energy against global-buffer size, coloured by policy "
                                  "(line: lowest energy at each size)")


def best_per_size(rows: Sequence[dict[str, Any]]) -> dict[int, float]:
    """Lowest `energy_pj` at each `sram_bytes`, sizes ascending."""
    best: dict[int, float] = {}
    for r in rows:
        size = int(r["sram_bytes"])
        best[size] = min(best.get(size, math.inf), float(r["energy_pj"]))
    return dict(sorted(best.items()))


def hypervolume_figure(curves: dict[str, list[float]]) -> go.Figure:
    """Hypervolume of the front found so far against evaluations, one line per search
    (`rctsim.sweep.search_metrics`: objectives normalised by the ideal and nadir of the front
    of every ok point of the store, reference point 1.1 in each)."""
    fig = go.Figure()
    for label, curve in curves.items():
        fig.add_trace(go.Scatter(x=list(range(1, len(curve) + 1)), y=curve, mode="lines",
                                 name=label))
    fig.update_xaxes(title_text="evaluations")
    fig.update_yaxes(title_text="hypervolume (normalised objectives, reference 1.1)",
                     rangemode="tozero")
    return base_layout(fig, title="Hypervolume of the front against evaluations")


def importance_figure(shares: dict[str, dict[str, float]]) -> go.Figure:
    """Share of each objective's variance every axis explains (eta², grouped bars: axes on
    the x axis, one bar per objective)."""
    fig = go.Figure()
    for objective, by_axis in shares.items():
        fig.add_trace(go.Bar(x=list(by_axis), y=list(by_axis.values()),
                             name=axis_title(objective)))
    fig.update_xaxes(title_text="axis")
    fig.update_yaxes(title_text="share of variance explained (eta²)", range=[0, 1])
    fig.update_layout(barmode="group")
    return base_layout(fig, title="Which axes matter: variance of each objective explained "
                                  "by each axis alone")
