"""The run report's several-baselines view: the trace's policy against every baseline of the run.

Built from the run JSON alone: each headline metric side by side (small multiples and a table),
the saving per iteration over training (from each policy's `phase_energy`), and the mean energy
of one iteration by component. A run JSON of version 1, or one made before `comparisons`
existed, holds one `comparison`: the view then shows that one baseline.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from html import escape

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rctsim.report.style import base_layout, category_colours, policy_colours, readable
from rctsim.result import saving
from rctsim.summary import role_label
from rctsim.units import PJ_TO_J, percent, si


@dataclass(frozen=True)
class Metric:
    """One headline metric of the several-baselines view."""

    key: str
    """Short name (the figure's `meta`, the table's `data-metric`)."""
    title: str
    """What a reader sees."""
    field: str
    """Policy-summary field (docs/run-json.md)."""
    keys: tuple[str, ...]
    """Keys of `field` tried in order (the first present is read); empty: `field` is a number."""
    unit: str
    """`J` (the JSON's pJ x 1e-12), `B` or `s`."""
    axis: str
    """The y-axis title, in words."""

    @property
    def plain(self) -> str:
        """The title on one line (no `<br>`)."""
        return self.title.replace("<br>", " ")


HEADLINE_METRICS: tuple[Metric, ...] = (
    Metric("gemm_arith", "GEMM energy, arithmetic", "energy_pj", ("gemm_arith", "gemm"), "J",
           "energy (J)"),
    Metric("gemm_datapath", "GEMM energy, datapath", "energy_pj", ("gemm_datapath",), "J",
           "energy (J)"),
    Metric("param_memory", "parameter memory", "memory_bytes", ("param_total",), "B",
           "bytes"),
    Metric("param_memory_with_optimizer", "parameter memory<br>with optimiser state",
           "memory_bytes", ("params_with_optimizer",), "B", "bytes"),
    Metric("param_movement", "parameter movement energy", "energy_pj", ("param_movement",), "J",
           "energy (J)"),
    Metric("dram_traffic", "DRAM traffic", "traffic_bytes", ("dram_total",), "B", "bytes"),
    Metric("total_energy", "total energy", "energy_pj", ("total",), "J", "energy (J)"),
    Metric("latency", "latency", "seconds", (), "s", "seconds"),
)
"""The metrics of the view, in page order. `gemm_arith` falls back to `gemm` (the same number,
the only one in version 1); a metric no policy of the run has (`gemm_datapath` and
`params_with_optimizer` in older JSONs) is left out with a note."""
PANEL_COLUMNS = 4
"""Small multiples per row."""


def baseline_labels(run: dict) -> list[str]:
    """The run's baselines in the order given: `comparisons`, else the one `comparison`."""
    comparisons = run.get("comparisons")
    if isinstance(comparisons, dict) and comparisons:
        return [label for label in comparisons if label in run["policies"]]
    base = (run.get("comparison") or {}).get("baseline")
    return [base] if base in run["policies"] else []


def metric_value(summary: dict, metric: Metric) -> float | None:
    """The metric of one policy summary in its plotted unit (J, B, s); None when absent."""
    value = summary.get(metric.field)
    for key in metric.keys:
        if isinstance(value, dict) and key in value:
            value = value[key]
            break
    else:
        if metric.keys:
            return None
    if not isinstance(value, int | float):
        return None
    return float(value) * (PJ_TO_J if metric.field == "energy_pj" else 1.0)


def present_metrics(run: dict, labels: list[str]) -> list[Metric]:
    """The headline metrics every one of `labels` has."""
    return [m for m in HEADLINE_METRICS
            if all(metric_value(run["policies"][p], m) is not None for p in labels)]


def missing_metrics_note(run: dict) -> str | None:
    """A note naming the headline metrics the run JSON does not hold (older versions)."""
    ours = run["trace"]["policy"]
    labels = [ours, *baseline_labels(run)]
    present = present_metrics(run, labels)
    missing = [m.plain for m in HEADLINE_METRICS if m not in present]
    if not missing:
        return None
    return (f"This run JSON (version {run['schema_version']}) does not hold "
            f"{', '.join(missing)}: left out of the several-baselines view.")


def baselines_figure(run: dict) -> go.Figure:
    """Each headline metric in its own panel: one bar for the trace's policy and one per
    baseline, in the policies' colours; hover shows the saving against that baseline."""
    ours = run["trace"]["policy"]
    labels = [ours, *baseline_labels(run)]
    metrics = present_metrics(run, labels)
    colours = policy_colours(list(run["policies"]))
    rows = max(1, -(-len(metrics) // PANEL_COLUMNS))
    fig = make_subplots(rows=rows, cols=PANEL_COLUMNS, horizontal_spacing=0.07,
                        vertical_spacing=0.16,
                        subplot_titles=[f"{m.title} ({m.unit})" for m in metrics])
    for i, metric in enumerate(metrics):
        row, col = divmod(i, PANEL_COLUMNS)
        mine = metric_value(run["policies"][ours], metric)
        for label in labels:
            value = metric_value(run["policies"][label], metric)
            text = "" if label == ours else (
                f"<br>{escape(ours)}: {_saving_words(saving(mine, value))} than it")
            fig.add_bar(name=label, x=[label], y=[value], meta=metric.key,
                        marker_color=colours[label], legendgroup=label, showlegend=i == 0,
                        row=row + 1, col=col + 1,
                        hovertemplate=f"{metric.plain}: %{{y:.4s}}{metric.unit}{text}"
                                      f"<extra>{escape(label)}</extra>")
        fig.update_yaxes(title_text=metric.axis, tickformat="~s", rangemode="tozero",
                         row=row + 1, col=col + 1)
        fig.update_xaxes(showticklabels=False, row=row + 1, col=col + 1)
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.08})
    return base_layout(fig, title=f"{ours} against each baseline, metric by metric",
                       height=140 + 270 * rows)


def baselines_table_html(run: dict) -> str:
    """The view's numbers as a table: each metric, the trace's policy, each baseline and the
    saving `1 - ours/baseline` against it. Cells carry their raw numbers as data attributes."""
    ours = run["trace"]["policy"]
    bases = baseline_labels(run)
    metrics = present_metrics(run, [ours, *bases])
    head = "".join(f'<th colspan="2">{escape(b)} '
                   f'<span class="role">({escape(role_label(run["policies"][b]["role"]))})'
                   '</span></th>'
                   for b in bases)
    sub = "".join("<th>value</th><th>saving</th>" for _ in bases)
    body = []
    for m in metrics:
        mine = metric_value(run["policies"][ours], m)
        cells = [f'<td data-metric="{m.key}" data-policy="{escape(ours)}" '
                 f'data-value="{mine!r}">{si(mine, m.unit)}</td>']
        for b in bases:
            value = metric_value(run["policies"][b], m)
            save = saving(mine, value)
            cls = "" if save is None else (' class="better"' if save > 0 else ' class="worse"')
            cells.append(f'<td data-metric="{m.key}" data-policy="{escape(b)}" '
                         f'data-value="{value!r}">{si(value, m.unit)}</td>'
                         f'<td{cls} data-metric="{m.key}" data-saving="{escape(b)}" '
                         f'data-value="{"" if save is None else repr(save)}">'
                         f'{_saving_words(save)}</td>')
        body.append(f"<tr><th>{escape(m.plain)}</th>{''.join(cells)}</tr>")
    return (f'<table class="baselines"><thead><tr><th rowspan="2">metric</th>'
            f'<th rowspan="2">{escape(ours)}</th>{head}</tr><tr>{sub}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _saving_words(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{percent(value)} less" if value >= 0 else f"{percent(-value)} more"


def _rate_at(phases: list[dict], starts: list[int], iteration: int) -> float | None:
    """Energy per iteration (pJ) of the phase holding `iteration` (`starts`: the phases'
    starts, ascending), None outside the run."""
    i = bisect_right(starts, iteration) - 1
    if i < 0 or iteration >= phases[i]["stop"]:
        return None
    return float(phases[i]["energy_pj_per_iteration"])


def saving_segments(ours: list[dict], base: list[dict]) -> list[tuple[int, int, float]]:
    """(start, stop, 1 - ours/base) over the iterations both series cover, one segment per
    interval between the two series' phase edges; segments where the baseline's rate is 0 are
    left out."""
    edges = sorted({p[k] for p in (*ours, *base) for k in ("start", "stop")})
    ours_starts, base_starts = [p["start"] for p in ours], [p["start"] for p in base]
    out = []
    for a, b in zip(edges, edges[1:], strict=False):
        mine, theirs = _rate_at(ours, ours_starts, a), _rate_at(base, base_starts, a)
        if mine is None or theirs is None or theirs == 0:
            continue
        out.append((a, b, 1.0 - mine / theirs))
    return out


def iteration_saving_figure(run: dict) -> go.Figure:
    """The trace's policy's saving of energy per iteration against each baseline, over
    training: a step per interval of constant bits in both."""
    ours = run["trace"]["policy"]
    colours = policy_colours(list(run["policies"]))
    mine = run["policies"][ours].get("phase_energy") or []
    fig = go.Figure()
    for label in baseline_labels(run):
        segments = saving_segments(mine, run["policies"][label].get("phase_energy") or [])
        xs = [v for a, b, _ in segments for v in (a, b)]
        ys = [s for _, _, s in segments for _ in (0, 1)]
        fig.add_scatter(name=f"against {label}", x=xs, y=ys, mode="lines", meta=label,
                        line={"color": colours[label]},
                        hovertemplate="iteration %{x:,}<br>" + escape(ours)
                                      + " saves %{y:.1%} per iteration<extra>against "
                                      + escape(label) + "</extra>")
    fig.update_layout(xaxis_title="training iteration",
                      yaxis={"title": f"energy per iteration saved by {ours}",
                             "tickformat": ".0%"})
    return base_layout(fig, title=f"Energy per iteration: {ours}'s saving over training")


def component_keys(run: dict) -> list[str]:
    """Components in the order the layer-component figure colours them (its `per_layer`
    components first), then any other of `breakdown_energy_pj.component`."""
    keys: dict[str, None] = {}
    for summary in run["policies"].values():
        for layer in (summary.get("per_layer") or {}).values():
            keys.update(dict.fromkeys(layer["energy_pj"]))
    for summary in run["policies"].values():
        keys.update(dict.fromkeys(summary["breakdown_energy_pj"]["component"]))
    return list(keys)


def iteration_components_figure(run: dict) -> go.Figure:
    """Mean energy of one iteration (J) by component, one stacked bar per policy:
    `breakdown_energy_pj.component / iterations`. For a policy of one phase (a counterfactual
    baseline) this is every iteration's split."""
    labels = list(run["policies"])
    keys = component_keys(run)
    colours = category_colours(keys)
    fig = go.Figure()
    for key in keys:
        name = readable(key)
        values = [run["policies"][p]["breakdown_energy_pj"]["component"].get(key, 0.0)
                  * PJ_TO_J / run["policies"][p]["iterations"] for p in labels]
        fig.add_bar(name=name, x=labels, y=values, customdata=[key] * len(labels),
                    marker_color=colours[key],
                    hovertemplate=name + "<br>%{x}: %{y:.4s}J per iteration<extra></extra>")
    fig.update_layout(barmode="stack", xaxis_title="policy",
                      yaxis={"title": "mean energy of one iteration (J)", "tickformat": ".3~s"})
    return base_layout(fig, title="Energy of one iteration by component (mean over the run)")
