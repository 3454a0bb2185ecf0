"""The monthly hotspot report: one self-contained HTML file a community safety board can read in
five minutes, offline.

Everything the page needs is inside the file: CSS inline, charts and the map as inline SVG, no
script, no font, no tile and no link to anything on the network. Boards often read reports on
locked-down machines or print them, and a page that fetches nothing also leaks nothing about who
opened it.

Only published (disclosure-controlled) values are used, and the page explains them by the policy
of the agreement they were published under (`Disclosure`): under the cell-key method every count
is perturbed and none withheld, so the page never calls a count suppressed; under suppression and
rounding a withheld count is always shown as "suppressed" or a marked symbol, never as 0. A figure
the month's data cannot give (police open data has no time of day and no location description) is
shown as "not available" with the reason, styled apart from a withheld one. When the
rows were published under another agreement than the one loaded, the page says so rather than
describe rules it cannot read. Nothing is derived that could undo the protection: totals come from
`monthly_trend` (each protected as a whole) when it exists, otherwise they are the sum of published
cell values and say so.

The work is split into reading (`_read_month`), one small builder per section that turns rows into
drawing instructions (coordinates, colours, labels), and the Jinja template that writes them out
with autoescaping, so no name from the warehouse or gazetteer is ever written unescaped.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import h3
import jinja2
from markupsafe import Markup

from anonymise.disclosure import POLICE_OPEN_DATA_SENTENCE, DisclosurePolicy, disclosure_legend
from anonymise.gazetteer import Place
from anonymise.reference import gazetteer
from schemas import load_codelist
from warehouse.publish import connect_read_only
from warehouse.tables import NOT_AVAILABLE, not_available_reasons

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "report.html.j2"

# Element ids a reader (or a test) can rely on: the figures carry the ids, the text-only
# sections carry them on their <section>.
SECTION_IDS = (
    "headline",
    "how-to-read",
    "hotspot-map",
    "top-cells",
    "hour-of-week",
    "trend",
    "methods",
    "top-venues",
    "hidden-violence",
    "coverage",
)

# A sequential ramp (ColorBrewer YlOrRd, 5 classes): light = few, dark red = many. It reads in
# greyscale print too, and suppressed cells are hatched grey so they never look like "few".
RAMP = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
SUPPRESSED_FILL = "#d9d9d9"
ZERO_FILL = "#f4f4f4"
# Two colour-blind-safe series colours (orange / purple) used wherever ED and police appear together.
ED_COLOUR = "#e66100"
POLICE_COLOUR = "#5d3a9b"

TOP_CELLS = 10
TOP_VENUE_MARKERS = 5
TOP_VENUE_ROWS = 10
TREND_MONTHS = 12
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SOURCE_NAMES = {
    "ed": "Emergency department",
    "police": "Police (record-management extract)",
    "police_uk": "Police (data.police.uk open data)",
}
KM_PER_DEGREE = 111.32


class ReportError(RuntimeError):
    pass


# --- values as published --------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """A published count: a number, withheld by disclosure control (value None, suppressed), or
    not available because the month's data cannot give it (value None, `not_available` the reason)."""

    value: int | None
    suppressed: bool = False
    not_available: str = ""

    @property
    def number(self) -> int | None:
        return None if self.suppressed else self.value


def _count(row: dict | None, column: str) -> Count:
    if row is None:
        return Count(None)
    value = row.get(column)
    suppressed = bool(row.get(f"{column}_suppressed"))
    # A row's reason covers exactly its NULL counts that nothing withheld (warehouse/tables.py).
    reason = _reason(row) if value is None and not suppressed else ""
    return Count(None if value is None else int(value), suppressed, reason)


def _reason(row: dict) -> str:
    """The row's not-available code as a sentence ('' when it has none)."""
    code = row.get(NOT_AVAILABLE)
    return not_available_reasons().get(code, code) if code else ""


def count_text(count: Count | None) -> str:
    """How every count is written: '1,234', 'suppressed', 'not available' (the data cannot give
    it), or '—' when nothing was published."""
    if count is not None and count.not_available:
        return "not available"
    if count is None or (count.value is None and not count.suppressed):
        return "—"
    if count.suppressed:
        return "suppressed"
    return f"{count.value:,}"


def show(count: Count | None) -> Markup | str:
    """count_text for HTML: a suppressed or not-available count is styled so it stands apart
    from numbers and from each other."""
    if count is not None and count.not_available:
        return Markup('<span class="not-available">not available</span>')
    if count is not None and count.suppressed:
        return Markup('<span class="suppressed">suppressed</span>')
    return count_text(count)


def _month_name(month: dt.date) -> str:
    return f"{month:%B %Y}"


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


# --- reading the warehouse ------------------------------------------------------------------


def _rows(con, sql: str, params: Sequence = ()) -> list[dict]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _month_rows(con, tables: set[str], table: str, month: dt.date, order: str = "") -> list[dict] | None:
    """The month's rows of a table; None when the table is not in the warehouse at all (an
    agreement may not permit it), which the report says rather than showing an empty chart."""
    if table not in tables:
        return None
    # Warehouses published before `month` was a DATE hold it as a timestamp until their next
    # publish: compare and return it as a DATE.
    sql = f"SELECT * REPLACE (CAST(month AS DATE) AS month) FROM {table} WHERE CAST(month AS DATE) = ?"
    return _rows(con, sql + (f" ORDER BY {order}" if order else ""), [month])


@dataclass
class MonthData:
    month: dt.date
    tables: set[str]
    cells: list[dict] | None
    venues: list[dict] | None
    previous_venues: list[dict] | None
    hours: list[dict] | None
    methods: list[dict] | None
    coverage: list[dict] | None
    hidden: list[dict] | None
    trend: list[dict]  # one row per month of the window that has data: month, ed_assaults, police_violence (+ flags)
    trend_source: str  # "monthly_trend" or "hotspot_cells"
    agreements: list[tuple[str, int]]


