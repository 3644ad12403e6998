"""One self-contained HTML page: plotly.js inline once, figures as JSON, inputs stated on top.

Each figure is stored in a `<script type="application/json" class="rctsim-figure">` block and
drawn by a short script, so that the numbers can be read back from the file without a browser
(`figure_specs`). A manifest block lists the figures the page holds. Nothing is fetched over the
network: the page opens from a file on a machine offline.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass
from html import escape, unescape

import plotly
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from rctsim import __version__

MANIFEST_ID = "rctsim-manifest"
"""Element id of the page's manifest JSON (`kind`, `figures`, `notes`)."""

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#f6f7f9}
main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:1.5rem;margin:8px 0 4px}
h2{font-size:1.15rem;margin:28px 0 8px}
.inputs{border-collapse:collapse;font-size:.9rem;background:#fff;width:100%}
.inputs th{text-align:left;padding:3px 12px 3px 8px;color:#555;font-weight:600;width:11rem;
vertical-align:top}
.inputs td{padding:3px 8px;word-break:break-all}
.inputs code{font-size:.82rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(165px,1fr));gap:10px}
.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:10px 12px}
.card .title{font-size:.82rem;color:#555;font-weight:600}
.card .value{font-size:1.35rem;font-weight:650;margin:4px 0 0}
.card .who,.card .vs{font-size:.78rem;color:#666}
.card .saving{font-size:.9rem;font-weight:600;margin-top:4px}
.card .better{color:#137333}.card .worse{color:#b3261e}
.note{background:#fff8e1;border-left:4px solid #f2b600;padding:8px 12px;margin:8px 0;
font-size:.9rem}
figure{background:#fff;border:1px solid #dde;border-radius:8px;margin:14px 0;padding:6px}
figcaption{font-size:.85rem;color:#555;padding:2px 8px 6px}
table.baselines{border-collapse:collapse;font-size:.85rem;margin:6px 8px;background:#fff}
table.baselines th,table.baselines td{padding:3px 10px;border-bottom:1px solid #eee;
text-align:right}
table.baselines td{white-space:nowrap}
table.baselines tbody th{text-align:left;font-weight:600;color:#444}
table.baselines .role{font-weight:400;color:#777}
table.baselines .better{color:#137333}table.baselines .worse{color:#b3261e}
footer{font-size:.8rem;color:#777;margin-top:24px}
"""

_DRAW = """
(function () {
  var config = {responsive: true, displaylogo: false};
  var drawn = [];
  document.querySelectorAll('script.rctsim-figure').forEach(function (el) {
    var spec = JSON.parse(el.textContent);
    drawn.push(Plotly.newPlot(el.dataset.target, spec.data, spec.layout, config));
  });
  window.rctsimRendered = Promise.all(drawn).then(function () { return drawn.length; });
})();
"""


@dataclass(frozen=True)
class FigureBlock:
    """A figure placed on a page."""

    fig_id: str
    """Element id of the figure's div (also names it in the manifest)."""
    figure: go.Figure
    """The plotly figure."""
    caption: str = ""
    """What the figure shows and how it was computed (plain text)."""
    html: str = ""
    """HTML placed under the figure, inside its frame (a table of the figure's numbers)."""


def script_json(data: object) -> str:
    """JSON safe to place inside a `<script>` element (every `<` escaped)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _figure_json(fig: go.Figure) -> str:
    return fig.to_json(pretty=False).replace("<", "\\u003c")


def versions() -> dict[str, str]:
    """Versions of the programs that built the page."""
    return {"rctsim": __version__, "plotly": plotly.__version__,
            "python": platform.python_version()}


def render_page(*, title: str, kind: str, inputs: list[tuple[str, str]], summary_html: str,
                figures: list[FigureBlock], notes: list[str]) -> str:
    """The whole HTML document."""
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in inputs)
    note_html = "".join(f'<div class="note">{escape(n)}</div>' for n in notes)
    blocks = []
    for block in figures:
        caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
        blocks.append(
            f'<figure><div id="{escape(block.fig_id)}" class="plot"></div>{block.html}'
            f'{caption}</figure>'
            f'<script type="application/json" class="rctsim-figure" '
            f'data-target="{escape(block.fig_id)}">{_figure_json(block.figure)}</script>')
    manifest = {"kind": kind, "figures": [b.fig_id for b in figures], "notes": list(notes),
                "versions": versions()}
    made_by = ", ".join(f"{k} {v}" for k, v in versions().items())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{escape(title)}</title>'
        f"<style>{_CSS}</style><script>{get_plotlyjs()}</script></head>\n<body><main>"
        f"<h1>{escape(title)}</h1><h2>Inputs</h2><table class=\"inputs\">{rows}</table>"
        f"{summary_html}{note_html}{''.join(blocks)}"
        f"<footer>Made by {escape(made_by)}. Self-contained: opens offline.</footer></main>"
        f'<script type="application/json" id="{MANIFEST_ID}">{script_json(manifest)}</script>'
        f"<script>{_DRAW}</script></body></html>\n")


_BLOCK = re.compile(r'<script type="application/json" class="rctsim-figure" '
                    r'data-target="([^"]+)">(.*?)</script>', re.S)
_MANIFEST = re.compile(rf'<script type="application/json" id="{MANIFEST_ID}">(.*?)</script>',
                       re.S)


def figure_specs(html: str) -> dict[str, dict]:
    """The figures stored in a page, by element id (`data` and `layout` as plotly JSON)."""
    return {unescape(m.group(1)): json.loads(m.group(2)) for m in _BLOCK.finditer(html)}


def page_manifest(html: str) -> dict:
    """The manifest stored in a page."""
    match = _MANIFEST.search(html)
    if match is None:
        raise ValueError("not an rctsim report page (no manifest)")
    return json.loads(match.group(1))


def code(text: str) -> str:
    """Inline HTML code element for a hash or path."""
    return f"<code>{escape(text)}</code>"
