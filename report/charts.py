"""The charts: the hour-of-week heat maps, the trend (up to twelve months) and the assault methods, each
turned from rows into drawing instructions (positions, colours, labels) for charts.svg.j2.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import cache

from markupsafe import Markup

from report.colours import (
    ED_COLOUR,
    POLICE_COLOUR,
    SUPPRESSED_FILL,
    ZERO_FILL,
    LegendSwatch,
    legend_values,
    ramp_colour,
    text_colour,
)
from report.counts import count_of, count_text, reasons_not_available, show
from report.data import TREND_MONTHS, add_months
from report.disclosure import Disclosure
from schemas import load_codelist

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
        count = count_of(row, column)
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


def any_police_hours(hours: list[dict]) -> bool:
    return any((r["police_violence"] or 0) > 0 or r.get("police_violence_suppressed") for r in hours)


def police_hours_note(hours: list[dict]) -> str:
    """Why there is no police heat map ('' when there is one)."""
    if not hours or any_police_hours(hours):
        return ""
    reasons = reasons_not_available(hours)
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
class ChartFrame:
    """A chart's size, plotting area and axis ticks (position, label)."""

    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]


@dataclass
class LineChart(ChartFrame):
    series: list[Series]
    table: list[dict]


def trend_months(rows: list[dict], month: dt.date) -> list[dt.date]:
    """The months the trend spans: the last 12, or from the first month published in them, so a
    new warehouse does not draw an empty year."""
    window = [add_months(month, i - TREND_MONTHS + 1) for i in range(TREND_MONTHS)]
    published = {r["month"] for r in rows}
    first = next((m for m in window if m in published), month)
    return [m for m in window if m >= first]


def trend_chart(rows: list[dict], month: dt.date) -> LineChart | None:
    """The monthly totals as two lines; None with fewer than two months to draw (the page then
    says it is the first month rather than draw one dot on an empty axis)."""
    months = trend_months(rows, month)
    if len(months) < 2:
        return None
    width, height, left, right, top, bottom = 900.0, 300.0, 56.0, 760.0, 16.0, 250.0
    by_month = {r["month"]: r for r in rows}
    values = [(by_month[m].get(c) or 0) for m in months if m in by_month for c in ("ed_assaults", "police_violence")]
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
            count = count_of(by_month.get(m), column)
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
            "ed": show(count_of(by_month.get(m), "ed_assaults")),
            "police": show(count_of(by_month.get(m), "police_violence")),
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
    counts = [(r["method"], count_of(r, "ed_assaults")) for r in rows]
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
