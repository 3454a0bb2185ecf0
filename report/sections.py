"""The page's tables and text sections: the headline figures with their change from last month
and from a year before, the top cells, the top venues with the change from last month, hidden
violence, the interventions' effects and the positive deviants, and coverage.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from outcomes.protect import deviant_text, effect_text
from report.counts import Count, count_of, reason_not_available, show
from report.data import MonthData, add_months
from report.disclosure import Disclosure
from warehouse.tables import NOT_AVAILABLE

TOP_VENUE_ROWS = 10
SOURCE_NAMES = {
    "ed": "Emergency department",
    "police": "Police (record-management extract)",
    "police_uk": "Police (data.police.uk open data)",
}


def ranked_venues(venues: list[dict]) -> list[dict]:
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


def venue_rows(venues: list[dict], previous: list[dict] | None) -> list[dict]:
    """The top venues by ED assaults with the change from last month: 'new' when the venue had
    no row last month, '—' when either month's count is suppressed (a change would reveal it)."""
    last = {v["venue_id"]: count_of(v, "ed_assaults") for v in previous or []}
    last_published = bool(previous)
    ranked = [v for v in ranked_venues(venues) if v["rank"] <= TOP_VENUE_ROWS]
    rows = []
    for venue in ranked:
        ed = count_of(venue, "ed_assaults")
        before = last.get(venue["venue_id"])
        rows.append(
            {
                "rank": venue["rank"],
                "name": venue["venue_name"],
                "ed": show(ed),
                "police": show(count_of(venue, "police_violence")),
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
        return Hidden(True, not_available=reason_not_available(row))
    # The table's first version named the compared column `ed_assaults`; later `ed_assaults_compared`.
    compared_col = "ed_assaults_compared" if "ed_assaults_compared" in row else "ed_assaults"
    compared, without = count_of(row, compared_col), count_of(row, "ed_assaults_without_police_record")
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
        shared, located, unlocated = (count_of(row, c) for c in ("rows_shared", "rows_located", "rows_unlocated"))
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
                "received": show(count_of(row, "rows_received")),
                "quarantined": show(count_of(row, "rows_quarantined")),
                "shared": show(shared),
                "unlocated": show(unlocated),
                "located": show(located),
                "located_share": share,
            }
        )
    return out


def top_cell_rows(cells: list[dict], names: dict[str, str]) -> list[dict]:
    rows = []
    for cell in (c for c in cells if c["cell_id"] in names):
        z = cell.get("gi_star_z")
        rows.append(
            {
                "rank": cell["rank"],
                "cell_id": cell["cell_id"],
                "place": names[cell["cell_id"]],
                "ed": show(count_of(cell, "ed_assaults")),
                "police": show(count_of(cell, "police_violence")),
                "combined": show(count_of(cell, "combined")),
                "hot_spot": None if "gi_star_z" not in cell else ("yes" if z is not None and z > 1.96 else "no"),
            }
        )
    return rows


@dataclass
class Change:
    """A headline figure's change from an earlier month, or why it cannot be given."""

    against: str  # the earlier month, "September 2026"
    text: str = ""  # "+57 (+9.7%)", "no change"; empty when not available
    direction: str = ""  # "up", "down" or "same"; empty when not available
    reason: str = ""  # why it is not available

    @property
    def arrow(self) -> str:
        return {"up": "▲", "down": "▼", "same": "="}.get(self.direction, "")


def _signed(n: float, spec: str = ",") -> str:
    return format(n, "+" + spec).replace("-", "−")


def change(this: Count, before: Count | None, against: str) -> Change:
    """The change from `before` to `this`, both as published (protected as a whole), never from a
    figure that was withheld or not published: a missing month is not a zero, so the change is then
    not available, with the reason. From a published zero there is no percentage."""
    if this.number is None:
        why = "this month's figure is suppressed" if this.suppressed else "this month's figure is not available"
        return Change(against, reason=why)
    if before is None or (before.value is None and not before.suppressed and not before.not_available):
        return Change(against, reason="nothing was published for that month")
    if before.suppressed:
        return Change(against, reason="that month's figure is suppressed")
    if before.number is None:
        return Change(against, reason=f"that month's figure is not available: {before.not_available}")
    delta = this.number - before.number
    if delta == 0:
        return Change(against, "no change", "same")
    direction = "up" if delta > 0 else "down"
    if before.number == 0:
        return Change(against, f"{_signed(delta)} (from none)", direction)
    percent = 100 * delta / before.number
    return Change(against, f"{_signed(delta)} ({_signed(percent, '.1f' if abs(percent) < 10 else '.0f')}%)", direction)


def _month_name(month) -> str:
    return f"{month:%B %Y}"


def headline(data: MonthData) -> dict:
    """The month's totals, each with its change from the month before and from the same month a
    year earlier, all from the published totals (monthly_trend, or the sums of published cells)."""
    rows = {r["month"]: r for r in data.trend}
    row = rows.get(data.month)
    earlier = [add_months(data.month, -1), add_months(data.month, -12)]
    cells = data.cells or []
    totals = {}
    for column in ("ed_assaults", "police_violence"):
        this = count_of(row, column)
        changes = [change(this, count_of(rows[m], column) if m in rows else None, _month_name(m)) for m in earlier]
        totals[column] = (this, changes)
    return {
        "ed": totals["ed_assaults"][0],
        "police": totals["police_violence"][0],
        "ed_changes": totals["ed_assaults"][1],
        "police_changes": totals["police_violence"][1],
        "from_cells": data.trend_source == "hotspot_cells",
        "cells": len(cells),
        "cells_suppressed": sum(1 for c in cells if c["combined"] is None),
        "agreements": data.agreements,
    }


def effect_rows(effects: list[dict]) -> list[dict]:
    """Each evaluated intervention's effect and the change next door, in plain words."""
    return [
        {
            "id": r["intervention_id"],
            "kind": r["kind"].replace("_", " "),
            "effect": effect_text(r),
            "next_door": effect_text(r, "displacement_"),
            "months": f"{r['months_before']} before, {r['months_after']} since",
        }
        for r in effects
    ]


def deviant_rows(deviants: list[dict], names: dict[str, str]) -> list[dict]:
    """The places that fell more than comparable ones, named by the nearest street or venue."""
    return [{"cell": r["cell_id"], "place": names[r["cell_id"]], "said": deviant_text(r)} for r in deviants]
