"""Saved queries, declared in queries.yaml beside this module, and the month they show when the
analyst names none."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import duckdb
import yaml

from warehouse.sql import sql_name


@cache
def saved_queries() -> dict[str, dict[str, str]]:
    return yaml.safe_load((Path(__file__).parent / "queries.yaml").read_text(encoding="utf-8"))


def latest_published_month(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The latest month any published table holds (None when nothing is published): every table
    is read, since a month's release need not fill each of them."""
    tables = con.execute(
        "SELECT DISTINCT table_name FROM duckdb_columns() WHERE NOT internal AND column_name = 'month'"
    ).fetchall()
    if not tables:
        return None
    latest = " UNION ALL ".join(f"SELECT max(CAST(month AS DATE)) AS month FROM {sql_name(name)}" for (name,) in tables)
    return con.execute(f"SELECT max(month) FROM ({latest})").fetchone()[0]
