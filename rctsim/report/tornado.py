"""Tornado charts of a sensitivity analysis (rctsim.sensitivity_run): one figure per saving.

Each bar spans, for one assumption, the lowest to the highest saving over its settings, drawn
as two halves from the default saving (the vertical line): the half below it ends at the
setting that gives the lowest saving, the half above at the highest. Assumptions are sorted by
their span, widest on top; an assumption that does not move the metric shows no bar. Hover a
bar for every setting's value. `write_sensitivity_html` writes a page of them;
`add_tornado_section` appends them to a run report page.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import plotly.graph_objects as go

from rctsim.atomic import write_atomic
from rctsim.report.page import MANIFEST_ID, FigureBlock, render_page, script_json
from rctsim.report.style import base_layout
from rctsim.summary import SAVING_NAMES
from rctsim.units import percent

LOWER_COLOUR, HIGHER_COLOUR = "#d62728", "#1f77b4"
"""Bars toward a lower saving (red) and a higher one (blue)."""


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def tornado_rows(sens: dict, metric: str) -> list[dict]:
    """Per assumption: name, default setting, lowest and highest (setting, saving) and every
    setting's saving, for one metric; sorted by span (widest first)."""
    out = []
    default = sens["default"][metric]
    for a in sens["assumptions"]:
        points = [(r["setting"], r["value"]) for r in sens["rows"]
                  if r["assumption"] == a["name"] and r["metric"] == metric
                  and r["value"] is not None]
        if not points or default is None:
            continue
        low = min(points, key=lambda p: p[1])
        high = max(points, key=lambda p: p[1])
        out.append({"assumption": a["name"], "default": a["default"], "low": low, "high": high,
                    "points": points, "span": high[1] - low[1]})
    return sorted(out, key=lambda r: r["span"], reverse=True)


def tornado_figure(sens: dict, metric: str) -> go.Figure:
    """One metric's tornado: saving (%) against the baseline, per assumption."""
    rows = list(reversed(tornado_rows(sens, metric)))  # plotly draws the first row at the bottom
    default = _pct(sens["default"][metric])
    names = [r["assumption"] for r in rows]
    hover = ["<br>".join(f"{s}{' (default)' if s == r['default'] else ''}: {percent(v)}"
                         for s, v in r["points"]) for r in rows]
    fig = go.Figure()
    if default is not None:
        for side, colour, key in (("lowest setting", LOWER_COLOUR, "low"),
                                  ("highest setting", HIGHER_COLOUR, "high")):
            fig.add_bar(y=names, x=[_pct(r[key][1]) - default for r in rows],
                        base=[default] * len(rows), orientation="h", name=side,
                        marker_color=colour,
                        text=[r[key][0] if r[key][1] != sens["default"][metric] else ""
                              for r in rows],
                        textposition="outside", cliponaxis=False, customdata=hover,
                        hovertemplate="%{y}<br>%{customdata}<extra></extra>")
        fig.add_vline(x=default, line_dash="dash", line_color="#555",
                      annotation_text=f"default {default:.1f} %", annotation_position="top")
    title = (f"{SAVING_NAMES.get(metric, metric)}: saving of {sens.get('policy', 'the trace')} "
             f"against {sens['baseline']} as each assumption varies")
    fig.update_layout(barmode="overlay", xaxis_title="saving (%)", legend_orientation="h",
                      meta={"metric": metric})
    return base_layout(fig, title=title, height=max(260, 60 + 38 * len(rows)))


def tornado_figures(sens: dict) -> dict[str, go.Figure]:
    """A tornado figure per metric of the sensitivity dict, keyed by metric name."""
    return {metric: tornado_figure(sens, metric) for metric in _metrics(sens)}


def _metrics(sens: dict) -> list[str]:
    return list(sens.get("metrics") or sens["default"])


def tornado_blocks(sens: dict) -> list[FigureBlock]:
    """The tornado figures as page blocks (ids `fig-tornado-METRIC`)."""
    return [FigureBlock(f"fig-tornado-{metric}", fig, _caption(sens, metric))
            for metric, fig in tornado_figures(sens).items()]


def _caption(sens: dict, metric: str) -> str:
    rows = tornado_rows(sens, metric)
    still = [r["assumption"] for r in rows if r["span"] == 0]
    text = ("Each bar runs from the default saving to the lowest (red) and highest (blue) "
            "over the assumption's settings, the others at their defaults; the label names "
            "that setting.")
    if still:
        text += f" No change with: {', '.join(still)}."
    return text


def _input_rows(sens: dict) -> list[tuple[str, str]]:
    rows = [("Hardware", escape(str(sens["hw"]))), ("Trace", escape(str(sens["trace"]))),
            ("Policy", escape(str(sens.get("policy", "")))),
            ("Baseline", escape(str(sens["baseline"])))]
    for a in sens["assumptions"]:
        rows.append((a["name"], escape(f"default {a['default']}; settings "
                                       f"{', '.join(map(str, a['settings']))}. {a['why']} "
                                       f"Source: {a['source']}")))
    rows.append(("Made by", escape(str(sens.get("producer", "unknown")))))
    return rows


