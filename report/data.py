"""Reading the month's published tables from the warehouse, read-only.

A table the warehouse does not hold reads as None (an agreement may not permit it), so the page
can say so rather than draw an empty chart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from warehouse.publish import connect_read_only

TREND_MONTHS = 12


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def rows_of(con, sql: str, params: Sequence = ()) -> list[dict]:
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
    return rows_of(con, sql + (f" ORDER BY {order}" if order else ""), [month])


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
    # One row per month that has data, from 12 months before `month` to `month`: month,
    # ed_assaults, police_violence (+ flags).
    trend: list[dict]
    trend_source: str  # "monthly_trend" or "hotspot_cells"
    agreements: list[tuple[str, int]]
    # The evaluations (outcomes/): the month's intervention effects and positive deviants, and the
    # mission's progress up to the month; None when the warehouse holds no such table.
    effects: list[dict] | None = None
    deviants: list[dict] | None = None
    mission: list[dict] | None = None
    # hotspot_areas at the cells' resolution over the shortest window longer than a month (its
    # rows in rank order): where violence concentrates even when a month's cells are small.
    window: list[dict] | None = None


def _trend_rows(con, tables: set[str], first: dt.date, last: dt.date) -> tuple[list[dict], str]:
    """Monthly totals for the trend chart and the headline. `monthly_trend` protects each total
    as a whole, so it is preferred; without it the published cell values are summed (suppressed
    cells excluded), which undercounts and is labelled as such."""
    if "monthly_trend" in tables:
        sql = (
            "SELECT * REPLACE (CAST(month AS DATE) AS month) FROM monthly_trend "
            "WHERE CAST(month AS DATE) BETWEEN ? AND ? ORDER BY month"
        )
        return rows_of(con, sql, [first, last]), "monthly_trend"
    if "hotspot_cells" not in tables:
        return [], "hotspot_cells"
    sql = (
        "SELECT CAST(month AS DATE) AS month, sum(ed_assaults)::BIGINT AS ed_assaults, "
        "sum(police_violence)::BIGINT AS police_violence FROM hotspot_cells "
        "WHERE CAST(month AS DATE) BETWEEN ? AND ? GROUP BY ALL ORDER BY month"
    )
    rows = rows_of(con, sql, [first, last])
    for row in rows:  # a sum of published values is never itself suppressed; NULL sum means 0
        row["ed_assaults"] = row["ed_assaults"] or 0
        row["police_violence"] = row["police_violence"] or 0
    return rows, "hotspot_cells"


def _window_rows(con, tables: set[str], month: dt.date) -> list[dict] | None:
    """The month's hotspot_areas rows at the finest resolution over the shortest window of
    several months, in rank order; None when the warehouse has no such rows."""
    if "hotspot_areas" not in tables:
        return None
    sql = """WITH areas AS (SELECT * REPLACE (CAST(month AS DATE) AS month) FROM hotspot_areas
                            WHERE CAST(month AS DATE) = ? AND window_months > 1)
             SELECT * FROM areas
             WHERE window_months = (SELECT min(window_months) FROM areas)
               AND resolution = (SELECT max(resolution) FROM areas)
             ORDER BY rank NULLS LAST, cell_id"""
    return rows_of(con, sql, [month]) or None


def published_agreements(con, month: dt.date, tables: set[str] | None = None) -> list[tuple[str, int]]:
    """The (agreement id, version) pairs the month's published rows carry, from every table that
    has them."""
    if tables is None:
        tables = {r["table_name"] for r in rows_of(con, "SELECT table_name FROM duckdb_tables() WHERE NOT internal")}
    return _agreements(con, tables, month)


def _agreements(con, tables: set[str], month: dt.date) -> list[tuple[str, int]]:
    found: set[tuple[str, int]] = set()
    for table in sorted(tables):
        columns = {
            r["column_name"]
            for r in rows_of(con, "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table])
        }
        if {"month", "agreement_id", "agreement_version"} <= columns:
            sql = f"SELECT DISTINCT agreement_id, agreement_version FROM {table} WHERE CAST(month AS DATE) = ?"
            found |= {(r["agreement_id"], int(r["agreement_version"])) for r in rows_of(con, sql, [month])}
    return sorted(found)


def flags_withheld(data: MonthData) -> bool:
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


def read_month(warehouse: Path, month: dt.date) -> MonthData:
    with connect_read_only(warehouse) as con:
        tables = {r["table_name"] for r in rows_of(con, "SELECT table_name FROM duckdb_tables() WHERE NOT internal")}
        # One month more than the trend shows: the headline compares with the same month a year before.
        trend, trend_source = _trend_rows(con, tables, add_months(month, -TREND_MONTHS), month)
        return MonthData(
            month=month,
            tables=tables,
            cells=_month_rows(con, tables, "hotspot_cells", month, "rank NULLS LAST, cell_id"),
            venues=_month_rows(con, tables, "hotspot_venues", month, "rank NULLS LAST, venue_name"),
            previous_venues=_month_rows(con, tables, "hotspot_venues", add_months(month, -1)),
            hours=_month_rows(con, tables, "hour_of_week", month, "weekday, hour"),
            methods=_month_rows(con, tables, "assault_methods", month),
            coverage=_month_rows(con, tables, "coverage", month, "source, provider"),
            hidden=_month_rows(con, tables, "hidden_violence", month),
            trend=trend,
            trend_source=trend_source,
            agreements=_agreements(con, tables, month),
            effects=_month_rows(con, tables, "intervention_effects", month, "intervention_id"),
            deviants=_month_rows(con, tables, "positive_deviants", month, "change_pct, cell_id"),
            mission=rows_of(con, "SELECT * FROM mission_progress WHERE month <= ? ORDER BY month", [month])
            if "mission_progress" in tables
            else None,
            window=_window_rows(con, tables, month),
        )