def _trend_rows(con, tables: set[str], first: dt.date, last: dt.date) -> tuple[list[dict], str]:
    """Monthly totals for the trend chart and the headline. `monthly_trend` protects each total
    as a whole, so it is preferred; without it the published cell values are summed (suppressed
    cells excluded), which undercounts and is labelled as such."""
    if "monthly_trend" in tables:
        sql = (
            "SELECT * REPLACE (CAST(month AS DATE) AS month) FROM monthly_trend "
            "WHERE CAST(month AS DATE) BETWEEN ? AND ? ORDER BY month"
        )
        return _rows(con, sql, [first, last]), "monthly_trend"
    if "hotspot_cells" not in tables:
        return [], "hotspot_cells"
    sql = (
        "SELECT CAST(month AS DATE) AS month, sum(ed_assaults)::BIGINT AS ed_assaults, "
        "sum(police_violence)::BIGINT AS police_violence FROM hotspot_cells "
        "WHERE CAST(month AS DATE) BETWEEN ? AND ? GROUP BY ALL ORDER BY month"
    )
    rows = _rows(con, sql, [first, last])
    for row in rows:  # a sum of published values is never itself suppressed; NULL sum means 0
        row["ed_assaults"] = row["ed_assaults"] or 0
        row["police_violence"] = row["police_violence"] or 0
    return rows, "hotspot_cells"


def published_agreements(con, month: dt.date, tables: set[str] | None = None) -> list[tuple[str, int]]:
    """The (agreement id, version) pairs the month's published rows carry, from every table that
    has them."""
    if tables is None:
        tables = {r["table_name"] for r in _rows(con, "SELECT table_name FROM duckdb_tables() WHERE NOT internal")}
    return _agreements(con, tables, month)


