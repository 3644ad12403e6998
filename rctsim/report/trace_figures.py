"""Figures of a run report that need the trace: bitwidths over iterations, energy to accuracy."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from rctsim.report.style import base_layout, policy_colours
from rctsim.trace.model import OPERANDS, Series, Trace
from rctsim.units import PJ_TO_J

HEATMAP_OPERANDS = ("w", "a", "g")
"""Operands with a heatmap (the accumulator is left out); `w` is shown first."""
QUALITY_METRICS = (("eval_acc", "evaluation accuracy"), ("train_acc", "training accuracy"),
                   ("loss", "training loss"))
"""Metrics plotted against energy, in order of preference, with their axis titles."""


MAX_COLUMNS = 2000
"""Most columns of the bit heatmap; more phases are merged into runs of consecutive phases."""
MAX_POINTS = 4000
"""Most points drawn of a metric series; a longer one is thinned (every k-th point, last kept)."""


def _phase_groups(trace: Trace, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(column edges in iterations, iteration-weighted mean bits [columns, layers, 4], whether
    phases were merged): one column per phase, or `limit` runs of consecutive phases."""
    n = len(trace.phase_start)
    edges = np.append(trace.phase_start, trace.iterations)
    if n <= limit:
        return edges, trace.phase_bits.astype(np.float64), False
    cut = np.linspace(0, n, limit + 1).astype(np.int64)[:-1]
    bounds = np.append(cut, n)
    lengths = trace.phase_lengths()
    weighted = np.stack([np.einsum("p,plo->lo", lengths[a:b], trace.phase_bits[a:b],
                                   dtype=np.int64).astype(np.float64)
                         for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    span = np.diff(np.append(trace.phase_start[cut], trace.iterations)).astype(np.float64)
    return np.append(trace.phase_start[cut], trace.iterations), weighted / span[:, None, None], \
        True


def bits_downsampled(trace: Trace) -> bool:
    """Whether the bit heatmap merges phases (more than MAX_COLUMNS)."""
    return len(trace.phase_start) > MAX_COLUMNS


def bits_figure(trace: Trace) -> go.Figure:
    """Heatmap of each layer's bits over the iterations (phases as bins); w, a, g selectable.

    Beyond MAX_COLUMNS phases, each column is a run of consecutive phases showing the bits
    averaged over its iterations."""
    edges_arr, mean_bits, merged = _phase_groups(trace, MAX_COLUMNS)
    edges = [int(s) for s in edges_arr]
    names = [layer.name for layer in trace.layers]
    spans = [f"{a}–{b - 1}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    what = "mean bits" if merged else "bits"
    fig = go.Figure()
    for operand in HEATMAP_OPERANDS:
        col = OPERANDS.index(operand)
        values = mean_bits[:, :, col].T
        z = (np.round(values, 3) if merged else values.astype(int)).tolist()
        fig.add_heatmap(
            x=edges, y=names, z=z, name=operand, visible=operand == HEATMAP_OPERANDS[0],
            customdata=[spans for _ in names], colorscale="Viridis",
            colorbar={"title": {"text": what}},
            hovertemplate="%{y}<br>iterations %{customdata}<br>" + operand
                          + f" = %{{z}} {what}<extra></extra>")
    buttons = [{"label": f"{op} bits", "method": "update",
                "args": [{"visible": [o == op for o in HEATMAP_OPERANDS]}]}
               for op in HEATMAP_OPERANDS]
    fig.update_layout(updatemenus=[{"buttons": buttons, "type": "buttons", "direction": "right",
                                    "x": 1.0, "xanchor": "right", "y": 1.08, "yanchor": "bottom"}],
                      xaxis_title="iteration", yaxis={"autorange": "reversed", "title": "layer"})
    height = min(max(300, 120 + 16 * len(names)), 900)
    return base_layout(fig, title="Bitwidth of each layer over the iterations", height=height)


def quality_metric(trace: Trace) -> tuple[str, str] | None:
    """(metric name, axis title) of the trace's metric to plot against energy, if any."""
    for name, title in QUALITY_METRICS:
        if name in trace.metrics and len(trace.metrics[name].iteration):
            return name, title
    return None


def cumulative_energy_j(summary: dict, series: Series) -> list[float]:
    """Energy spent (J) when each measurement was taken.

    A measurement at iteration i follows i + 1 iterations. Exact from the run JSON's per-phase
    energies (`phase_energy`); a JSON without them (older runs) falls back to the mean rate.
    """
    done = np.asarray(series.iteration, dtype=np.float64) + 1
    phases = summary.get("phase_energy") or []
    if not phases:
        per_iteration = summary["energy_pj"]["total"] / summary["iterations"]
        return (done * per_iteration * PJ_TO_J).tolist()
    start = np.array([p["start"] for p in phases], dtype=np.float64)
    stop = np.array([p["stop"] for p in phases], dtype=np.float64)
    rate = np.array([p["energy_pj_per_iteration"] for p in phases])
    before = np.concatenate(([0.0], np.cumsum(rate * (stop - start))))  # energy up to start[i]
    i = np.clip(np.searchsorted(start, done, side="right") - 1, 0, len(start) - 1)
    inside = np.clip(np.minimum(done, stop[i]) - start[i], 0, None)
    return ((before[i] + inside * rate[i]) * PJ_TO_J).tolist()


def thinned(n: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most `limit` evenly spread points of `n` (first and last kept)."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def energy_accuracy_figure(run: dict, trace: Trace,
                           baseline_trace: Trace | None = None) -> go.Figure | None:
    """Cumulative energy against the trace's accuracy (or loss), per policy; None if no metric."""
    chosen = quality_metric(trace)
    if chosen is None:
        return None
    metric, title = chosen
    colours = policy_colours(list(run["policies"]))
    fig = go.Figure()
    for label, summary in run["policies"].items():
        source, name, dash = trace, label, "solid"
        if summary["role"] == "baseline (counterfactual)":
            name, dash = f"{label} (counterfactual: the trace's {metric} per iteration)", "dash"
        elif summary["role"] == "baseline (trace)":
            if baseline_trace is None or metric not in baseline_trace.metrics:
                continue
            source = baseline_trace
        full = source.metrics[metric]
        keep = thinned(len(full.iteration))
        series = Series(full.iteration[keep], full.value[keep])
        fig.add_scatter(
            name=name, x=cumulative_energy_j(summary, series), y=series.value.tolist(),
            customdata=series.iteration.tolist(),
            mode="lines+markers", meta=label,
            line={"color": colours[label], "dash": dash},
            hovertemplate=f"{title} %{{y:.4g}}<br>energy %{{x:.4s}}J<br>after iteration "
                          "%{customdata}<extra>" + label + "</extra>")
    fig.update_layout(xaxis_title="cumulative energy (J)", yaxis_title=title,
                      legend={"orientation": "h", "y": -0.2})
    return base_layout(fig, title=f"Energy spent against {title}")


def downsampling_notes(run: dict, trace: Trace) -> list[str]:
    """Notes on figures that draw fewer points than the data hold (totals stay exact)."""
    notes = []
    if bits_downsampled(trace):
        notes.append(f"The trace has {len(trace.phase_start):,} phases: the bit heatmap shows "
                     f"{MAX_COLUMNS:,} columns, each a run of consecutive phases with its bits "
                     "averaged over its iterations.")
    merged = [label for label, s in run["policies"].items()
              if len(s.get("phase_energy") or ()) < s["phases"]
              and any("phases" in p for p in s.get("phase_energy") or ())]
    if merged:
        notes.append(f"{', '.join(merged)}: the run JSON merges consecutive phases into runs "
                     "with their mean energy per iteration (totals exact; cumulative energy "
                     "exact at the runs' ends).")
    chosen = quality_metric(trace)
    if chosen is not None and len(trace.metrics[chosen[0]].iteration) > MAX_POINTS:
        notes.append(f"The metric {chosen[0]} has {len(trace.metrics[chosen[0]].iteration):,} "
                     f"records: the energy figure draws {MAX_POINTS:,} of them, evenly spread.")
    return notes


def mean_rate_caveat(run: dict) -> str | None:
    """A note when some policy's energy per iteration varies over the run (more than one
    distinct phase), so that its cumulative-energy curve uses the run's mean rate."""
    varying = [label for label, s in run["policies"].items()
               if s["distinct_phases"] > 1 and not s.get("phase_energy")]
    if not varying:
        return None
    return (f"{', '.join(varying)}: the bits change over the run, and the run JSON holds totals "
            "only, so cumulative energy uses the run's mean energy per iteration (end points "
            "exact, the path between them approximate).")
