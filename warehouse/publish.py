"""Atomic publication to the shared DuckDB warehouse.

Analysts hold read-only connections while a run publishes, and DuckDB allows either one writer
or many readers of a file, never both. So a publish never writes the live file: it builds a new
file beside it and swaps it in with one rename. Readers see the old warehouse or the new one,
never half of each, and a run killed part way leaves the live file untouched. A lock file keeps
two publishers from racing.

The new file is built from scratch, never copied from the live one: only the live rows that stay
(other months, other tables) are read across, then the month's new rows are added. In a copy
with the month's rows deleted, the superseded release's values would survive in free blocks,
readable from the bytes of the file by anyone who holds it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.sql import comment_on, sql_name, sql_text
from warehouse.tables import column_descriptions, table_description, table_specs


class PublishError(RuntimeError):
    pass


@contextmanager
def _publish_lock(warehouse: Path):
    lock_path = warehouse.with_name(f".{warehouse.name}.lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build(con: duckdb.DuckDBPyConnection, month: dt.date, tables: dict[str, pd.DataFrame], has_live: bool) -> None:
    """Fill the empty current database: the tables of `live` (if attached) without the month's
    rows in the tables being replaced, then those tables' new rows, with every comment. Every
    table's `month` is a DATE, whatever type the live file holds it as (warehouses published
    before it was a DATE hold a TIMESTAMP at midnight: the same day), and a column new to a
    table is added to it, NULL in the rows kept from earlier publishes."""
    described = []
    if has_live:
        described = con.execute(
            "SELECT table_name, NULL, comment FROM duckdb_tables() "
            "WHERE database_name = 'live' AND schema_name = 'main' "
            "UNION ALL SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE database_name = 'live' AND schema_name = 'main'"
        ).fetchall()
    live_tables = [name for name, column, _ in described if column is None]
    comments = {(name, column): text for name, column, text in described if text}
    for name in dict.fromkeys([*live_tables, *tables]):
        table = sql_name(name)
        if name in live_tables:
            keep = " WHERE month IS DISTINCT FROM ?" if name in tables else ""
            con.execute(
                f"CREATE TABLE {table} AS {with_date_month(con, f'live.{table}')}{keep}", [month] if keep else []
            )
        if name in tables:
            con.register("incoming", tables[name])
            if name in live_tables:
                add_new_columns(con, table)
            else:
                con.execute(f"CREATE TABLE {table} AS {with_date_month(con, 'incoming')} LIMIT 0")
            con.execute(f"INSERT INTO {table} BY NAME {with_date_month(con, 'incoming')}")
            con.unregister("incoming")
    comments.update(_comments(tables))
    for (name, column), text in comments.items():
        con.execute(comment_on(name, column, text))


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def with_date_month(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """SELECT every column of `relation`, `month` as a DATE (pandas hands dates over as timestamps)."""
    if "month" not in _columns(con, relation):
        return f"SELECT * FROM {relation}"
    return f"SELECT * REPLACE (CAST(month AS DATE) AS month) FROM {relation}"


def add_new_columns(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Add to `table` the columns of `incoming` it lacks (a table extended since the live file
    was published), after its own: existing columns keep their names and places."""
    have = _columns(con, table)
    for column, kind in _columns(con, "incoming").items():
        if column not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {sql_name(column)} {kind}")


def _comments(tables: dict[str, pd.DataFrame]) -> dict[tuple[str, str | None], str]:
    """{(table, column or None): description} of the published tables among `tables`."""
    specs = {s.name: s for s in table_specs()}
    comments = {}
    for name in tables:
        spec = specs[name]
        comments[(name, None)] = table_description(spec)
        comments.update({(name, column): text for column, text in column_descriptions(spec).items()})
    return comments


def publish(warehouse: Path, month: dt.date, tables: dict[str, pd.DataFrame]) -> None:
    """Replace `month` in every given table, all at once: in the DuckLake the environment
    configures (warehouse/lake.py), else in the embedded file `warehouse`."""
    from warehouse import lake

    if (configured := lake.configured(warehouse.parent)) is not None:
        lake.replace_months(configured, month, tables, _comments(tables))
        return
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with _publish_lock(warehouse):
        staging = warehouse.with_name(f".{warehouse.name}.{os.getpid()}.publishing")
        staging.unlink(missing_ok=True)
        try:
            # Both files attached under fixed names (a file's default name would come from the
            # warehouse's); spilling, if any, beside the staging file as it would for a file connection.
            con = duckdb.connect(config={"temp_directory": f"{staging}.tmp"})
            try:
                con.execute(f"ATTACH {sql_text(str(staging))} AS new")
                con.execute("USE new")
                has_live = warehouse.exists()
                if has_live:
                    con.execute(f"ATTACH {sql_text(str(warehouse))} AS live (READ_ONLY)")
                con.execute("BEGIN")
                _build(con, month, tables, has_live)
                con.execute("COMMIT")
                con.execute("CHECKPOINT new")
            finally:
                con.close()
            with staging.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(staging, warehouse)
        except (OSError, duckdb.IOException) as exc:  # DuckDB reports a full disk as an IOException
            staging.unlink(missing_ok=True)
            raise PublishError(
                f"could not publish to {warehouse} ({getattr(exc, 'strerror', None) or exc}); the published "
                "warehouse is unchanged. Check free disk space and permissions, then re-run the month"
            ) from None
        except BaseException:
            staging.unlink(missing_ok=True)
            raise


def connect_read_only(warehouse: Path, as_of: dt.datetime | None = None) -> duckdb.DuckDBPyConnection:
    """How analysts open the warehouse: read-only, so a publish never blocks them; the DuckLake
    the environment configures, else the embedded file. `as_of`: the warehouse as it was then
    (DuckLake keeps every release; the file holds only the latest)."""
    from warehouse import lake

    if (configured := lake.configured(warehouse.parent)) is not None:
        return lake.connect(configured, as_of=as_of)
    if as_of is not None:
        raise lake.LakeError(
            "the embedded warehouse keeps only the latest release: earlier ones are read from the DuckLake "
            f"backend ({lake.BACKEND_ENV}=ducklake)"
        )
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `istv run --month YYYY-MM` first")
    return duckdb.connect(str(warehouse), read_only=True)
