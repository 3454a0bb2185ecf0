"""The DuckLake warehouse backend: the same tables, comments and "replace the month in every
table, all at once" as the embedded file, in a DuckLake (a catalogue in PostgreSQL, the data as
Parquet files), for a hub that outgrows one file.

Chosen by the environment (`ISTV_WAREHOUSE=ducklake`), so that moving past one machine is
configuration:
- `ISTV_LAKE_CATALOG`: the libpq connection string of the PostgreSQL database holding the
  catalogue ("host=... port=... dbname=... user=..."). The password comes from PGPASSWORD or a
  pgpass file, never from this string, so that no error message or log line can carry it.
- `ISTV_LAKE_SCHEMA`: the partnership's PostgreSQL schema, where its catalogue lives. Each
  partnership of a hub has its own schema and its own PostgreSQL role with rights on that
  schema only, so one partnership's analysts cannot read another's catalogue.
- `ISTV_LAKE_DATA`: where the Parquet files go (default: a `lake` folder beside the embedded
  warehouse file, $ISTV_HOME/warehouse/lake). They are encrypted
  with keys kept in the catalogue: access to the data path alone reveals nothing.

A publish is one DuckLake transaction: readers see the month before or after it, never half of
it, with no file lock, so runs of different months publish at once. DuckLake checks concurrent
commits optimistically: one that collides with another month's (both deleting from and inserting
into a table) is rolled back whole and tried again. Every commit is a snapshot, so the release
history ("what did the report show in March?") is kept: `connect(..., as_of=...)` reads the
warehouse as it was; `expire_releases` forgets superseded releases after the agreement's period.

The extensions come from the signed `duckdb-extension-*` wheels (installed from their files):
nothing is downloaded, and no remote path is ever read or written.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.sql import comment_on, sql_name, sql_text

BACKEND_ENV = "ISTV_WAREHOUSE"
CATALOG_ENV, SCHEMA_ENV, DATA_ENV = "ISTV_LAKE_CATALOG", "ISTV_LAKE_SCHEMA", "ISTV_LAKE_DATA"
ALIAS = "lake"
# postgres: the catalogue's connection; httpfs: OpenSSL, which DuckDB needs to write encrypted files.
EXTENSIONS = ("postgres", "ducklake", "httpfs")
# A commit that collides with another run's is tried again, after a random pause, this many times.
ATTEMPTS = 30


class LakeError(RuntimeError):
    """The DuckLake warehouse cannot be used as configured: the message says what to set."""


@dataclass(frozen=True)
class Lake:
    catalog: str
    schema: str
    data_path: Path

    @property
    def label(self) -> str:
        """Where the warehouse is, for people: the catalogue's schema and the data path, no credentials."""
        return f"DuckLake (PostgreSQL schema {self.schema}, data in {self.data_path})"


def configured(beside: Path | None = None) -> Lake | None:
    """The DuckLake the environment chooses, or None for the embedded file (the default)."""
    backend = os.environ.get(BACKEND_ENV, "duckdb").strip().lower()
    if backend in ("", "duckdb"):
        return None
    if backend != "ducklake":
        raise LakeError(f"{BACKEND_ENV}={backend!r} is not a warehouse backend: use duckdb (the default) or ducklake")
    catalog = os.environ.get(CATALOG_ENV, "").strip()
    if not catalog:
        raise LakeError(
            f"{BACKEND_ENV}=ducklake needs {CATALOG_ENV}, the PostgreSQL catalogue's connection "
            "(host=... port=... dbname=... user=...; the password in PGPASSWORD or a pgpass file)"
        )
    if "password" in catalog.lower():
        raise LakeError(f"{CATALOG_ENV} must not hold a password: give it in PGPASSWORD or a pgpass file")
    data = os.environ.get(DATA_ENV) or (str(beside / "lake") if beside else "")
    if not data:
        raise LakeError(f"{BACKEND_ENV}=ducklake needs {DATA_ENV}, the folder of the warehouse's data files")
    return Lake(catalog, os.environ.get(SCHEMA_ENV, "istv").strip() or "istv", Path(data))