def _agreements(con, tables: set[str], month: dt.date) -> list[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for table in sorted(tables):
        columns = {
            r["column_name"]
            for r in _rows(con, "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table])
        }
        if {"month", "agreement_id", "agreement_version"} <= columns:
            sql = f"SELECT DISTINCT agreement_id, agreement_version FROM {table} WHERE CAST(month AS DATE) = ?"
            found |= {(r["agreement_id"], int(r["agreement_version"])) for r in _rows(con, sql, [month])}
    return sorted(found)


# --- how the counts were protected ----------------------------------------------------------


@dataclass(frozen=True)
class Disclosure:
    """How the month's published counts were protected, as the report explains them: the policy of
    the agreement they were published under, or None when this report cannot know it (the
    agreement could not be read, or the rows carry another agreement id or version); `warning`
    then says why, and the page describes no rule it cannot read."""

    policy: DisclosurePolicy | None
    public_sources: tuple[str, ...] = ()
    epsilon: float | None = None
    agreement: str = ""  # "agreement <id> v<version>", when known
    warning: str = ""
    # Only when the policy is not known: whether the rows themselves flag any count as withheld.
    flagged_withheld: bool = False

    @property
    def method(self) -> str | None:
        return self.policy.method if self.policy else None

    @property
    def perturbs(self) -> bool:
        return self.method == "cell_key"

    @property
    def rounds(self) -> bool:
        return self.method == "suppress_and_round"

    @property
    def withholds(self) -> bool:
        """Whether any count may be withheld (shown as suppressed)."""
        if self.policy is None:
            return self.flagged_withheld
        return self.policy.largest_withheld() > 0

    @property
    def threshold(self) -> int | None:
        return (self.policy.largest_withheld() or None) if self.policy else None

    @property
    def rounding(self) -> int | None:
        return self.policy.rounding_base if self.rounds else None

    @property
    def public_exact(self) -> bool:
        return "police_uk" in self.public_sources

    @property
    def protected_word(self) -> str:
        """What was done to each total: 'perturbed', 'rounded' or 'protected'."""
        return {"cell_key": "perturbed", "suppress_and_round": "rounded"}.get(self.method or "", "protected")

    @property
    def suppressed_label(self) -> str:
        """The legend entry for a withheld count: with its range when the policy says it."""
        return f"suppressed (1–{self.threshold})" if self.threshold else "suppressed"

    @property
    def legend(self) -> str:
        """The reader-facing sentence: the policy's own legend under the cell-key method; under
        suppression and rounding the same rule in the words this page uses for a withheld count."""
        if self.policy is None:
            return (
                "How these counts were protected cannot be stated here (see the note on disclosure control "
                "at the top). They are the published, disclosure-controlled figures."
            )
        if self.perturbs:
            return disclosure_legend(self.policy, self.public_sources)
        text = (
            f"Counts of 1 to {self.threshold} are suppressed (shown as “suppressed”, never as 0); "
            f"others are rounded to the nearest {self.rounding}."
        )
        return text + (" " + POLICE_OPEN_DATA_SENTENCE if self.public_exact else "")

    @property
    def legend_base(self) -> int:
        """Colour legends step in the published granularity: the rounding base when counts are
        rounded, single counts otherwise."""
        return self.rounding or 1


def _agreement_in_force():
    """The agreement the pipeline runs under (ISTV_AGREEMENT, else the bundled one)."""
    from sharing_agreements.model import DEFAULT_AGREEMENT, load_agreement

    return load_agreement(Path(os.environ.get("ISTV_AGREEMENT") or DEFAULT_AGREEMENT))


def disclosure_for(published: Sequence[tuple[str, int]], agreement=None, flagged_withheld: bool = False) -> Disclosure:
    """How rows published under `published` (agreement id, version pairs) were protected, from
    `agreement` (an Agreement, a path to one, or None for the agreement in force). When the rows
    carry another agreement id or version, the loaded agreement's rules may not be theirs: the
    Disclosure says so, with no policy, rather than guess."""
    from sharing_agreements.model import AgreementError, load_agreement

    try:
        if agreement is None:
            agreement = _agreement_in_force()
        elif isinstance(agreement, (str, os.PathLike)):
            agreement = load_agreement(Path(agreement))
    except AgreementError as exc:
        return Disclosure(
            None, warning=f"the sharing agreement could not be read ({exc})", flagged_withheld=flagged_withheld
        )
    loaded = (agreement.id, agreement.version)
    other = sorted(set(published) - {loaded})
    if not published:
        return Disclosure(
            None,
            agreement=agreement.label,
            flagged_withheld=flagged_withheld,
            warning=(
                f"the published rows do not name the agreement they were published under, so the rules of "
                f"{agreement.label}, the agreement loaded here, may not be the ones applied"
            ),
        )
    if other:
        names = "; ".join(f"agreement {i} v{v}" for i, v in other)
        which = "some of these figures were" if loaded in published else "these figures were"
        return Disclosure(
            None,
            agreement=agreement.label,
            flagged_withheld=flagged_withheld,
            warning=(
                f"{which} published under {names}, not under {agreement.label}, the agreement loaded here, whose "
                "rules may not be the ones applied; ask the data officer for the agreement they were published under"
            ),
        )
    dp = agreement.disclosure_control.differential_privacy
    return Disclosure(
        agreement.disclosure_control.policy(), agreement.public_sources(), dp.epsilon if dp else None, agreement.label
    )


def _flags_withheld(data: MonthData) -> bool:
    """Whether any of the month's published rows flags a count as withheld."""
    tables = (data.cells, data.venues, data.hours, data.methods, data.coverage, data.hidden, data.trend)
    return any(
        v is not None and bool(v)
        for rows in tables
        if rows
        for row in rows
        for k, v in row.items()
        if k.endswith("_suppressed")
    )


def _read_month(warehouse: Path, month: dt.date) -> MonthData:
    with connect_read_only(warehouse) as con:
        tables = {r["table_name"] for r in _rows(con, "SELECT table_name FROM duckdb_tables() WHERE NOT internal")}
        trend, trend_source = _trend_rows(con, tables, _add_months(month, 1 - TREND_MONTHS), month)
        return MonthData(
            month=month,
            tables=tables,
            cells=_month_rows(con, tables, "hotspot_cells", month, "rank NULLS LAST, cell_id"),
            venues=_month_rows(con, tables, "hotspot_venues", month, "rank NULLS LAST, venue_name"),
            previous_venues=_month_rows(con, tables, "hotspot_venues", _add_months(month, -1)),
            hours=_month_rows(con, tables, "hour_of_week", month, "weekday, hour"),
            methods=_month_rows(con, tables, "assault_methods", month),
            coverage=_month_rows(con, tables, "coverage", month, "source, provider"),
            hidden=_month_rows(con, tables, "hidden_violence", month),
            trend=trend,
            trend_source=trend_source,
            agreements=_agreements(con, tables, month),
        )


# --- colours --------------------------------------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def ramp_colour(t: float) -> str:
    """The ramp at t in [0, 1], interpolated between its stops."""
    t = min(max(t, 0.0), 1.0) * (len(RAMP) - 1)
    low = min(int(t), len(RAMP) - 2)
    a, b = _rgb(RAMP[low]), _rgb(RAMP[low + 1])
    f = t - low
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def text_colour(fill: str) -> str:
    """Black or white, whichever reads on the fill."""
    r, g, b = _rgb(fill)
    return "#ffffff" if (0.299 * r + 0.587 * g + 0.114 * b) < 140 else "#1a1a1a"


def legend_values(vmin: int, vmax: int, steps: int = 5, root: bool = False, base: int = 1) -> list[int]:
    """Values from the smallest published count to the largest, for a colour legend, in steps of
    `base` (the rounding base when counts are rounded; never a value below the smallest, which
    would suggest counts that cannot be published). Spaced on a square-root scale when the
    colours are."""
    f, inv = (math.sqrt, lambda v: v * v) if root else ((lambda v: v), (lambda v: v))
    lo, hi = f(vmin), f(vmax)
    base = max(int(base), 1)
    values = {round(inv(lo + (hi - lo) * k / (steps - 1)) / base) * base for k in range(steps)}
    return sorted(v for v in values | {vmin, vmax} if vmin <= v <= vmax)


# --- the map --------------------------------------------------------------------------------
#
# Two panels in one SVG. On the left the whole area: every cell of the month, the actual hexagon
# polygons. On the right the busiest part enlarged, drawn by re-using the left panel's cells
# (<use>, scaled and clipped) so each cell exists once in the document. The top cells and venues
# are marked on the enlarged panel and named in a column beside it, joined by leader lines, so
# labels never overlap however tightly the hotspots cluster.


@dataclass(frozen=True)
class Projection:
    """Equirectangular, with longitude scaled by cos(latitude) so that hexagons keep their shape
    at the area's latitude: good enough for a city, and needs no map library."""

    lat0: float
    lon_min: float
    lat_max: float
    scale: float  # SVG units per degree of latitude
    x0: float
    y0: float

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        x = self.x0 + (lon - self.lon_min) * math.cos(math.radians(self.lat0)) * self.scale
        y = self.y0 + (self.lat_max - lat) * self.scale
        return round(x, 1), round(y, 1)

    @property
    def units_per_km(self) -> float:
        return self.scale / KM_PER_DEGREE


def fit_projection(
    points: Iterable[tuple[float, float]], x0: float, y0: float, width: float, height: float, min_extent_km: float = 2.0
) -> Projection:
    """Fit (lat, lon) points into the box at (x0, y0), centred; at least `min_extent_km` across so
    that one or two cells do not fill the page."""
    points = list(points)
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    lat0 = (min(lats) + max(lats)) / 2
    cos0 = math.cos(math.radians(lat0))
    min_deg = min_extent_km / KM_PER_DEGREE
    lat_span = max(max(lats) - min(lats), min_deg)
    lon_span = max((max(lons) - min(lons)) * cos0, min_deg)  # in latitude-degree units
    scale = min(width / lon_span, height / lat_span)
    lat_max = (min(lats) + max(lats)) / 2 + height / scale / 2
    lon_min = (min(lons) + max(lons)) / 2 - width / scale / cos0 / 2
    return Projection(lat0=lat0, lon_min=lon_min, lat_max=lat_max, scale=scale, x0=x0, y0=y0)


def nearest_place(lat: float, lon: float, places: Sequence[Place]) -> Place | None:
    """The gazetteer place nearest a point (equirectangular distance; fine over a city). Venues
    come first in the gazetteer, so a venue wins a tie with a street."""
    cos0 = math.cos(math.radians(lat))
    best, best_d = None, math.inf
    for place in places:
        if place.latitude is None or place.longitude is None:
            continue
        d = (place.latitude - lat) ** 2 + ((place.longitude - lon) * cos0) ** 2
        if d < best_d:
            best, best_d = place, d
    return best


@dataclass
class Hexagon:
    cell_id: str
    points: str  # SVG polygon points, in the whole-area panel
    fill: str
    suppressed: bool
    title: str


@dataclass
class Callout:
    """A label in the column beside the map, joined to its marker by a leader line."""

    kind: str  # "cell" or "venue"
    text: str
    rank: int
    x: float  # the marker: on the enlarged panel, or on the whole-area panel when outside it
    y: float
    enlarged: bool = True
    label_y: float = 0.0


@dataclass
class LegendSwatch:
    fill: str
    label: str


@dataclass(frozen=True)
class Zoom:
    """The enlarged panel: whole-area coordinates times `factor`, plus (dx, dy)."""

    factor: float
    dx: float
    dy: float

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return round(x * self.factor + self.dx, 1), round(y * self.factor + self.dy, 1)

    def inverse(self, x: float, y: float) -> tuple[float, float]:
        return round((x - self.dx) / self.factor, 1), round((y - self.dy) / self.factor, 1)


@dataclass
class HotspotMap:
    width: float
    height: float
    top: float  # panels start below their titles
    panel_height: float
    overview_width: float
    zoom_x: float
    zoom_width: float
    zoom: Zoom
    zoom_box: tuple[float, float, float, float]  # the enlarged area, outlined on the whole-area panel
    label_x: float
    hexagons: list[Hexagon]
    callouts: list[Callout]
    elsewhere_y: float | None  # heading over the labels of marks outside the enlarged area
    legend: list[LegendSwatch]
    legend_y: float
    scale_bars: list[tuple[float, float, float, str]]  # x (right end), y, length, label
    has_suppressed: bool


MAP_TOP = 22.0
OVERVIEW_WIDTH = 400.0
ZOOM_X = 416.0
ZOOM_WIDTH = 330.0
LABEL_X = 770.0
MAP_SVG_WIDTH = 1000.0
MAP_PADDING = 12.0
LABEL_GAP = 20.0
LEGEND_HEIGHT = 58.0
MAX_ZOOM = 12.0
ZOOM_MIN_EXTENT_KM = 1.0
# The enlarged panel shows the square of this side holding the most top cells and venues: a
# city-centre cluster, rather than a box stretched to reach one outlying hotspot.
ZOOM_WINDOW_KM = 2.0


def spread_labels(ys: list[float], gap: float, top: float, bottom: float) -> list[float]:
    """Move sorted label positions apart by at least `gap`, keeping them within [top, bottom] and
    as close as possible to where they want to be."""
    out: list[float] = []
    for y in ys:
        out.append(max(y, top, out[-1] + gap) if out else max(y, top))
    for i in reversed(range(len(out))):  # push back up any that ran off the bottom
        limit = bottom if i == len(out) - 1 else out[i + 1] - gap
        out[i] = min(out[i], limit)
    return out


def _cell_colour(combined: Count, vmax: int) -> str:
    # Square-root scale: one very busy cell would otherwise wash every other cell out to yellow.
    if combined.number is None:
        return SUPPRESSED_FILL
    return ramp_colour(math.sqrt(combined.number / vmax)) if vmax else RAMP[0]


def _map_legend(vmin: int, vmax: int, has_suppressed: bool, disclosure: Disclosure | None = None) -> list[LegendSwatch]:
    disclosure = disclosure or Disclosure(None)
    legend = []
    if vmax:
        legend = [
            LegendSwatch(_cell_colour(Count(v), vmax), f"{v:,}")
            for v in legend_values(vmin, vmax, root=True, base=disclosure.legend_base)
        ]
    if has_suppressed:
        legend.append(LegendSwatch("url(#hatch)", disclosure.suppressed_label))
    return legend


def _short(text: str, limit: int = 27) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _hexagons(cells: list[dict], boundaries: dict[str, tuple], projection: Projection, vmax: int) -> list[Hexagon]:
    hexagons = []
    for cell in cells:
        combined = _count(cell, "combined")
        points = " ".join(f"{x},{y}" for x, y in (projection.xy(lat, lon) for lat, lon in boundaries[cell["cell_id"]]))
        rank = f"rank {cell['rank']}, " if cell["rank"] is not None else ""
        title = (
            f"{rank}combined {count_text(combined)}; ED {count_text(_count(cell, 'ed_assaults'))}; "
            f"police {count_text(_count(cell, 'police_violence'))}"
        )
        hexagons.append(Hexagon(cell["cell_id"], points, _cell_colour(combined, vmax), combined.number is None, title))
    # Suppressed first, so coloured cells are drawn over their hatched neighbours' edges.
    hexagons.sort(key=lambda h: not h.suppressed)
    return hexagons


def busiest_group(points: list[tuple[float, float]], window: float) -> list[int]:
    """Indices of the points in the `window`-sided square (centred on one of them) that holds the
    most; the earliest centre wins a tie, so with points in rank order the top cell is favoured."""
    best: list[int] = []
    for cx, cy in points:
        group = [j for j, (x, y) in enumerate(points) if abs(x - cx) <= window / 2 and abs(y - cy) <= window / 2]
        if len(group) > len(best):
            best = group
    return best


def _fit_zoom(points: list[tuple[float, float]], panel_height: float, units_per_km: float) -> Zoom:
    """Enlarge the whole-area points to fill the right-hand panel."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    min_extent = ZOOM_MIN_EXTENT_KM * units_per_km
    width = max(max(xs) - min(xs), min_extent) * 1.15
    height = max(max(ys) - min(ys), min_extent) * 1.15
    factor = min((ZOOM_WIDTH - 2 * MAP_PADDING) / width, (panel_height - 2 * MAP_PADDING) / height, MAX_ZOOM)
    factor = max(factor, 1.0)
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    return Zoom(factor, ZOOM_X + ZOOM_WIDTH / 2 - factor * cx, MAP_TOP + panel_height / 2 - factor * cy)


def _place_callouts(callouts: list[Callout], panel_height: float) -> float | None:
    """Label positions in the column: marks on the enlarged panel beside their markers (leader
    lines), then, under a heading, those outside it in rank order. Returns the heading's y."""
    enlarged = sorted((c for c in callouts if c.enlarged), key=lambda c: c.y)
    elsewhere = sorted((c for c in callouts if not c.enlarged), key=lambda c: (c.kind, c.rank))
    bottom = MAP_TOP + panel_height - 12
    reserved = (len(elsewhere) + 1) * LABEL_GAP if elsewhere else 0
    for callout, y in zip(enlarged, spread_labels([c.y for c in enlarged], LABEL_GAP, MAP_TOP + 12, bottom - reserved)):
        callout.label_y = round(y, 1)
    for i, callout in enumerate(elsewhere):
        callout.label_y = round(bottom - (len(elsewhere) - 1 - i) * LABEL_GAP, 1)
    callouts[:] = enlarged + elsewhere
    return round(bottom - len(elsewhere) * LABEL_GAP, 1) if elsewhere else None


def _scale_bar(units_per_km: float, right: float, y: float) -> tuple[float, float, float, str]:
    """A round distance about a fifth of the panel wide."""
    km = next((k for k in (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10) if k * units_per_km >= 50), 10)
    return right, y, round(km * units_per_km, 1), (f"{km:g} km" if km >= 1 else f"{km * 1000:g} m")


def _venue_points(venues: list[dict], places: Sequence[Place]) -> list[tuple[dict, tuple[float, float]]]:
    """Where to mark each venue: its register coordinates, else the centre of its cell."""
    by_id = {p.place_id: p for p in places}
    points = []
    for venue in venues:
        place = by_id.get(venue["venue_id"])
        if place is not None and place.latitude is not None:
            points.append((venue, (place.latitude, place.longitude)))
        elif venue.get("cell_id"):
            points.append((venue, h3.cell_to_latlng(venue["cell_id"])))
    return points


def _callouts(
    labels: list[tuple[str, str, int]], marked: list[tuple[float, float]], zoom: Zoom, panel_height: float
) -> list[Callout]:
    """A callout per (kind, name, rank), marked on the enlarged panel when it shows the place and
    on the whole-area panel otherwise."""
    callouts = []
    for (kind, name, rank), (x, y) in zip(labels, marked):
        zx, zy = zoom.xy(x, y)
        inside = ZOOM_X + 8 <= zx <= ZOOM_X + ZOOM_WIDTH - 8 and MAP_TOP + 8 <= zy <= MAP_TOP + panel_height - 8
        callouts.append(Callout(kind, _short(name), int(rank), *((zx, zy) if inside else (x, y)), enlarged=inside))
    return callouts


def hotspot_map(
    cells: list[dict],
    cell_names: dict[str, str],
    top_venues: list[dict],
    places: Sequence[Place],
    disclosure: Disclosure | None = None,
) -> HotspotMap | None:
    """Every cell of the month as its hexagon, shaded by the combined count, with the top cells
    and venues marked and named on an enlarged panel of the busiest area."""
    if not cells:
        return None
    boundaries = {c["cell_id"]: h3.cell_to_boundary(c["cell_id"]) for c in cells}
    venue_points = _venue_points(top_venues, places)
    top_cells = [c for c in cells if c["cell_id"] in cell_names]

    # The whole-area panel: every cell (and venue marker) fitted into a square.
    all_points = [p for b in boundaries.values() for p in b] + [p for _, p in venue_points]
    inner = OVERVIEW_WIDTH - 2 * MAP_PADDING
    projection = fit_projection(all_points, MAP_PADDING, MAP_TOP + MAP_PADDING, inner, inner)
    used = [projection.xy(lat, lon)[1] for lat, lon in all_points]
    labels = [("cell", cell_names[c["cell_id"]], c["rank"]) for c in top_cells]
    labels += [("venue", v["venue_name"] or v["venue_id"], v["rank"]) for v, _ in venue_points]
    # As tall as the area needs, and tall enough for every label in the column.
    panel_height = max(max(used) - MAP_TOP + MAP_PADDING, (len(labels) + 1) * LABEL_GAP + 24, 240.0)

    # The enlarged panel: the busiest cluster of top cells and venues.
    marked = [projection.xy(*h3.cell_to_latlng(c["cell_id"])) for c in top_cells]
    marked += [projection.xy(lat, lon) for _, (lat, lon) in venue_points]
    group = busiest_group(marked, ZOOM_WINDOW_KM * projection.units_per_km) if marked else []
    focus = [marked[i] for i in group]
    focus += [
        projection.xy(lat, lon) for i in group if i < len(top_cells) for lat, lon in boundaries[top_cells[i]["cell_id"]]
    ]
    zoom = _fit_zoom(focus or [projection.xy(*all_points[0])], panel_height, projection.units_per_km)
    x0, y0 = zoom.inverse(ZOOM_X, MAP_TOP)
    x1, y1 = zoom.inverse(ZOOM_X + ZOOM_WIDTH, MAP_TOP + panel_height)

    callouts = _callouts(labels, marked, zoom, panel_height)
    elsewhere_y = _place_callouts(callouts, panel_height)
    published = [c["combined"] for c in cells if c["combined"] and not c.get("combined_suppressed")]
    vmin, vmax = min(published, default=0), max(published, default=0)
    hexagons = _hexagons(cells, boundaries, projection, vmax)
    has_suppressed = any(h.suppressed for h in hexagons)
    bottom = MAP_TOP + panel_height
    return HotspotMap(
        width=MAP_SVG_WIDTH,
        height=bottom + LEGEND_HEIGHT,
        top=MAP_TOP,
        panel_height=panel_height,
        overview_width=OVERVIEW_WIDTH,
        zoom_x=ZOOM_X,
        zoom_width=ZOOM_WIDTH,
        zoom=zoom,
        zoom_box=(
            max(x0, 0.0),
            max(y0, MAP_TOP),
            min(x1, OVERVIEW_WIDTH) - max(x0, 0.0),
            min(y1, bottom) - max(y0, MAP_TOP),
        ),
        label_x=LABEL_X,
        hexagons=hexagons,
        callouts=callouts,
        elsewhere_y=elsewhere_y,
        legend=_map_legend(vmin, vmax, has_suppressed, disclosure),
        legend_y=bottom + 12,
        scale_bars=[
            _scale_bar(projection.units_per_km, OVERVIEW_WIDTH - 14, bottom - 12),
            _scale_bar(projection.units_per_km * zoom.factor, ZOOM_X + ZOOM_WIDTH - 14, bottom - 12),
        ],
        has_suppressed=has_suppressed,
    )


def top_cell_names(cells: list[dict], places: Sequence[Place]) -> dict[str, str]:
    """The top ranked cells (cells come in rank order), each named after the gazetteer venue or
    street nearest its centre: public names that say where the cell is, not who was there."""
    names = {}
    for cell in [c for c in cells if c["rank"] is not None][:TOP_CELLS]:
        place = nearest_place(*h3.cell_to_latlng(cell["cell_id"]), places)
        names[cell["cell_id"]] = place.name if place else cell["cell_id"]
    return names


# --- hour of the week -----------------------------------------------------------------------


@dataclass
class HeatCell:
    x: float
    y: float
    fill: str
    text: str
    text_fill: str
    title: str


@dataclass
class HeatMap:
    id: str
    caption: str
    cells: list[HeatCell]
    width: float
    height: float
    cell_w: float
    cell_h: float
    left: float
    top: float
    rows: list[tuple[float, str]]
    columns: list[tuple[float, str]]
    legend: list[LegendSwatch]
    legend_y: float
    has_suppressed: bool


def heat_map(
    hours: list[dict], column: str, element_id: str, caption: str, noun: str, disclosure: Disclosure | None = None
) -> HeatMap:
    """7 x 24 grid, Monday at the top; colour by count, '•' on grey for a suppressed hour."""
    disclosure = disclosure or Disclosure(None)
    cell_w, cell_h, left, top = 36.0, 28.0, 44.0, 22.0
    published = [r[column] for r in hours if r[column] and not r.get(f"{column}_suppressed")]
    vmax = max(published, default=0)
    cells = []
    for row in hours:
        count = _count(row, column)
        x, y = left + row["hour"] * cell_w, top + (row["weekday"] - 1) * cell_h
        when = f"{WEEKDAYS[row['weekday'] - 1]} {row['hour']:02d}:00–{(row['hour'] + 1) % 24:02d}:00"
        if count.suppressed:
            fill, text = SUPPRESSED_FILL, "•"
        elif not count.value:
            fill, text = ZERO_FILL, ""
        else:
            fill, text = ramp_colour(count.value / vmax), f"{count.value}"
        cells.append(
            HeatCell(
                x,
                y,
                fill,
                text,
                text_colour(fill) if count.number else "#444444",
                f"{when}: {count_text(count)} {noun}",
            )
        )
    legend = [LegendSwatch(ZERO_FILL, "none")]
    if vmax:
        legend += [
            LegendSwatch(ramp_colour(v / vmax), f"{v:,}")
            for v in legend_values(min(published), vmax, steps=4, base=disclosure.legend_base)
        ]
    has_suppressed = any(c.text == "•" for c in cells)
    if has_suppressed:
        legend.append(LegendSwatch(SUPPRESSED_FILL, f"• {disclosure.suppressed_label}"))
    return HeatMap(
        id=element_id,
        caption=caption,
        cells=cells,
        width=left + 24 * cell_w + 4,
        height=top + 7 * cell_h + 44,
        cell_w=cell_w,
        cell_h=cell_h,
        left=left,
        top=top,
        rows=[(top + i * cell_h + cell_h / 2, d) for i, d in enumerate(WEEKDAYS)],
        columns=[(left + h * cell_w + cell_w / 2, f"{h:02d}") for h in range(24)],
        legend=legend,
        legend_y=top + 7 * cell_h + 14,
        has_suppressed=has_suppressed,
    )


def _any_police_hours(hours: list[dict]) -> bool:
    return any((r["police_violence"] or 0) > 0 or r.get("police_violence_suppressed") for r in hours)


def _police_hours_note(hours: list[dict]) -> str:
    """Why there is no police heat map ('' when there is one)."""
    if not hours or _any_police_hours(hours):
        return ""
    reasons = _reasons(hours)
    if reasons:
        return f"No police hour-of-week chart: not available, because {'; '.join(reasons)}."
    return "No police hour-of-week chart: no police-recorded violence was published for any hour this month."


# --- trend ----------------------------------------------------------------------------------


def nice_ticks(vmax: float, target: int = 5) -> list[int]:
    """Round axis ticks from 0 (steps of 1, 2 or 5 times a power of ten)."""
    if vmax <= 0:
        return [0, 5]
    raw = vmax / target
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 5, 10) if s * power >= raw)
    step = max(int(step), 1)
    return list(range(0, math.ceil(vmax / step) * step + 1, step))


