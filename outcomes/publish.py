"""Publishing the evaluations (intervention_effects and the other tables outcomes/ computes) to the
warehouse, and reading the latest evaluation back.

Each table is replaced in the live file in one transaction (CREATE OR REPLACE TABLE), keeping the
other months' evaluations, so that analysts see each intervention's verdict month by month.
Unlike the monthly tables (warehouse/publish.py), it is not built in a fresh file and swapped in:
DuckDB lets one process write a file only while no other holds it, so an analyst's open
connection makes this publish fail with a one-line message (close it and re-run), and analysts
cannot open the warehouse during the moment it writes. What it overwrites are protected figures
only, so what a superseded evaluation leaves in the file's free blocks is no count.
The monthly publish carries this table and its comments across into each new file.
"""

from __future__ import annotations

import datetime as dt
import fcntl
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from warehouse import lake
from warehouse.sql import comment_on, sql_name


@dataclass(frozen=True)
class EvaluationTable:
    """A table outcomes/ publishes month by month: its name, description and columns as
    name: (DuckDB type, description); `order` sorts its rows within the file."""

    name: str
    description: str
    columns: dict[str, tuple[str, str]]
    order: tuple[str, ...]

    def comments(self) -> dict[tuple[str, str | None], str]:
        """{(table, column or None): description}, as the warehouse's COMMENTs."""
        return {(self.name, None): self.description} | {(self.name, c): text for c, (_, text) in self.columns.items()}


# The columns every evaluation carries, as warehouse/tables.yaml's `provenance` describes them.
PROVENANCE: dict[str, tuple[str, str]] = {
    "agreement_id": ("VARCHAR", "Identifier of the sharing agreement the row was published under."),
    "agreement_version": ("INTEGER", "Version of that agreement."),
}

TABLE = "intervention_effects"
DESCRIPTION = (
    "The estimated effect of each registered intervention (outcomes/register.py), evaluated month by month "
    "against comparison places chosen by the data (similar level and trend before the start, not within two "
    "rings of the intervention's cells), and the displacement to the neighbouring cells. Relative changes only, "
    "rounded to the nearest 5%, published only when the intervention's cells (and the neighbours') held at least "
    "the agreement's suppression threshold of records before and after the start; no count is published."
)
# name: (DuckDB type, description)
COLUMNS: dict[str, tuple[str, str]] = {
    "month": ("DATE", "The month evaluated (first day): months up to it were used."),
    "intervention_id": ("VARCHAR", "Identifier of the intervention in the register."),
    "kind": ("VARCHAR", "Kind of intervention (toughened_glass, taxi_marshals, street_pastors, ...)."),
    "months_before": ("INTEGER", "Months of data wholly before the start behind the estimate."),
    "months_after": ("INTEGER", "Months of data wholly within the intervention behind the estimate."),
    "comparison_cells": ("INTEGER", "Number of comparison cells the intervention's cells were measured against."),
    "model": (
        "VARCHAR",
        "The regression behind effect_pct: poisson, or negative_binomial when counts are overdispersed.",
    ),
    "effect_pct": ("INTEGER", "Relative change in the intervention's cells, percent (negative: fewer incidents)."),
    "ci_low_pct": ("INTEGER", "Lower end of the 95% confidence interval of effect_pct, percent."),
    "ci_high_pct": ("INTEGER", "Upper end of the 95% confidence interval of effect_pct, percent."),
    "verdict": (
        "VARCHAR",
        "In plain words, read from the unrounded interval: too early, no detectable change, fell or rose by "
        "about N%, or not available and why (never a 0 in its place).",
    ),
    "displacement_pct": ("INTEGER", "Relative change in the cells next to the intervention's, percent."),
    "displacement_ci_low_pct": ("INTEGER", "Lower end of the 95% confidence interval of displacement_pct, percent."),
    "displacement_ci_high_pct": ("INTEGER", "Upper end of the 95% confidence interval of displacement_pct, percent."),
    "displacement_verdict": ("VARCHAR", "The displacement in plain words, as verdict."),
    **PROVENANCE,
}
INTERVENTION_EFFECTS = EvaluationTable(TABLE, DESCRIPTION, COLUMNS, ("month", "intervention_id"))


class WarehouseBusy(RuntimeError):
    """The warehouse is open elsewhere: nothing was written."""


@contextmanager
def _publish_lock(warehouse: Path):
    """The lock the monthly publish holds (warehouse/publish.py): never write while it builds."""
    with warehouse.with_name(f".{warehouse.name}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusy(
                f"a month is being published to {warehouse}: run the command again when it ends"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def publish_month(warehouse: Path, table: EvaluationTable, month: dt.date, rows: list[dict]) -> None:
    """Replace the month's rows of `table` with `rows`, all at once, keeping the other months'."""
    frame = pd.DataFrame(rows, columns=list(table.columns))
    for name, (kind, _) in table.columns.items():
        if kind in ("INTEGER", "BIGINT"):
            frame[name] = frame[name].astype("Int64")
    typed = ", ".join(f"CAST({sql_name(n)} AS {kind}) AS {sql_name(n)}" for n, (kind, _) in table.columns.items())
    name = sql_name(table.name)
    if (configured := lake.configured(warehouse.parent)) is not None:
        with duckdb.connect() as con:  # typed as in the file, then replaced in one DuckLake transaction
            con.register("incoming", frame)
            typed_rows = con.execute(f"SELECT {typed} FROM incoming").arrow()
        lake.replace_months(configured, month, {table.name: typed_rows}, table.comments())
        return
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with _publish_lock(warehouse):
        try:
            con = duckdb.connect(str(warehouse))
        except duckdb.IOException:
            raise WarehouseBusy(
                f"{warehouse} is open in another program (an analyst's connection?): close it and run the command again"
            ) from None
        try:
            con.register("incoming", frame)
            con.execute("BEGIN")
            exists = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?", [table.name]
            ).fetchone()[0]
            kept = f"SELECT * FROM {name} WHERE month IS DISTINCT FROM $month UNION ALL BY NAME " if exists else ""
            order = "ORDER BY " + ", ".join(map(sql_name, table.order))
            con.execute(
                f"CREATE OR REPLACE TABLE {name} AS {kept}SELECT {typed} FROM incoming {order}",
                {"month": month} if exists else {},
            )
            for (described, column), text in table.comments().items():
                con.execute(comment_on(described, column, text))
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()


def published_rows(warehouse: Path, sql: str, params: list | None = None) -> list[dict] | None:
    """The rows of a query of the published warehouse, read-only (the DuckLake the environment
    configures, else the file); None when there is no warehouse or the query's table is absent."""
    from warehouse import lake
    from warehouse.publish import connect_read_only

    if lake.configured(warehouse.parent) is None and not warehouse.exists():
        return None
    try:
        con = connect_read_only(warehouse)
    except duckdb.IOException:
        raise WarehouseBusy(f"{warehouse} is being written: try again in a moment") from None
    with con:
        try:
            result = con.execute(sql, params or [])
        except duckdb.CatalogException:
            return None
        names = [d[0] for d in result.description]
        return [dict(zip(names, row)) for row in result.fetchall()]


def latest_effect(warehouse: Path, intervention_id: str) -> dict | None:
    """The intervention's most recent published evaluation, or None when it has none."""
    rows = published_rows(
        warehouse, f"SELECT * FROM {TABLE} WHERE intervention_id = ? ORDER BY month DESC LIMIT 1", [intervention_id]
    )
    return rows[0] if rows else None
