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

The work is split into reading (`report.data`), one small builder per section that turns rows into
drawing instructions (coordinates, colours, labels: `report.map` with its base layers and label
placement, `report.charts`, `report.sections`), and the Jinja template that writes them out with
autoescaping, so no name from the warehouse or gazetteer is ever written unescaped. This module
assembles the page.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import h3
import jinja2

from anonymise.gazetteer import Place
from anonymise.reference import gazetteer
from report.charts import any_police_hours, heat_map, method_chart, police_hours_note, trend_chart, trend_months
from report.colours import ED_COLOUR, POLICE_COLOUR, SUPPRESSED_FILL
from report.counts import reasons_not_available, show
from report.data import MonthData, add_months, flags_withheld, read_month
from report.disclosure import Disclosure, disclosure_for, resolve_agreement
from report.map import cell_name, hotspot_map, top_cell_names
from report.mission import mission_section
from report.sections import (
    coverage_rows,
    deviant_rows,
    effect_rows,
    headline,
    hidden_violence,
    ranked_venues,
    top_cell_rows,
    venue_rows,
)
from sharing_agreements.model import AgreementError, Mission

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
    "mission",
    "interventions",
    "what-works",
    "coverage",
)

TOP_VENUE_MARKERS = 5


class ReportError(RuntimeError):
    pass


def _month_name(month: dt.date) -> str:
    return f"{month:%B %Y}"


def build_context(
    data: MonthData, places: Sequence[Place], disclosure: Disclosure | None = None, mission: Mission | None = None
) -> dict:
    """Everything the template draws, already positioned and coloured. `disclosure`: how the
    counts were protected; by default from the agreement in force, checked against the agreement
    the month's rows carry. `mission`: the agreement's, for the mission section."""
    if disclosure is None:
        disclosure = disclosure_for(data.agreements, flagged_withheld=flags_withheld(data))
    cells = data.cells or []
    names = top_cell_names(cells, places)
    venues = data.venues or []
    markers = ranked_venues(venues)[:TOP_VENUE_MARKERS]
    hours = data.hours or []
    heat_maps = []
    if hours:
        heat_maps.append(heat_map(hours, "ed_assaults", "hour-of-week", "ED assaults", "ED assaults", disclosure))
        if any_police_hours(hours):
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
        "previous_month_name": _month_name(add_months(data.month, -1)),
        "generated": dt.date.today(),
        "headline": headline(data),
        "disclosure": disclosure,
        "threshold": disclosure.threshold,
        "rounding": disclosure.rounding,
        "cell_area_km2": round(h3.average_hexagon_area(resolution, "km^2"), 2) if resolution is not None else 0.1,
        "map": hotspot_map(cells, names, markers, places, disclosure),
        "top_cells": top_cell_rows(cells, names),
        "window_cells": top_cell_rows(data.window, top_cell_names(data.window, places)) if data.window else [],
        # The window's length and the months it holds are the same on every one of its rows.
        "window_months": data.window[0]["window_months"] if data.window else None,
        "window_covered": data.window[0]["months_available"] if data.window else None,
        "published": data.tables,
        "heat_maps": heat_maps,
        "police_hours_note": police_hours_note(hours),
        "trend": trend_chart(data.trend, data.month),
        "trend_months": len(trend_months(data.trend, data.month)) if data.trend else 0,
        "trend_from_cells": data.trend_source == "hotspot_cells",
        "methods": method_chart(data.methods) if data.methods else None,
        "venues": venue_rows(venues, data.previous_venues),
        "venues_suppressed": sum(1 for v in venues if v.get("ed_assaults_suppressed")),
        "venues_previous_published": bool(data.previous_venues),
        "venues_not_available": reasons_not_available(venues),
        "hidden": hidden_violence(data.hidden, disclosure),
        "coverage": coverage_rows(data.coverage or []),
        "mission": mission_section(mission, data.mission) if data.mission is not None else None,
        "effects": effect_rows(data.effects) if data.effects is not None else None,
        "deviants": deviant_rows(data.deviants, {r["cell_id"]: cell_name(r["cell_id"], places) for r in data.deviants})
        if data.deviants is not None
        else None,
        "ed_colour": ED_COLOUR,
        "police_colour": POLICE_COLOUR,
        "suppressed_fill": SUPPRESSED_FILL,
    }


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every name from the warehouse or gazetteer is escaped
        undefined=jinja2.StrictUndefined,  # a typo in the template fails loudly, not as a blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["show"] = show
    return env


def render_html(
    data: MonthData,
    places: Sequence[Place] | None = None,
    disclosure: Disclosure | None = None,
    mission: Mission | None = None,
) -> str:
    context = build_context(data, gazetteer() if places is None else places, disclosure, mission)
    return environment().get_template(TEMPLATE).render(**context)


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
    data = read_month(warehouse, month)
    if not data.cells and not data.venues and not data.hours and not data.methods:
        raise ReportError(
            f"nothing published for {month:%Y-%m} in {warehouse}: run `istv run --month {month:%Y-%m}` first"
        )
    if disclosure is None:
        disclosure = disclosure_for(data.agreements, agreement, flagged_withheld=flags_withheld(data))
    try:
        mission = resolve_agreement(agreement).mission
    except AgreementError:  # the page already says the agreement could not be read
        mission = None
    html = render_html(data, disclosure=disclosure, mission=mission)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write beside and rename, so a reader (or a web server) never sees half a report.
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, out)
    return out