@dataclass
class Series:
    name: str
    colour: str
    segments: list[str]  # polyline point lists, broken where a month is missing or suppressed
    points: list[tuple[float, float, str]]  # x, y, tooltip
    suppressed: list[tuple[float, str]]  # x, tooltip of suppressed months
    end_label: tuple[float, float, str] | None


@dataclass
class LineChart:
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    series: list[Series]
    table: list[dict]


def trend_chart(rows: list[dict], month: dt.date) -> LineChart:
    width, height, left, right, top, bottom = 900.0, 300.0, 56.0, 760.0, 16.0, 250.0
    months = [_add_months(month, i - TREND_MONTHS + 1) for i in range(TREND_MONTHS)]
    by_month = {r["month"]: r for r in rows}
    values = [(r.get(c) or 0) for r in rows for c in ("ed_assaults", "police_violence")]
    ticks = nice_ticks(max(values, default=0))
    ymax = ticks[-1]

    def x_of(i: int) -> float:
        return round(left + (right - left) * i / (len(months) - 1), 1)

    def y_of(v: float) -> float:
        return round(bottom - (bottom - top) * v / ymax, 1)

    series = []
    for column, name, colour in (
        ("ed_assaults", "ED assaults", ED_COLOUR),
        ("police_violence", "Police violence", POLICE_COLOUR),
    ):
        segments, current, points, suppressed = [], [], [], []
        for i, m in enumerate(months):
            count = _count(by_month.get(m), column)
            if count.number is None:  # a gap: not published, or suppressed (marked on the axis)
                if count.suppressed:
                    suppressed.append((x_of(i), f"{m:%b %Y}: {name} suppressed"))
                if current:
                    segments.append(current)
                current = []
                continue
            current.append(f"{x_of(i)},{y_of(count.number)}")
            points.append((x_of(i), y_of(count.number), f"{m:%b %Y}: {name} {count.number:,}"))
        if current:
            segments.append(current)
        end = None
        if points:
            end = (points[-1][0] + 8, points[-1][1] + 4, f"{name}")
        series.append(Series(name, colour, [" ".join(s) for s in segments], points, suppressed, end))
    # Keep the two end labels apart when the lines finish close together.
    ends = [s for s in series if s.end_label]
    if len(ends) == 2 and abs(ends[0].end_label[1] - ends[1].end_label[1]) < 14:
        upper, lower = sorted(ends, key=lambda s: s.end_label[1])
        mid = (upper.end_label[1] + lower.end_label[1]) / 2
        upper.end_label = (upper.end_label[0], mid - 7, upper.end_label[2])
        lower.end_label = (lower.end_label[0], mid + 7, lower.end_label[2])
    table = [
        {
            "month": f"{m:%b %Y}",
            "ed": show(_count(by_month.get(m), "ed_assaults")),
            "police": show(_count(by_month.get(m), "police_violence")),
        }
        for m in months
    ]
    return LineChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        y_ticks=[(y_of(t), f"{t:,}") for t in ticks],
        x_ticks=[(x_of(i), f"{m:%b %Y}" if m.month == 1 or i == 0 else f"{m:%b}") for i, m in enumerate(months)],
        series=series,
        table=table,
    )


