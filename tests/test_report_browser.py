"""Reports opened in headless Chromium (Debian's `chromium`), driven over the DevTools Protocol.

One browser for the whole module. Each page is opened as a file:// URL; the tests check that it
loads with no console error, that every figure of its manifest rendered (an SVG or WebGL layer in
its div), that the plotted numbers equal the result they came from, and that hovering a point
with the real mouse shows its parameters. Skipped, with the reason, when Chromium or
websocket-client is missing (CI installs both).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader")
"""Flags every test browser runs with (no network, no first-run work). The last opts in to
software WebGL for the parallel-coordinates plot: without a GPU, Chromium's automatic fallback
to it is deprecated (it logs a warning and is due to go)."""
VIEWPORT = (1280, 800)
"""A laptop screen, CSS pixels."""
TIMEOUT_S = 30.0
"""Longest wait for any one browser answer."""

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
websocket = pytest.importorskip(
    "websocket", reason="websocket-client is not installed (pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


class BrowserError(RuntimeError):
    """The browser did not answer, or answered with an error."""


class Browser:
    """A headless Chromium and one page, over the DevTools Protocol (flattened session)."""

    def __init__(self, executable: str, profile: Path):
        self.proc = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port, path = self._devtools_address(profile / "DevToolsActivePort")
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}",
                                              timeout=TIMEOUT_S, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=VIEWPORT[0],
                  height=VIEWPORT[1], deviceScaleFactor=1, mobile=False)

    def _devtools_address(self, marker: Path) -> tuple[str, str]:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with status {self.proc.returncode}")
            lines = marker.read_text().split("\n") if marker.exists() else []
            if len(lines) >= 2 and lines[1]:
                return lines[0], lines[1]
            time.sleep(0.05)
        raise BrowserError("chromium did not open its DevTools port")

    def call(self, method: str, *, session: bool = False, **params) -> dict:
        """Send one command and wait for its answer; events met on the way are kept."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply["result"]
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        """Wait for the next event `method` (one already received counts)."""
        for i, event in enumerate(self.events):
            if event["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv())
            if event.get("method") == method:
                return event
            if "method" in event:
                self.events.append(event)
        raise BrowserError(f"no {method} within {TIMEOUT_S} s")

    def open(self, path: Path) -> None:
        """Load a file as a file:// URL and wait for its load event."""
        self.events.clear()
        self.call("Page.navigate", session=True, url=path.resolve().as_uri())
        self.wait_event("Page.loadEventFired")

    def eval(self, expression: str):
        """The JSON value of a JavaScript expression (promises awaited)."""
        out = self.call("Runtime.evaluate", session=True, expression=expression,
                        awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in out:
            raise BrowserError(f"{expression[:60]}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen since `open`."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details["text"])
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description")))
                                      for a in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
        return found

    def mouse_move(self, x: float, y: float) -> None:
        """Move the mouse to viewport coordinates (CSS pixels)."""
        self.call("Input.dispatchMouseEvent", session=True, type="mouseMoved", x=x, y=y)

    def screenshot(self, path: Path) -> None:
        """Save a PNG of the whole page."""
        import base64

        shot = self.call("Page.captureScreenshot", session=True, captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        """Close the connection and end the browser process."""
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """One headless Chromium for the module (its profile in a pytest temporary folder)."""
    b = Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Run and sweep reports made through the command line."""
    from tests.test_report import make_reports

    return make_reports(tmp_path_factory.mktemp("browser-reports"))


RENDERED = """(async () => {
  const count = await window.rctsimRendered;
  const marks = '.barlayer .point, .hm image, .scatterlayer .point, .scatterlayer .js-line, '
              + '.parcoords .y-axis';
  return {count: count, figures: Array.from(document.querySelectorAll('div.plot')).map(d => ({
    id: d.id, traces: (d._fullData || []).length, svg: d.querySelectorAll('svg.main-svg').length,
    marks: d.querySelectorAll(marks).length, canvas: d.querySelectorAll('canvas').length,
    width: d.getBoundingClientRect().width}))};
})()"""
"""What each figure div holds once plotly has drawn it."""


def _open_rendered(browser, path: Path) -> dict[str, dict]:
    browser.open(path)
    state = browser.eval(RENDERED)
    assert browser.errors() == []
    manifest = browser.eval("JSON.parse(document.getElementById('rctsim-manifest').textContent)")
    figures = {f["id"]: f for f in state["figures"]}
    assert list(figures) == manifest["figures"] and state["count"] == len(figures)
    for fig in figures.values():
        assert fig["traces"] > 0 and fig["svg"] >= 1 and fig["marks"] > 0, fig
        assert 900 < fig["width"] <= VIEWPORT[0], fig  # fills a laptop-width page
    return figures


def test_run_report_renders_every_figure(browser, files):
    """Both run pages load without console errors and draw all six figures."""
    from rctsim.report import RUN_FIGURES

    for page in (files.run_html, files.saved_html):
        assert list(_open_rendered(browser, page)) == list(RUN_FIGURES)


def test_run_report_with_three_baselines_renders(browser, tmp_path):
    """A run against three baselines loads without console errors, draws every figure, and
    the several-baselines panels hold the four policies."""
    from rctsim.report import RUN_FIGURES
    from tests.test_report_baselines import BASELINES, make_baseline_report

    many = make_baseline_report(tmp_path)
    assert list(_open_rendered(browser, many.run_html)) == list(RUN_FIGURES)
    names = browser.eval("document.getElementById('fig-baselines').data.map(t => t.name)")
    assert set(names) == {"rct", *BASELINES}
    rows = browser.eval("document.querySelectorAll('table.baselines tbody tr').length")
    assert rows == 8


def test_run_report_numbers_read_from_the_page(browser, files):
    """The bars and heatmap cells plotly holds in the page are the run's and the trace's."""
    run = json.loads(files.run_json.read_text())
    browser.open(files.run_html)
    browser.eval("window.rctsimRendered")
    bars = browser.eval("document.getElementById('fig-energy-layer').data.map("
                        "t => ({name: t.name, x: t.x, y: t.y}))")
    assert {b["name"] for b in bars} == set(run["policies"])
    for b in bars:
        layer = run["policies"][b["name"]]["breakdown_energy_pj"]["layer"]
        assert b["y"] == pytest.approx([layer[x] * 1e-12 for x in b["x"]], rel=1e-12)
    w_bits = browser.eval("document.getElementById('fig-bits').data[0].z")
    assert w_bits == [[8, 6]] * 3
    cards = browser.eval("Array.from(document.querySelectorAll('.card')).map("
                         "c => [c.dataset.metric, Number(c.dataset.ours)])")
    assert dict(cards)["Total energy"] == run["policies"]["rct"]["energy_pj"]["total"]


HOVER_TARGET = """(async () => {
  const gd = document.getElementById('fig-pareto');
  gd.scrollIntoView({block: 'center'});
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const groups = gd.querySelectorAll('.scatterlayer .trace');
  const all = gd.data.flatMap((t, n) => Array.from(groups[n].querySelectorAll('path.point'))
    .map((p, i) => { const b = p.getBoundingClientRect();
                     return {t: t, i: i, x: b.left + b.width / 2, y: b.top + b.height / 2}; }));
  const apart = a => all.every(b => b === a || Math.hypot(a.x - b.x, a.y - b.y) > 12);
  const front = all.filter(a => a.t.name.startsWith('front'));
  const pick = front.find(apart) || front[0];
  return {key: pick.t.customdata[pick.i], x: pick.x, y: pick.y};
})()"""
"""Viewport centre of a drawn Pareto-front marker (one with no other marker near it if there
is one) and its store key."""
HOVER_LINES = """(async () => {
  await new Promise(r => setTimeout(r, 300));
  return Array.from(document.querySelectorAll('#fig-pareto .hoverlayer .hovertext tspan.line'))
    .map(t => t.textContent);
})()"""
"""Lines of the hover label shown on the Pareto plot."""


def test_sweep_report_renders_and_hover_shows_parameters(browser, files):
    """The sweep page draws its three figures (parallel coordinates in WebGL), and moving the
    mouse onto a Pareto point shows every parameter of that point."""
    import sqlite3

    figures = _open_rendered(browser, files.sweep_html)
    assert list(figures) == ["fig-pareto", "fig-parallel", "fig-energy-sram"]
    assert figures["fig-parallel"]["canvas"] > 0
    target = browser.eval(HOVER_TARGET)
    browser.mouse_move(target["x"], target["y"])
    lines = browser.eval(HOVER_LINES)
    with sqlite3.connect(files.store) as conn:
        conn.row_factory = sqlite3.Row
        row = dict(conn.execute("SELECT * FROM points WHERE key = ?", (target["key"],)).fetchone())
    expected = [f"{k}: {v}" for k, v in json.loads(row["params"]).items()]
    expected += [f"{c}: {row[c]}" for c in ("trace_name", "policy", "hw_name", "sram_bytes",
                                             "dataflow", "array_rows", "energy_table")]
    assert lines, "no hover label appeared"
    assert set(expected) <= set(lines), (expected, lines)
    assert browser.errors() == []


def test_harness_sees_console_errors(browser, tmp_path):
    """The console check can fail: a logged error and an uncaught exception are both caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('bad figure');"
                    "undefinedFunction();</script></body></html>")
    browser.open(page)
    found = browser.errors()
    assert len(found) == 2 and "bad figure" in found[0] and "undefinedFunction" in found[1]


SWEEP_LOOK = """(async () => {
  await window.rctsimRendered;
  const gd = document.getElementById('fig-pareto');
  const groups = gd.querySelectorAll('.scatterlayer .trace');
  const points = gd.data.flatMap((t, n) => Array.from(groups[n].querySelectorAll('path.point'))
    .map((p, i) => ({key: t.customdata[i], fill: getComputedStyle(p).fill})));
  const text = sel => Array.from(document.querySelectorAll(sel)).map(t => t.textContent);
  const boxes = Array.from(document.querySelectorAll('#fig-parallel .axis-title')).map(t => {
    const r = t.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; });
  return {points: points,
          titles: text('#fig-pareto .xtitle, #fig-pareto .ytitle, #fig-energy-sram .ytitle'),
          svgText: text('svg text'), parallelTitles: text('#fig-parallel .axis-title'),
          parallelTicks: text('#fig-parallel .tick text'), boxes: boxes};
})()"""
"""What the sweep page shows: each Pareto point's drawn fill, axis titles, every SVG text, the
parallel plot's axis titles (with their boxes) and tick labels."""


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_sweep_report_colours_points_by_policy_and_titles_axes_in_words(browser, files):
    """As drawn: every Pareto point, on the front or off it, is filled in its policy's colour
    (QAT's points can be told from RCT's); axes are titled in words with units; parallel
    coordinates have no overlapping axis titles, no colour codes in text, SI tick labels."""
    from rctsim.report.style import POLICY_COLOUR
    from rctsim.report.sweep_report import read_store_rows

    browser.open(files.sweep_html)
    look = browser.eval(SWEEP_LOOK)
    assert browser.errors() == []
    policy = {r["key"]: r["policy"] for r in read_store_rows(files.store)}
    assert len(look["points"]) == len(policy)
    fills = {}
    for point in look["points"]:
        assert point["fill"] == _rgb(POLICY_COLOUR[policy[point["key"]]]), point
        fills.setdefault(policy[point["key"]], set()).add(point["fill"])
    assert set(fills) == {"rct", "qat"} and fills["rct"] != fills["qat"]
    assert look["titles"] == ["total energy (J)", "global buffer (B)", "total energy (J)"]
    assert "total energy (J)" in look["parallelTitles"]
    assert "global buffer (KB)" in look["parallelTitles"]
    for text in look["svgText"]:
        assert "_pj" not in text and "_bytes" not in text
        assert not re.search(r"#[0-9a-f]{6}", text)
    boxes = sorted(look["boxes"])
    for (_, r1, t1, b1), (l2, _, t2, b2) in zip(boxes, boxes[1:], strict=False):
        assert r1 <= l2 or b1 <= t2 or b2 <= t1, (boxes, look["parallelTitles"])
    assert not [t for t in look["parallelTicks"] if re.fullmatch(r"[\d.]+B", t)]
