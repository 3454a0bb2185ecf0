"""Atomic publication to the shared DuckDB warehouse.

Analysts hold read-only connections while a run publishes, and DuckDB allows either one writer
or many readers of a file, never both. So a publish never writes the live file: it copies it,
replaces the month's rows in the copy, and swaps the copy in with one rename. Readers see the
old warehouse or the new one, never half of each, and a run killed part way leaves the live
file untouched. A lock file keeps two publishers from racing.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.tables import column_descriptions, table_specs


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


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _write_tables(con: duckdb.DuckDBPyConnection, month: dt.date, tables: dict[str, pd.DataFrame]) -> None:
    specs = {s.name: s for s in table_specs()}
    for name, frame in tables.items():
        con.register("incoming", frame)
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT * FROM incoming LIMIT 0")
        con.execute(f"DELETE FROM {name} WHERE month = ?", [month])
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming")
        con.unregister("incoming")
        spec = specs[name]
        con.execute(f"COMMENT ON TABLE {name} IS {_sql_text(' '.join(spec.description.split()))}")
        for column, text in column_descriptions(spec).items():
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_sql_text(text)}")


def publish(warehouse: Path, month: dt.date, tables: dict[str, pd.DataFrame]) -> None:
    """Replace `month` in every given table, all at once."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with _publish_lock(warehouse):
        staging = warehouse.with_name(f".{warehouse.name}.{os.getpid()}.publishing")
        staging.unlink(missing_ok=True)
        try:
            if warehouse.exists():
                shutil.copyfile(warehouse, staging)
            con = duckdb.connect(str(staging))
            try:
                con.execute("BEGIN")
                _write_tables(con, month, tables)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            with staging.open("rb") as fh:
                os.fsync(fh.fileno())
            os.replace(staging, warehouse)
        except OSError as exc:
            staging.unlink(missing_ok=True)
            raise PublishError(
                f"could not publish to {warehouse} ({exc.strerror or exc}); the published warehouse "
                "is unchanged. Check free disk space and permissions, then re-run the month"
            ) from None
        except BaseException:
            staging.unlink(missing_ok=True)
            raise


def connect_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """How analysts open the warehouse: read-only, so a publish never blocks them."""
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `istv run --month YYYY-MM` first")
    return duckdb.connect(str(warehouse), read_only=True)