# --- assault methods ------------------------------------------------------------------------


@dataclass
class Bar:
    label: str
    y: float
    width: float
    value: Markup | str
    suppressed: bool


@dataclass
class BarChart:
    width: float
    height: float
    left: float
    bar_height: float
    bars: list[Bar]


@cache
def _method_labels() -> dict[str, str]:
    return {c.key: c.label for c in load_codelist("assault_method").codes}


def method_chart(rows: list[dict]) -> BarChart:
    """Horizontal bars, largest first; a suppressed method has no bar, only the word."""
    width, left, bar_area, row_h, bar_h = 900.0, 260.0, 560.0, 30.0, 20.0
    counts = [(r["method"], _count(r, "ed_assaults")) for r in rows]
    counts.sort(key=lambda mc: (mc[1].number is None, -(mc[1].number or 0), mc[0]))
    vmax = max((c.number or 0 for _, c in counts), default=0)
    labels = _method_labels()
    bars = []
    for i, (method, count) in enumerate(counts):
        length = bar_area * (count.number or 0) / vmax if vmax else 0
        bars.append(
            Bar(
                labels.get(method, method.replace("_", " ")),
                6 + i * row_h,
                round(length, 1),
                show(count),
                count.suppressed,
            )
        )
    return BarChart(width=width, height=12 + len(bars) * row_h, left=left, bar_height=bar_h, bars=bars)


