"""What publishing one month costs as the warehouse grows: the month's tables (from the aggregate
stage) published into a warehouse already holding 0, 11 and 59 other months, so that it holds 1,
12 and 60 months after, for both backends in the same run:

- the embedded DuckDB file, rebuilt from the live one and swapped in (warehouse/publish.py): its
  cost grows with the warehouse, since every publish reads all the months it keeps across;
- DuckLake on a PostgreSQL catalogue (warehouse/lake.py), started here on a loopback port: one
  transaction deleting and inserting the month's rows only.

The earlier months are the same tables under other month keys, put in place in bulk (not timed);
only the last publish is timed, twice, and the faster counts.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import tempfile
import time
from pathlib import Path

import pandas as pd

SIZES = (1, 12, 60)
REPEATS = 2


def _shifted(tables: dict[str, pd.DataFrame], month: dt.date) -> dict[str, pd.DataFrame]:
    return {name: frame.assign(month=pd.Timestamp(month)) for name, frame in tables.items()}


def _months(last: dt.date, n: int) -> list[dt.date]:
    index = last.year * 12 + last.month - 1
    return [dt.date((index - k) // 12, (index - k) % 12 + 1, 1) for k in reversed(range(n))]


def _fill_file(warehouse: Path, tables: dict[str, pd.DataFrame], months: list[dt.date]) -> None:
    """The embedded file holding `months`, written in bulk: one publish, then the rest copied in."""
    import duckdb

    from warehouse.publish import publish

    publish(warehouse, months[0], _shifted(tables, months[0]))
    if len(months) > 1:
        with duckdb.connect(str(warehouse)) as con:
            for name in tables:
                for month in months[1:]:
                    con.execute(
                        f'INSERT INTO "{name}" SELECT * REPLACE (CAST(? AS DATE) AS month) FROM "{name}" '
                        f"WHERE month = ?",
                        [month, months[0]],
                    )


def _fill_lake(tables: dict[str, pd.DataFrame], months: list[dt.date]) -> None:
    from warehouse import lake

    configured = lake.configured()
    for month in months:
        lake.replace_months(configured, month, _shifted(tables, month), {})


def _timed_publish(warehouse: Path, tables: dict[str, pd.DataFrame], month: dt.date) -> float:
    from warehouse.publish import publish

    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        publish(warehouse, month, _shifted(tables, month))
        best = min(best, time.perf_counter() - started)
    return best


def publish_cost(work: str, month: str, inputs: dict | None = None) -> dict:
    from benchmarks.postgres_server import running_postgres
    from benchmarks.stages import _dir, _need

    tables = pickle.loads(_need(_dir(work) / "tables.pickle", "aggregate").read_bytes())
    last = dt.date.fromisoformat(f"{month}-01")
    figures: dict = {"rows_per_month": sum(len(t) for t in tables.values()), "file": {}, "ducklake": {}}
    with tempfile.TemporaryDirectory(dir=work) as folder:
        os.environ.pop("ISTV_WAREHOUSE", None)
        for size in SIZES:
            warehouse = Path(folder) / f"file-{size}" / "istv.duckdb"
            months = _months(last, size)
            if size > 1:
                _fill_file(warehouse, tables, months[:-1])
            figures["file"][str(size)] = {
                "seconds": _timed_publish(warehouse, tables, months[-1]),
                "mb": warehouse.stat().st_size / 1e6,
            }
        with running_postgres() as server:
            for size in SIZES:
                schema = f"bench{size}"
                server.execute(f"CREATE SCHEMA {schema}", "postgres")
                os.environ.update(
                    {
                        "ISTV_WAREHOUSE": "ducklake",
                        "ISTV_LAKE_CATALOG": f"host={server.host} port={server.port} dbname=postgres user=istv_admin",
                        "ISTV_LAKE_SCHEMA": schema,
                        "ISTV_LAKE_DATA": str(Path(folder) / f"lake-{size}"),
                    }
                )
                months = _months(last, size)
                if size > 1:
                    _fill_lake(tables, months[:-1])
                seconds = _timed_publish(Path(folder) / "unused.duckdb", tables, months[-1])
                data = sum(f.stat().st_size for f in (Path(folder) / f"lake-{size}").rglob("*") if f.is_file())
                figures["ducklake"][str(size)] = {"seconds": seconds, "mb": data / 1e6}
            for name in ("ISTV_WAREHOUSE", "ISTV_LAKE_CATALOG", "ISTV_LAKE_SCHEMA", "ISTV_LAKE_DATA"):
                os.environ.pop(name, None)
    return figures


def lines(figures: dict) -> list[str]:
    """The figures as the benchmark report prints them."""
    out = [
        "",
        f"Publishing one month ({figures['rows_per_month']:,} published rows) into a warehouse of N months:",
        f"{'months after':>14}  {'DuckDB file':>16}  {'DuckLake':>16}",
    ]
    for size in SIZES:
        file, lake = figures["file"][str(size)], figures["ducklake"][str(size)]
        cells = [f"{f['seconds']:>7.2f} s {f['mb']:>5.0f} MB" for f in (file, lake)]
        out.append(f"{size:>14}  {cells[0]:>16}  {cells[1]:>16}")
    return out
