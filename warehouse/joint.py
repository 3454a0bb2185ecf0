"""The joint zone: a month's shared incidents of every source in one row-level table,
joint_incidents, under the columns warehouse/joint_incidents.yaml maps each source's to."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from functools import cache, reduce
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from anonymise.cellkey import RecordKeys
from anonymise.risk import RiskReport, k_anonymity
from ingest.engine import row_level_duckdb
from ingest.home import IstvHome
from schemas.model import SOURCES
from warehouse.sql import sql_name
from warehouse.tables import WAREHOUSE_DIR, HotspotAreas

# The sources whose pseudonymised files make up a month's joint zone.
JOINT_MAPPING = WAREHOUSE_DIR / "joint_incidents.yaml"


@cache
def _mapping() -> dict:
    return yaml.safe_load(JOINT_MAPPING.read_text(encoding="utf-8"))


def joint_columns() -> dict[str, str]:
    """The columns of joint_incidents, in order, and their DuckDB types; the record key last."""
    mapping = _mapping()
    names = ["source", *mapping["common"], *sorted({c for m in mapping["sources"].values() for c in m}), "record_key"]
    return {name: mapping["types"].get(name, "VARCHAR") for name in names}


def _joint_select(source: str, held: set[str]) -> str:
    """One source's rows under the joint columns: each column renamed and cast as the mapping
    declares, NULL where the source's file does not hold it (the agreement does not share it).
    A private dwelling keeps no map cell, whatever the source: it is counted only in figures for
    the whole area. The record key comes from the record's pseudonym (or, for a record without
    one, from its shared values)."""
    renames = dict(_mapping()["sources"][source])

    def value(name: str) -> str:
        if name == "source":
            return f"'{source}'"
        if name == "record_key":
            if not held:  # an empty file: no rows to key
                return "NULL"
            pseudonym = renames.get("record_pseudonym")
            content = "md5(concat_ws('|', " + ", ".join(sql_name(c) for c in sorted(held)) + "))"
            return RecordKeys.sql(f"coalesce({sql_name(pseudonym)}, {content})" if pseudonym in held else content)
        column = renames.get(name, name)
        if name == "cell_id" and column in held and "place_status" in held:
            return f"CASE WHEN place_status = 'private' THEN NULL ELSE {sql_name(column)} END"
        return sql_name(column) if column in held else "NULL"

    return ", ".join(f"CAST({value(name)} AS {kind}) AS {sql_name(name)}" for name, kind in joint_columns().items())


def _held_columns(file: Path) -> tuple[set[str], int]:
    """The columns a pseudonymised file holds values in, and its rows, from its footer. A column
    of Arrow type null (an empty or all-missing frame) holds none and counts as not shared."""
    footer = pq.ParquetFile(file)
    held = {f.name for f in footer.schema_arrow if not pa.types.is_null(f.type)}
    return held, footer.metadata.num_rows


def write_joint_incidents(
    files: dict[str, Path], out: Path, spill_zone: Path, record_keys: RecordKeys
) -> dict[str, int]:
    """Write a month's joint_incidents Parquet file from each source's pseudonymised one, with
    DuckDB from file to file, so the month never comes into memory. Written under a temporary
    name and swapped in, so that no reader sees half a file. Returns the rows of each source."""
    rows = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with row_level_duckdb(spill_zone) as con:
            record_keys.bind(con)
            parts = []
            for source, file in files.items():
                held, rows[source] = _held_columns(file)
                parts.append(con.read_parquet(str(file)).project(_joint_select(source, held)))
            reduce(lambda joint, part: joint.union(part), parts).write_parquet(str(partial))
        os.replace(partial, out)
    except duckdb.ConversionException:
        # DuckDB's message quotes the value that failed to convert: row-level data stays out of logs.
        raise ValueError(
            f"joint_incidents for {out.stem}: a pseudonymised column does not convert to the type "
            f"{JOINT_MAPPING.name} declares (value withheld)"
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    return rows


def build_joint_incidents(home: IstvHome, month: dt.date, record_keys: RecordKeys) -> dict[str, int]:
    """The month's joint_incidents, from every source's pseudonymised file in the working
    folder, beside them in the row-level zone. Returns the rows of each source."""
    return write_joint_incidents(
        {s: home.pseudonymised_file(s, month) for s in SOURCES},
        home.pseudonymised_file("joint", month),
        spill_zone=home.pseudonymised,
        record_keys=record_keys,
    )


def joint_risk(home: IstvHome, month: dt.date, quasi_identifiers: list[str], target_k: int) -> RiskReport:
    """k-anonymity of the month's joint_incidents over the quasi-identifiers, scanned in place
    (only group sizes leave DuckDB)."""
    with row_level_duckdb(spill_zone=home.pseudonymised) as con:
        joint = con.read_parquet(str(home.pseudonymised_file("joint", month)))
        return k_anonymity(joint, quasi_identifiers, target_k)


def earlier_joint_files(home: IstvHome, month: dt.date, areas: HotspotAreas) -> list[Path]:
    """The earlier months' joint_incidents files the longest rolling window reaches back to."""
    reach = max(areas.windows_months, default=1)
    earlier = (pd.Timestamp(month) - pd.DateOffset(months=n) for n in range(1, reach))
    files = (home.pseudonymised_file("joint", m.date()) for m in earlier)
    return [f for f in files if f.exists()]


# How a month's content is digested (month_content_sha256). The digest seeds the month's noise
# and tells a corrected release from a re-run, so a month keeps the kind its first release used.
CONTENT_DIGEST = 2
_ROW_TEXT = {
    # each row's whole struct written out with its column names: months first published before 2
    1: lambda columns: "j::VARCHAR",
    # each row's values joined (a unit separator between them, a record separator for NULL), the
    # columns' names digested once: about a third of the time, most of it writing the text out
    2: lambda columns: (
        "concat_ws(chr(31), " + ", ".join(f"coalesce(j.{sql_name(c)}::VARCHAR, chr(30))" for c in columns) + ")"
    ),
}


def month_content_sha256(joint: Path, spill_zone: Path, kind: int = CONTENT_DIGEST) -> str:
    """A digest of the month's shared rows that does not depend on their order: re-running an
    unchanged month gives the same digest (and so the same seeded noise)."""
    columns = pq.read_schema(joint).names
    text = _ROW_TEXT[kind](columns)
    with row_level_duckdb(spill_zone) as con:
        rows, digest = con.execute(
            # Sums of the 64-bit halves (as md5_number_lower and _upper give them, each row's MD5
            # computed once) in 128-bit integers: exact, so the order of rows cannot matter.
            "SELECT count(*), coalesce(sum((h >> 64)::HUGEINT), 0)::VARCHAR || ':' || "
            "coalesce(sum((h & ((1::UHUGEINT << 64) - 1))::HUGEINT), 0)::VARCHAR "
            f"FROM (SELECT md5_number({text}) AS h FROM read_parquet(?) AS j)",
            [str(joint)],
        ).fetchone()
    named = "" if kind == 1 else f"{kind}:{chr(31).join(columns)}:"
    return hashlib.sha256(f"{named}{rows}:{digest}".encode()).hexdigest()