# --- venues, hidden violence, coverage ------------------------------------------------------


def _ranked_venues(venues: list[dict]) -> list[dict]:
    """Venues with a published, non-zero ED count, best first (a venue with 0 ED assaults still
    gets a rank in the table, but it is not a 'top venue')."""
    return [v for v in venues if v["rank"] is not None and (v["ed_assaults"] or 0) > 0]


def _change(this: Count, last: Count | None, last_published: bool) -> str:
    if not last_published:
        return "—"
    if last is None:
        return "new"
    if this.number is None or last.number is None:
        return "—"
    delta = this.number - last.number
    return "no change" if delta == 0 else f"{delta:+,}".replace("-", "−")


def _reasons(rows: list[dict] | None) -> list[str]:
    """The distinct reasons, as sentences, a table's rows give for figures the month's data cannot give."""
    return list(dict.fromkeys(_reason(r) for r in rows or [] if r.get(NOT_AVAILABLE)))


def venue_rows(venues: list[dict], previous: list[dict] | None) -> list[dict]:
    """The top venues by ED assaults with the change from last month: 'new' when the venue had
    no row last month, '—' when either month's count is suppressed (a change would reveal it)."""
    last = {v["venue_id"]: _count(v, "ed_assaults") for v in previous or []}
    last_published = bool(previous)
    ranked = [v for v in _ranked_venues(venues) if v["rank"] <= TOP_VENUE_ROWS]
    rows = []
    for venue in ranked:
        ed = _count(venue, "ed_assaults")
        before = last.get(venue["venue_id"])
        rows.append(
            {
                "rank": venue["rank"],
                "name": venue["venue_name"],
                "ed": show(ed),
                "police": show(_count(venue, "police_violence")),
                "last": show(before) if before is not None else ("—" if last_published else "not published"),
                "change": _change(ed, before, last_published),
            }
        )
    return rows


