"""The hotspot report in a real browser: headless Chromium renders it offline, with no console
error and no network request, and the map and hour-of-week chart have a size on the page.

Nothing here is skipped: without Chromium the test fails and says how to install it.

Two ways of driving Chromium, both without a driver package:
- `--screenshot`, as a person would look at the page;
- the DevTools protocol over `--remote-debugging-pipe` (JSON messages separated by NUL bytes on
  file descriptors 3 and 4), which reports console messages, uncaught exceptions and every network
  request, and measures elements; more reliable than scraping `--enable-logging` output, and the
  report needs no script of its own to be measured.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from anonymise.reference import gazetteer
from report.basemap import street_places
from report.page import render_html, render_report
from tests.unit.report import test_report
from tests.unit.report.test_map_labels import dense_month
from tests.unit.report.test_report import MONTH, SUPPRESSING
from warehouse.publish import connect_read_only

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get install -y chromium chromium-driver"
# Headless and quiet: no first-run, sync, component or background traffic of Chromium's own, so
# that any network request seen is one the report made.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WINDOW = (1280, 2400)
TIMEOUT = 60

# test_report's module-scoped fixture, shared: the warehouse with both months published.
published_warehouse = test_report.warehouse


def _chromium() -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the report's browser test needs Chromium. "
            f"Install it with `{INSTALL}` (CI does this in .ci/run).",
            pytrace=False,
        )
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def report(published_warehouse, tmp_path_factory) -> Path:
    return render_report(
        published_warehouse, MONTH, tmp_path_factory.mktemp("reports") / "hotspots_2026-10.html", agreement=SUPPRESSING
    )


@pytest.fixture(scope="module")
def cells_in_month(published_warehouse) -> int:
    with connect_read_only(published_warehouse) as con:
        return con.execute("SELECT count(*) FROM hotspot_cells WHERE month = ?", [MONTH]).fetchone()[0]


# --- PNG, read with the standard library ------------------------------------------------------


def png_facts(path: Path) -> tuple[int, int, float]:
    """Width, height and the share of rows with any detail.

    PNG stores each row filtered: every byte minus a prediction from its left, upper or
    upper-left neighbours. In a one-colour image every prediction after a row's first pixel is
    exact, so a row shows detail exactly when a residual after the first pixel is non-zero (or,
    for an unfiltered row, when its pixels differ). Counting those rows avoids undoing the filters,
    which in pure Python would take seconds for a whole page.
    """
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour_type in (2, 6), f"unexpected PNG format (depth {depth}, colour type {colour_type})"
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp + 1
    detailed = 0
    for y in range(1, height):  # the first row's residuals depend on the filter even when flat
        row = raw[y * stride : (y + 1) * stride]
        pixels = row[1:]
        if row[0] == 0:
            detailed += pixels != pixels[:bpp] * width
        else:
            detailed += any(pixels[bpp:])
    return width, height, detailed / max(height - 1, 1)


# --- the DevTools protocol over a pipe -------------------------------------------------------


class DevTools:
    """Just enough of the Chrome DevTools protocol: send commands, collect events."""

    def __init__(self, user_data_dir: Path):
        self._ours_read, chrome_write = os.pipe()
        chrome_read, self._ours_write = os.pipe()

        def as_fds_3_and_4():  # Chromium reads commands on fd 3 and writes replies on fd 4
            os.dup2(chrome_read, 3)
            os.dup2(chrome_write, 4)

        self.process = subprocess.Popen(
            [
                _chromium(),
                *FLAGS,
                f"--user-data-dir={user_data_dir}",
                "--remote-debugging-pipe",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=as_fds_3_and_4,  # noqa: PLW1509 (no threads start Chromium) stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(chrome_read)
        os.close(chrome_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._ours_read], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._ours_read, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._ours_write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, event: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        for seen in self.events:
            if seen.get("method") == event:
                return seen
        while True:
            message = self._receive(deadline)
            self.events.append(message)
            if message.get("method") == event:
                return message

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, RuntimeError, EOFError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._ours_read)
            os.close(self._ours_write)


@contextlib.contextmanager
def _opened(path: Path, profile: Path):
    """`path` loaded in Chromium: the browser (with everything it reported while loading) and a
    function that evaluates JavaScript in the page."""
    browser = DevTools(profile)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session=session)
        browser.call("Page.navigate", {"url": path.as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")

        def evaluate(expression: str):
            result = browser.call(
                "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
            )
            assert "exceptionDetails" not in result, result
            return result["result"].get("value")

        yield browser, evaluate
    finally:
        browser.close()


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    """The report loaded in Chromium, with everything the browser reported while loading it."""
    with _opened(report, tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened


@pytest.fixture(scope="module")
def dense_page(tmp_path_factory):
    """A busy city-centre month's report, where labels have to fight for room."""
    path = tmp_path_factory.mktemp("dense") / "dense.html"
    path.write_text(render_html(dense_month(), gazetteer()), encoding="utf-8")
    with _opened(path, tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened


# --- the tests -------------------------------------------------------------------------------


def test_the_screenshot_shows_a_rendered_page(report, tmp_path):
    png = tmp_path / "report.png"
    result = subprocess.run(
        [
            _chromium(),
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--enable-logging=stderr",
            "--v=0",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console_errors = [line for line in result.stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line]
    assert console_errors == []
    width, height, detail = png_facts(png)
    assert (width, height) == WINDOW
    assert detail > 0.05, f"the page looks blank: only {detail:.1%} of rows have any detail"
    if os.environ.get("ISTV_REPORT_SCREENSHOT"):  # keep it for a person to look at
        shutil.copy(png, os.environ["ISTV_REPORT_SCREENSHOT"])


def test_the_page_loads_offline_without_errors(page, report):
    browser, _ = page
    problems = []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            problems.append(f"uncaught exception: {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            problems.append(f"console {params['type']}: {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            problems.append(f"log {params['entry']['level']}: {params['entry']['text']}")
    assert problems == []
    requested = {
        e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"
    }
    assert requested == {report.as_uri()}, "the report asked the network for something"


def test_the_map_and_hour_of_week_are_on_the_page_with_a_size(page, cells_in_month):
    _, evaluate = page
    sizes = evaluate(
        "Object.fromEntries(['hotspot-map', 'hour-of-week', 'trend', 'methods'].map(id => {"
        "  const box = document.getElementById(id).getBoundingClientRect();"
        "  return [id, [box.width, box.height]]; }))"
    )
    for element_id, (width, height) in sizes.items():
        assert width > 0 and height > 0, f"#{element_id} has no size ({width} x {height})"
    # Responsive: the map fills the column, whatever the window.
    map_width = sizes["hotspot-map"][0]
    column = evaluate("document.querySelector('main').clientWidth")
    assert map_width > 0.9 * (column - 40)
    assert evaluate("document.querySelectorAll('#hotspot-map polygon.cell').length") == cells_in_month
    # Every hexagon is drawn inside the map, not off in a corner of the page.
    inside = evaluate(
        "(() => { const m = document.getElementById('hotspot-map').getBoundingClientRect();"
        "  return [...document.querySelectorAll('#hotspot-map polygon.cell')].every(p => {"
        "    const b = p.getBoundingClientRect();"
        "    return b.width > 0 && b.left >= m.left - 1 && b.right <= m.right + 1"
        " && b.top >= m.top - 1 && b.bottom <= m.bottom + 1; }); })()"
    )
    assert inside
    assert evaluate("document.querySelectorAll('#hour-of-week rect').length") >= 7 * 24
    assert evaluate("document.querySelectorAll('script').length") == 0


# Every label on the map, and every marker, as the browser lays them out (screen pixels).
MAP_LAYOUT = """(() => {
  const box = e => { const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const visible = e => { const s = getComputedStyle(e); return s.visibility === 'visible' && s.display !== 'none'
    && Number(s.opacity) > 0; };
  const svg = document.getElementById('hotspot-map');
  const labels = [...svg.querySelectorAll('text.map-label')].map(t => {
    const b = t.getBoundingClientRect();
    const top = document.elementFromPoint((b.left + b.right) / 2, (b.top + b.bottom) / 2);
    return {text: t.textContent, kind: [...t.classList].find(c => c.endsWith('-label') && c !== 'map-label'),
            box: box(t), visible: visible(t), on_top: top === t};
  });
  return {map: box(svg), labels, markers: [...svg.querySelectorAll('g.marker')].map(box)};
})()"""


def _overlap(a: list[float], b: list[float], tolerance: float = 0.5) -> bool:
    return a[0] < b[2] - tolerance and b[0] < a[2] - tolerance and a[1] < b[3] - tolerance and b[1] < a[3] - tolerance


@pytest.mark.parametrize("which", ["page", "dense_page"])
def test_the_map_shows_named_streets_and_no_labels_overlap(which, request):
    _, evaluate = request.getfixturevalue(which)
    layout = evaluate(MAP_LAYOUT)
    labels, markers, (left, top, right, bottom) = layout["labels"], layout["markers"], layout["map"]
    # Named streets from the gazetteer are on the map, inside it, visible and drawn on top.
    streets = {p.name for p in street_places(gazetteer())}
    shown = [label for label in labels if label["kind"] == "street-label"]
    assert shown, "no street is named on the map"
    for label in shown:
        assert label["text"] in streets
        x0, y0, x1, y1 = label["box"]
        assert x1 - x0 > 10 and left <= x0 and x1 <= right and top <= y0 and y1 <= bottom, label
        assert label["visible"] and label["on_top"], label
    # The hotspots are named too, and area names show where the map is.
    kinds = {label["kind"] for label in labels}
    assert {"cell-label", "area-label", "street-label"} <= kinds
    # No two labels overlap, and no label covers a marker.
    for a, b in itertools.combinations(labels, 2):
        assert not _overlap(a["box"], b["box"]), (a, b)
    for label in labels:
        assert not any(_overlap(label["box"], marker) for marker in markers), label
    # One label per name: a venue a top cell is named after is not labelled twice.
    names = [label["text"] for label in labels if label["kind"] in ("cell-label", "venue-label")]
    assert len(names) == len(set(names))
