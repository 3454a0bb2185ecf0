"""The mission against its target, for the monthly report and the public page: the latest month's
standing in plain words and a chart of the metric, its target line and its seasonally adjusted
trend with the 95% band, from the published mission_progress rows (outcomes/mission.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from outcomes.mission import reason_text, status_text
from report.charts import ChartFrame, nice_ticks
from sharing_agreements.review import month_words

if TYPE_CHECKING:
    from sharing_agreements.model import Mission

MISSION_COLOUR = "#bd0026"  # the report's header red
TARGET_COLOUR = "#555555"
BAND_FILL = "#fcd5d9"


def _month(date: dt.date) -> str:
    return f"{date:%B %Y}"


def _number(value) -> str:
    if value is None:
        return "not available"
    value = float(value)
    return f"{value:,.0f}" if value == round(value) or abs(value) >= 100 else f"{value:,.1f}"


def _unit(row: dict) -> str:
    unit = row.get("metric_unit")
    if unit:
        return " ".join(str(unit).replace("_", " ").split())
    return "per 100,000 residents" if row.get("per_100k") else "a month"


@dataclass
class MissionChart(ChartFrame):
    metric: list[str]  # polyline point lists, broken where a month has no published value
    target: list[str]
    points: list[tuple[float, float, str]]
    trend: list[str]
    band: list[str]  # polygons: the trend's 95% band, where it was estimated


def _segments(values: list[tuple[float, float | None]]) -> list[str]:
    segments, current = [], []
    for x, y in values:
        if y is None:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        current.append(f"{x},{y}")
    if current:
        segments.append(" ".join(current))
    return segments


def _tick_months(n: int, most: int = 8) -> list[int]:
    """Which of n months the axis labels: evenly spaced, the last always, none crowding it."""
    step = max(1, -(-n // most))
    ticks = [i for i in range(0, n, step) if n - 1 - i > step / 2 or i == n - 1]
    return ticks if ticks and ticks[-1] == n - 1 else [*ticks, n - 1]


def mission_chart(rows: list[dict]) -> MissionChart | None:
    """The metric against its target, month by month; None with fewer than two months."""
    if len(rows) < 2:
        return None
    width, height, left, right, top, bottom = 900.0, 260.0, 56.0, 800.0, 16.0, 215.0
    values = [float(r[c]) for r in rows for c in ("metric", "target", "trend_high") if r.get(c) is not None]
    ticks = nice_ticks(max(values, default=0))
    ymax = ticks[-1]

    def x_of(i: int) -> float:
        return round(left + (right - left) * i / (len(rows) - 1), 1)

    def y_of(v) -> float | None:
        return None if v is None else round(bottom - (bottom - top) * float(v) / ymax, 1)

    return MissionChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        y_ticks=[(y_of(t), f"{t:,}") for t in ticks],
        x_ticks=[(x_of(i), f"{rows[i]['month']:%b %Y}") for i in _tick_months(len(rows))],
        metric=_segments([(x_of(i), y_of(r.get("metric"))) for i, r in enumerate(rows)]),
        target=_segments([(x_of(i), y_of(r.get("target"))) for i, r in enumerate(rows)]),
        points=[
            (x_of(i), y_of(r["metric"]), f"{r['month']:%b %Y}: {_number(r['metric'])} {_unit(r)}")
            for i, r in enumerate(rows)
            if r.get("metric") is not None
        ],
        trend=_segments([(x_of(i), y_of(r.get("trend"))) for i, r in enumerate(rows)]),
        band=_band([(x_of(i), y_of(r.get("trend_low")), y_of(r.get("trend_high"))) for i, r in enumerate(rows)]),
    )


def _band(values: list[tuple[float, float | None, float | None]]) -> list[str]:
    """Closed polygons between the band's low and high edges, one per run of months that have both."""
    runs, current = [], []
    for x, low, high in values:
        if low is None or high is None:
            if current:
                runs.append(current)
            current = []
            continue
        current.append((x, low, high))
    if current:
        runs.append(current)
    return [
        " ".join([f"{x},{high}" for x, _, high in run] + [f"{x},{low}" for x, low, _ in reversed(run)]) for run in runs
    ]


def mission_section(mission: Mission | None, rows: list[dict] | None) -> dict:
    """The mission's goal and the latest published month's standing with the chart; "set" False
    when the agreement declares no mission."""
    if mission is None:
        return {"set": False}
    section = {
        "set": True,
        "goal": " ".join(mission.goal.split()),
        "reduction_pct": f"{mission.reduction_pct:g}",
        "baseline_from": month_words(mission.baseline_from),
        "baseline_to": month_words(mission.baseline_to),
        "target_month": month_words(mission.target_month),
        "latest": None,
        "chart": None,
        "colour": MISSION_COLOUR,
        "target_colour": TARGET_COLOUR,
        "band_fill": BAND_FILL,
    }
    if not rows:
        return section
    latest = rows[-1]
    reason = latest.get("not_available_reason")
    off = latest.get("months_off_track")
    section["latest"] = {
        "month": _month(latest["month"]),
        "status": status_text(latest, mission),
        "metric": _number(latest.get("metric")),
        "target": _number(latest.get("target")),
        "baseline": _number(latest.get("baseline")),
        "baseline_months": latest.get("baseline_months"),
        "unit": _unit(latest),
        "reason": reason_text(reason) if reason else "",
        "months_off_track": int(off) if off else 0,
    }
    section["chart"] = mission_chart(rows)
    return section