@dataclass
class Hidden:
    available: bool
    share: str = ""
    compared: Markup | str = ""
    without: Markup | str = ""
    rule: str = ""
    note: str = ""
    not_available: str = ""  # why the month's data cannot give the share (not disclosure control)


def hidden_violence(rows: list[dict] | None, disclosure: Disclosure | None = None) -> Hidden:
    withholds = True if disclosure is None else disclosure.withholds
    if not rows:
        return Hidden(False)
    row = rows[0]
    if row.get(NOT_AVAILABLE):
        return Hidden(True, not_available=_reason(row))
    # The table's first version named the compared column `ed_assaults`; later `ed_assaults_compared`.
    compared_col = "ed_assaults_compared" if "ed_assaults_compared" in row else "ed_assaults"
    compared, without = _count(row, compared_col), _count(row, "ed_assaults_without_police_record")
    share = row.get("share_without_police_record")
    # Only a table without the share column has it worked out here: a NULL share stays NULL.
    if "share_without_police_record" not in row and compared.number and without.number is not None:
        share = without.number / compared.number
    if share is None:
        note = _no_share_note(row, compared, without, withholds)
        return Hidden(True, "", show(compared), show(without), row.get("match_rule") or "", note)
    share = float(share)
    percent = share if share > 1 else share * 100  # published as a fraction 0-1; tolerate a percentage
    return Hidden(True, f"{percent:.0f}%", show(compared), show(without), row.get("match_rule") or "")


def _no_share_note(row: dict, compared: Count, without: Count, withholds: bool) -> str:
    """Why a month whose data could give the share has none published."""
    if compared.suppressed or without.suppressed:
        return "Withheld this month: a count the share depends on is suppressed by disclosure control."
    if NOT_AVAILABLE in row:
        return "No share this month: the published count of ED assaults with a known place and time is 0."
    # A table published before it gave its reasons: the causes cannot be told apart.
    return (
        "Not available this month: "
        + (
            "a count it depends on is suppressed, or "
            if withholds
            else "no ED assault with a known place and time was published to compare, or "
        )
        + "no police record-management data with times was delivered to compare against."
    )