def _summary_html(sens: dict) -> str:
    cells = "".join(
        f"<tr><th>{escape(SAVING_NAMES.get(m, m))}</th><td>{percent(sens['default'][m])}</td>"
        f"<td>{_range_text(sens, m)}</td></tr>" for m in _metrics(sens))
    return ("<h2>Savings at the defaults and their range</h2><table class=\"inputs\">"
            "<tr><th>saving</th><td><b>default</b></td><td><b>range over all settings</b></td>"
            f"</tr>{cells}</table>")


def _range_text(sens: dict, metric: str) -> str:
    values = [r["value"] for r in sens["rows"] if r["metric"] == metric
              and r["value"] is not None]
    if not values:
        return "n/a"
    return f"{percent(min(values))} to {percent(max(values))}"


def sensitivity_html(sens: dict) -> str:
    """A self-contained page: the inputs, the range table and a tornado per metric."""
    title = (f"rctsim sensitivity: {sens.get('policy', 'trace')} against {sens['baseline']}, "
             f"{sens['trace']} on {sens['hw']}")
    return render_page(title=title, kind="sensitivity", inputs=_input_rows(sens),
                       summary_html=_summary_html(sens), figures=tornado_blocks(sens),
                       notes=[])


def write_sensitivity_html(sens: dict, path: str | Path) -> None:
    """Write `sensitivity_html(sens)` to `path` atomically."""
    write_atomic(path, sensitivity_html(sens))


_MANIFEST = re.compile(rf'(<script type="application/json" id="{MANIFEST_ID}">)(.*?)(</script>)',
                       re.S)


def add_tornado_section(page: str, sens: dict, *, note: str | None = None) -> str:
    """A report page (rctsim.report.page) with a "Sensitivity" section of tornado figures
    appended before its footer and their ids added to its manifest."""
    blocks = tornado_blocks(sens)
    parts = [f"<h2>Sensitivity: {escape(sens.get('policy', ''))} against "
             f"{escape(sens['baseline'])} as each assumption varies</h2>"]
    if note:
        parts.append(f'<div class="note">{escape(note)}</div>')
    parts.append(_summary_html(sens).replace("<h2>Savings at the defaults and their range</h2>",
                                             ""))
    for block in blocks:
        spec = block.figure.to_json(pretty=False).replace("<", "\\u003c")
        parts.append(
            f'<figure><div id="{escape(block.fig_id)}" class="plot"></div>'
            f"<figcaption>{escape(block.caption)}</figcaption></figure>"
            f'<script type="application/json" class="rctsim-figure" '
            f'data-target="{escape(block.fig_id)}">'
            f"{spec}</script>")
    at = page.rfind("<footer>")
    if at < 0 or not _MANIFEST.search(page):
        raise ValueError("not an rctsim report page (no footer or manifest)")
    page = page[:at] + "".join(parts) + page[at:]

    def manifest(match: re.Match) -> str:
        data = json.loads(match.group(2))
        data["figures"] = list(data.get("figures", [])) + [b.fig_id for b in blocks]
        return match.group(1) + script_json(data) + match.group(3)

    return _MANIFEST.sub(manifest, page, count=1)


def write_run_report_with_tornado(result: str | Path, out: str | Path, sensitivity: str | Path,
                                  *, trace: str | None = None,
                                  baseline_trace: str | None = None,
                                  hw: str | None = None) -> None:
    """`rctsim report RUN.json --sensitivity SENS.json`: the run report with the tornado
    section appended (InputError for a sweep store, or an unreadable run or sensitivity)."""
    from rctsim.errors import InputError
    from rctsim.report import build_run_report, read_run_json
    from rctsim.sensitivity_run import read_sensitivity

    path = Path(result)
    if not path.is_file():
        raise InputError(str(path), "RESULT", "no such file", "a run JSON (rctsim run --json)")
    with path.open("rb") as fh:
        if fh.read(16) == b"SQLite format 3\x00":
            raise InputError(str(path), "--sensitivity", "given with a sweep store",
                             "a run JSON (rctsim run --json) as RESULT")
    sens = read_sensitivity(sensitivity)
    run = read_run_json(path)
    try:
        page = build_run_report(run, trace=trace, baseline_trace=baseline_trace, hardware=hw,
                                search_dir=path.parent)
        differs = [f"{what} {sens[key]!r} (the run: {run_value!r})"
                   for what, key, run_value in (("hardware", "hw", run["hardware"]["name"]),
                                                ("trace", "trace", run["trace"]["name"]))
                   if str(sens[key]) != str(run_value)]
        note = (f"The sensitivity analysis was made for {', '.join(differs)}." if differs
                else None)
        page = add_tornado_section(page, sens, note=note)
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise InputError(str(sensitivity), "(values)", f"malformed run or sensitivity JSON: "
                         f"{err!r}", "files written by rctsim run --json and rctsim "
                         "sensitivity --json") from None
    write_atomic(out, page)