def _extension_file(name: str) -> str:
    package = importlib.import_module(f"duckdb_extension_{name}")
    return str(Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension")


def connect(lake: Lake, read_only: bool = True, as_of: dt.datetime | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached and in use (`SELECT * FROM hotspot_cells` works as on
    the file); read-only unless publishing; `as_of`: the warehouse as it was at that moment."""
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    try:
        for name in EXTENSIONS:
            con.execute(f"INSTALL {sql_text(_extension_file(name))}")
            con.execute(f"LOAD {name}")
        options = [f"METADATA_SCHEMA {sql_text(lake.schema)}"]
        if read_only:
            options.append("READ_ONLY")
        else:  # taken from the catalogue once it exists; needed to create it
            lake.data_path.mkdir(parents=True, exist_ok=True)
            options += [f"DATA_PATH {sql_text(str(lake.data_path) + os.sep)}", "ENCRYPTED"]
        if as_of is not None:
            options.append(f"SNAPSHOT_TIME {sql_text(as_of.isoformat(sep=' '))}")
        _attach(con, f"ATTACH {sql_text('ducklake:postgres:' + lake.catalog)} AS {ALIAS} ({', '.join(options)})")
        con.execute(f"USE {ALIAS}")
    except duckdb.Error as exc:
        con.close()
        if read_only and "does not exist" in str(exc):
            # As for the embedded file: nothing published yet is not a broken warehouse.
            raise FileNotFoundError(
                f"nothing is published in the {lake.label} yet: run `istv run --month YYYY-MM` first"
            ) from None
        raise LakeError(f"cannot open the {lake.label}: {_first_line(exc)}") from None
    return con


def _attach(con: duckdb.DuckDBPyConnection, attach: str) -> None:
    """Attach, waiting out another run creating the catalogue: months run at once on a new lake
    all find it missing and try to create it; PostgreSQL lets one create it and fails the others
    on its tables' names, after which the catalogue is there for them to attach."""
    for attempt in range(ATTEMPTS):
        try:
            con.execute(attach)
            return
        except duckdb.Error as exc:
            if not _created_meanwhile(exc) or attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.2))


def _created_meanwhile(exc: duckdb.Error) -> bool:
    text = str(exc)
    return "Failed to initialize DuckLake" in text and ("already exists" in text or "duplicate key value" in text)


def _first_line(exc: Exception) -> str:
    # The connection string is never in it: it carries no password, but the message stays short.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def replace_months(lake: Lake, month: dt.date, tables: dict[str, pd.DataFrame], comments: dict) -> None:
    """In one transaction, replace `month` in each of `tables` (creating a table the lake lacks,
    partitioned by month, and adding columns new to it), and set the `comments` {(table, column
    or None): text}. A commit that collides with a concurrent publish is tried again whole."""
    con = connect(lake, read_only=False)
    try:
        for attempt in range(ATTEMPTS):
            try:
                con.execute("BEGIN")
                for name, frame in tables.items():
                    _replace(con, name, month, frame)
                for (table, column), text in comments.items():
                    con.execute(comment_on(table, column, text))
                con.execute("COMMIT")
                return
            except duckdb.TransactionException as exc:
                _roll_back(con)
                if "conflict" not in str(exc).lower() or attempt == ATTEMPTS - 1:
                    raise LakeError(
                        f"could not publish {month:%Y-%m} to the {lake.label}: {_first_line(exc)}"
                    ) from None
                time.sleep(random.uniform(0.05, 0.2 * (attempt + 1)))
            except BaseException:
                _roll_back(con)
                raise
    finally:
        con.close()


def _roll_back(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.TransactionException:  # the failed commit already ended it
        pass


def _replace(con: duckdb.DuckDBPyConnection, name: str, month: dt.date, frame: pd.DataFrame) -> None:
    from warehouse.publish import add_new_columns, with_date_month

    table = sql_name(name)
    con.register("incoming", frame)
    try:
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?", [ALIAS, name]
        ).fetchone()[0]
        if not exists:
            con.execute(f"CREATE TABLE {table} AS {with_date_month(con, 'incoming')} LIMIT 0")
            # Each month in files of its own: a month re-published rewrites only its own files.
            con.execute(f"ALTER TABLE {table} SET PARTITIONED BY (month)")
        else:
            add_new_columns(con, table)
            con.execute(f"DELETE FROM {table} WHERE month = ?", [month])
        con.execute(f"INSERT INTO {table} BY NAME {with_date_month(con, 'incoming')}")
    finally:
        con.unregister("incoming")


def expire_releases(lake: Lake, older_than: dt.datetime) -> int:
    """Forget the releases superseded before `older_than` and delete their files: the history a
    board can still ask about is the agreement's period. Returns how many snapshots expired."""
    con = connect(lake, read_only=False)
    try:
        expired = con.execute(
            f"CALL ducklake_expire_snapshots({sql_text(ALIAS)}, older_than => ?)", [older_than]
        ).fetchall()
        con.execute(f"CALL ducklake_cleanup_old_files({sql_text(ALIAS)}, cleanup_all => true)").fetchall()
        return len(expired)
    finally:
        con.close()


def releases(lake: Lake) -> list[tuple[int, dt.datetime]]:
    """Every release kept (snapshot id, when it was committed), oldest first."""
    with connect(lake) as con:
        return con.execute(
            f"SELECT snapshot_id, snapshot_time FROM ducklake_snapshots({sql_text(ALIAS)}) ORDER BY 1"
        ).fetchall()