def coverage_rows(rows: list[dict]) -> list[dict]:
    """Per source and provider. The located share is of the rows inside the area or of unknown
    place (shared, or unlocated and so not shared) that reached the map."""
    out = []
    for row in rows:
        shared, located, unlocated = (_count(row, c) for c in ("rows_shared", "rows_located", "rows_unlocated"))
        # A row without a count (NULL: not published) adds none to the denominator.
        in_area = (shared.number or 0) + (unlocated.number or 0)
        if shared.suppressed or located.suppressed or unlocated.suppressed:
            share = show(Count(None, True))
        elif in_area:
            share = f"{100 * located.number / in_area:.0f}%"
        else:
            share = "not available (no row in the area)"
        out.append(
            {
                "source": SOURCE_NAMES.get(row["source"], row["source"]),
                "provider": row["provider"],
                "received": show(_count(row, "rows_received")),
                "quarantined": show(_count(row, "rows_quarantined")),
                "shared": show(shared),
                "unlocated": show(unlocated),
                "located": show(located),
                "located_share": share,
            }
        )
    return out


# --- assembling the page --------------------------------------------------------------------


def _top_cell_rows(cells: list[dict], names: dict[str, str]) -> list[dict]:
    rows = []
    for cell in (c for c in cells if c["cell_id"] in names):
        z = cell.get("gi_star_z")
        rows.append(
            {
                "rank": cell["rank"],
                "cell_id": cell["cell_id"],
                "place": names[cell["cell_id"]],
                "ed": show(_count(cell, "ed_assaults")),
                "police": show(_count(cell, "police_violence")),
                "combined": show(_count(cell, "combined")),
                "hot_spot": None if "gi_star_z" not in cell else ("yes" if z is not None and z > 1.96 else "no"),
            }
        )
    return rows


def _headline(data: MonthData) -> dict:
    row = next((r for r in data.trend if r["month"] == data.month), None)
    cells = data.cells or []
    return {
        "ed": _count(row, "ed_assaults"),
        "police": _count(row, "police_violence"),
        "from_cells": data.trend_source == "hotspot_cells",
        "cells": len(cells),
        "cells_suppressed": sum(1 for c in cells if c["combined"] is None),
        "agreements": data.agreements,
    }


def build_context(data: MonthData, places: Sequence[Place], disclosure: Disclosure | None = None) -> dict:
    """Everything the template draws, already positioned and coloured. `disclosure`: how the
    counts were protected; by default from the agreement in force, checked against the agreement
    the month's rows carry."""
    if disclosure is None:
        disclosure = disclosure_for(data.agreements, flagged_withheld=_flags_withheld(data))
    cells = data.cells or []
    names = top_cell_names(cells, places)
    venues = data.venues or []
    markers = _ranked_venues(venues)[:TOP_VENUE_MARKERS]
    hours = data.hours or []
    heat_maps = []
    if hours:
        heat_maps.append(heat_map(hours, "ed_assaults", "hour-of-week", "ED assaults", "ED assaults", disclosure))
        if _any_police_hours(hours):
            heat_maps.append(
                heat_map(
                    hours,
                    "police_violence",
                    "hour-of-week-police",
                    "Police-recorded violence",
                    "police-recorded violent crimes",
                    disclosure,
                )
            )
    resolution = h3.get_resolution(cells[0]["cell_id"]) if cells else None
    return {
        "month": data.month,
        "month_name": _month_name(data.month),
        "previous_month_name": _month_name(_add_months(data.month, -1)),
        "generated": dt.date.today(),
        "headline": _headline(data),
        "disclosure": disclosure,
        "threshold": disclosure.threshold,
        "rounding": disclosure.rounding,
        "cell_area_km2": round(h3.average_hexagon_area(resolution, "km^2"), 2) if resolution is not None else 0.1,
        "map": hotspot_map(cells, names, markers, places, disclosure),
        "top_cells": _top_cell_rows(cells, names),
        "published": data.tables,
        "heat_maps": heat_maps,
        "police_hours_note": _police_hours_note(hours),
        "trend": trend_chart(data.trend, data.month) if data.trend else None,
        "trend_from_cells": data.trend_source == "hotspot_cells",
        "methods": method_chart(data.methods) if data.methods else None,
        "venues": venue_rows(venues, data.previous_venues),
        "venues_suppressed": sum(1 for v in venues if v.get("ed_assaults_suppressed")),
        "venues_previous_published": bool(data.previous_venues),
        "venues_not_available": _reasons(venues),
        "hidden": hidden_violence(data.hidden, disclosure),
        "coverage": coverage_rows(data.coverage or []),
        "ed_colour": ED_COLOUR,
        "police_colour": POLICE_COLOUR,
        "suppressed_fill": SUPPRESSED_FILL,
    }


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every name from the warehouse or gazetteer is escaped
        undefined=jinja2.StrictUndefined,  # a typo in the template fails loudly, not as a blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["show"] = show
    return env


def render_html(data: MonthData, places: Sequence[Place] | None = None, disclosure: Disclosure | None = None) -> str:
    context = build_context(data, gazetteer() if places is None else places, disclosure)
    return _environment().get_template(TEMPLATE).render(**context)


def render_report(
    warehouse: Path, month: dt.date, out: Path, agreement=None, disclosure: Disclosure | None = None
) -> Path:
    """Write the month's hotspot report to `out` (one self-contained HTML file) and return it.

    Reads the warehouse read-only, so it can run while a publish is under way. Raises
    ReportError when nothing is published for the month. The page explains the counts by the
    disclosure policy of `agreement` (an Agreement, a path, or None for the agreement in force:
    ISTV_AGREEMENT, else the bundled one), and says so when the month's rows were published under
    another agreement id or version; `disclosure` overrides both.
    """
    month = month.replace(day=1)
    data = _read_month(warehouse, month)
    if not data.cells and not data.venues and not data.hours and not data.methods:
        raise ReportError(
            f"nothing published for {month:%Y-%m} in {warehouse}: run `istv run --month {month:%Y-%m}` first"
        )
    if disclosure is None:
        disclosure = disclosure_for(data.agreements, agreement, flagged_withheld=_flags_withheld(data))
    html = render_html(data, disclosure=disclosure)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write beside and rename, so a reader (or a web server) never sees half a report.
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, out)
    return out
