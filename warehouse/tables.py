"""The published tables: declared in tables.yaml, computed by the SQL beside it, protected by
disclosure control, stamped with the agreement they were published under."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import cache
from pathlib import Path

import duckdb
import h3
import pandas as pd
import pyarrow as pa
import yaml

from anonymise.cellkey import KEY_MODULUS, RecordKeys
from anonymise.disclosure import (
    KEY_SUFFIX,
    PUBLIC_SUFFIX,
    DisclosurePolicy,
    protect,
    rows_showing_something,
    withhold_quiet_areas,
    withhold_small_counts,
)
from anonymise.generalise import cell_centre
from ingest.engine import row_level_duckdb
from warehouse import SQL_DIR
from warehouse.corrections import Corrections
from warehouse.spatial import getis_ord_gi_star, match_police
from warehouse.sql import sql_text

WAREHOUSE_DIR = Path(__file__).parent
# The column that says why a table's `not_available` figures are NULL for a month.
NOT_AVAILABLE = "not_available_reason"
# Said of every sparse table, in its comment in the warehouse.
SPARSE_ROWS = (
    "A row that would show nothing (every count 0, or withheld by the cell-key method) is left out: "
    "read a missing row as zeros."
)


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    sql: str
    keys: list[str]
    counts: list[str]
    columns: dict[str, str]
    # Figures NULL, with `not_available_reason`, when the month's sources cannot give them: a
    # list (each NULL whatever the reason), or figure -> the reasons that make it NULL.
    not_available: list[str] | dict[str, list[str]] = field(default_factory=list)
    # Protected figures withheld in a quiet row: one whose published combined count is below the
    # policy's area minimum (anonymise.disclosure.withhold_quiet_areas).
    withheld_when_quiet: list[str] = field(default_factory=list)
    # Protected figures withheld where their published protected part is below the policy's cell
    # minimum, when an agreement sets one (anonymise.disclosure.withhold_small_counts).
    withheld_when_small: list[str] = field(default_factory=list)
    # Rows only where there are records (cells, areas, venues, methods): a row that shows nothing
    # is left out (anonymise.disclosure.rows_showing_something).
    sparse: bool = False

    def unavailable_figures(self) -> dict[str, list[str] | None]:
        """Each figure that may be not available -> the reasons that make it so (None: any)."""
        return self.not_available if isinstance(self.not_available, dict) else dict.fromkeys(self.not_available)


@cache
def _declarations() -> dict:
    return yaml.safe_load((WAREHOUSE_DIR / "tables.yaml").read_text(encoding="utf-8"))


@cache
def table_specs() -> tuple[TableSpec, ...]:
    return tuple(
        TableSpec(name=name, sql=(SQL_DIR / spec.pop("sql")).read_text(encoding="utf-8"), **spec)
        for name, spec in ((n, dict(s)) for n, s in _declarations()["tables"].items())
    )


def published_table_names() -> list[str]:
    """The tables of the monthly release."""
    return list(_declarations()["tables"])


def permitted_table_names() -> list[str]:
    """Every table an agreement may permit: the monthly release's and those evaluated apart."""
    return [*published_table_names(), *_declarations()["evaluations"]]


def provenance_columns() -> dict[str, str]:
    return dict(_declarations()["provenance"])


def not_available_reasons() -> dict[str, str]:
    """What each code of a `not_available_reason` column means, as a sentence."""
    return dict(_declarations()["not_available_reasons"])


def table_description(spec: TableSpec) -> str:
    text = " ".join(spec.description.split())
    return f"{text} {SPARSE_ROWS}" if spec.sparse else text


def column_descriptions(spec: TableSpec) -> dict[str, str]:
    """Every published column, the `_suppressed` flags and provenance included."""
    described = dict(spec.columns)
    if spec.not_available:
        codes = "; ".join(f"{code}: {text}" for code, text in not_available_reasons().items())
        described[NOT_AVAILABLE] = f"{described[NOT_AVAILABLE].strip()} Codes: {codes}."
    for count in spec.counts:
        rules = [
            rule
            for rule, listed in (
                ("in a quiet row (combined below the agreement's area minimum)", spec.withheld_when_quiet),
                (
                    "where the count's protected part would show below the agreement's cell minimum",
                    spec.withheld_when_small,
                ),
            )
            if count in listed
        ]
        described[f"{count}_suppressed"] = (
            "True when the agreement's method withholds small counts (suppress_and_round) and "
            f"{count} is withheld; under the cell-key method, "
            + (f"true only {' or '.join(rules)}." if rules else "which withholds nothing, always false.")
        )
    described.update(provenance_columns())
    return described


def _rank(values: pd.Series) -> pd.Series:
    return values.rank(method="min", ascending=False).astype("Int64")


@dataclass(frozen=True)
class RowOutcomes:
    """What became of a provider's rows as they were pseudonymised (anonymise.apply counts them
    per provider). All zero for a provider none of whose rows was left to pseudonymise."""

    rows_out_of_scope: int = 0
    rows_out_of_area: int = 0
    rows_shared: int = 0
    rows_located: int = 0
    rows_unlocated: int = 0
    rows_private: int = 0
    rows_ambiguous: int = 0

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> RowOutcomes:
        """From counts as a pseudonymisation summary keeps them, among others (rows_in); a count
        it lacks is 0."""
        return cls(**{f.name: counts.get(f.name, 0) for f in fields(cls)})


@dataclass(frozen=True)
class DeliverySummary:
    """One source's provider in a month, as the pipeline summarises it: what its files delivered
    and what became of their rows. coverage.sql reads these as the columns of `delivery_summaries`."""

    month: dt.date
    source: str
    provider: str
    rows_received: int
    rows_quarantined: int
    outcomes: RowOutcomes = RowOutcomes()

    def row(self) -> dict[str, object]:
        """As a row of `delivery_summaries`: the outcomes as columns after the delivery's own."""
        row = asdict(self)
        row.update(row.pop("outcomes"))
        return row


DELIVERY_SUMMARY_COLUMNS = [f.name for f in fields(DeliverySummary) if f.name != "outcomes"] + [
    f.name for f in fields(RowOutcomes)
]


def delivery_summaries_frame(summaries: Iterable[DeliverySummary]) -> pd.DataFrame:
    """The `delivery_summaries` build_tables takes: one row a summary (none: no rows, every column)."""
    return pd.DataFrame([s.row() for s in summaries], columns=DELIVERY_SUMMARY_COLUMNS)


MATCH_RULE = "a police record in the same or a neighbouring H3 cell within one hour"


def _finish(spec: TableSpec, table: pd.DataFrame) -> pd.DataFrame:
    """Per-table columns derived after protection, from published values only, so that they
    cannot reveal a suppressed count; then the figures the month's sources cannot give set apart."""
    name = spec.name
    if name in ("hotspot_cells", "hotspot_areas"):
        centres = [cell_centre(c) for c in table["cell_id"]]
        table["cell_lat"] = [round(lat, 6) for lat, _ in centres]
        table["cell_lon"] = [round(lon, 6) for _, lon in centres]
    if name == "hotspot_areas":
        table["rank"] = (
            table.groupby(["month", "window_months", "resolution"])["combined"].transform(_rank).astype("Int64")
        )
    if name == "hotspot_cells":
        table["rank"] = _rank(table["combined"])
        scores = {}
        for _, month in table.groupby("month"):
            scores |= getis_ord_gi_star(dict(zip(month["cell_id"], month["combined"].fillna(0))))
        table["gi_star_z"] = table["cell_id"].map(scores).astype("Float64")
    elif name == "hotspot_venues":
        table["rank"] = _rank(table["ed_assaults"])
    elif name == "hidden_violence":
        compared = table["ed_assaults_compared"].astype("Float64")
        share = table["ed_assaults_without_police_record"].astype("Float64") / compared.where(compared > 0)
        table["share_without_police_record"] = share.round(3)
        table["match_rule"] = MATCH_RULE
    return _mark_not_available(table, spec)


def _mark_not_available(table: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """NULL, and not flagged as withheld, each of the spec's not-available figures in the rows
    whose month cannot give it (`not_available_reason` set, to one of the figure's reasons when
    they are listed): a count of 0 or a share of 100% there would be false."""
    if not spec.not_available:
        return table
    # As text even when no month lacks anything: an all-NULL column would reach DuckDB untyped.
    table[NOT_AVAILABLE] = table[NOT_AVAILABLE].astype("str")
    for figure, because in spec.unavailable_figures().items():
        why = table[NOT_AVAILABLE]
        missing = (why.notna() if because is None else why.isin(because)).to_numpy()
        table[figure] = table[figure].mask(missing)
        if f"{figure}_suppressed" in table:
            table[f"{figure}_suppressed"] = table[f"{figure}_suppressed"] & ~missing
    return table


@dataclass(frozen=True)
class HotspotAreas:
    """The agreement's hotspot_areas: the resolutions cells are merged to, the rolling windows."""

    resolutions: tuple[int, ...] = (9, 8, 7)
    windows_months: tuple[int, ...] = (1, 3, 12)


def build_tables(
    joint: Path | pd.DataFrame,
    summaries: pd.DataFrame,
    policy: DisclosurePolicy,
    agreement_id: str,
    agreement_version: int,
    record_keys: RecordKeys,
    public_sources: tuple[str, ...] = (),
    spill_zone: Path | None = None,
    history: list[Path | pd.DataFrame] = (),
    areas: HotspotAreas = HotspotAreas(),
    corrections: Corrections | None = None,
) -> dict[str, pd.DataFrame]:
    """The published tables of the joint_incidents rows: `joint` is the month's Parquet file (or,
    in tests, a frame of its columns, record_key included), `history` the earlier months' that
    rolling windows reach back to. DuckDB aggregates the rows into figures; only the figures
    reach pandas, for disclosure control and the derived columns. Records of `public_sources` are
    counted apart and published exactly. `corrections` holds the month's earlier release, if any:
    figures that moved by fewer records than its threshold keep their released values."""
    with row_level_duckdb(spill_zone) as con:
        record_keys.bind(con)
        _define_figures(con)
        _register_joint(con, "joint_incidents", [joint], public_sources)
        _register_joint(con, "window_incidents", [joint, *history], public_sources)
        con.execute((SQL_DIR / "not_available.sql").read_text(encoding="utf-8"))
        _register_areas(con, areas)
        match_police(con)
        con.register("delivery_summaries", summaries)
        tables = {}
        for spec in table_specs():
            raw = con.execute(_figures_unpacked(spec)).df()
            if corrections is not None:
                raw = corrections.apply(spec.name, raw, spec.keys, spec.counts)
            table = protect(raw, spec.counts, policy, label=spec.name)
            if corrections is not None and policy.method == "cell_key":  # rounded values are not kept
                corrections.shown(spec.name, table, spec.counts)
            if spec.withheld_when_small:
                table = withhold_small_counts(table, raw, policy, spec.withheld_when_small)
            if spec.withheld_when_quiet:
                table = withhold_quiet_areas(table, policy, spec.withheld_when_quiet, total="combined")
            if spec.sparse:
                table = rows_showing_something(table, spec.counts, policy)
            table = _finish(spec, table)
            table["agreement_id"] = agreement_id
            table["agreement_version"] = agreement_version
            ordered = [c for c in column_descriptions(spec) if c in table.columns]
            tables[spec.name] = table[ordered]
        return tables


def _define_figures(con: duckdb.DuckDBPyConnection) -> None:
    """`figure(selected, is_public, record_key)`, the aggregate every count in sql/ is written with:
    the selected protected records, the sum of their record keys modulo 2^29 (the figure's cell
    key) and the selected public records; `merged_figure(part)` adds such figures up (a figure of
    several cells or months). `delivery_figure(n, label)` is a count the pipeline
    summarised (coverage), keyed by a keyed hash of what it counts and its value.
    `cell_figures(incidents)`, the located rows of a table of incidents counted per month and
    cell, is what hotspot_cells publishes and hotspot_areas merges into areas and windows."""
    con.execute(f"""CREATE MACRO figure(selected, is_public, record_key) AS {{
        'n': count(*) FILTER (WHERE selected AND NOT is_public),
        'key': (coalesce(sum(record_key) FILTER (WHERE selected AND NOT is_public), 0) % {KEY_MODULUS})::BIGINT,
        'public': count(*) FILTER (WHERE selected AND is_public)}}""")
    con.execute(f"""CREATE MACRO merged_figure(part) AS {{
        'n': sum(part.n), 'key': (sum(part.key) % {KEY_MODULUS})::BIGINT, 'public': sum(part.public)}}""")
    con.execute(f"""CREATE MACRO delivery_figure(n, label) AS {{
        'n': n, 'key': {RecordKeys.sql("md5(label || '|' || n)")}, 'public': 0}}""")
    con.execute("""CREATE MACRO cell_figures(incidents) AS TABLE
        SELECT month, cell_id,
               figure(source = 'ed', is_public, record_key) AS ed_assaults,
               figure(source IN ('police', 'police_uk'), is_public, record_key) AS police_violence,
               figure(true, is_public, record_key) AS combined
        FROM query_table(incidents)
        WHERE cell_id IS NOT NULL
        GROUP BY month, cell_id""")


def _figures_unpacked(spec: TableSpec) -> str:
    """The table's SQL with each figure spread into its count, key and public columns."""
    spread = ", ".join(
        f"{c}.n AS {c}, {c}.key AS {c}{KEY_SUFFIX}, {c}.public AS {c}{PUBLIC_SUFFIX}" for c in spec.counts
    )
    return (
        f"WITH figures AS ({spec.sql}) SELECT * EXCLUDE ({', '.join(spec.counts)}), {spread} "
        f"FROM figures ORDER BY {', '.join(spec.keys)}"
    )


def _register_joint(
    con: duckdb.DuckDBPyConnection, name: str, months: list[Path | pd.DataFrame], public_sources: tuple[str, ...]
) -> None:
    parts = []
    for i, joint in enumerate(months):
        if isinstance(joint, pd.DataFrame):
            # As an Arrow table: scanning a pandas frame would convert its Arrow-backed text
            # columns to Python objects on every query.
            con.register(f"{name}_{i}", pa.Table.from_pandas(joint, preserve_index=False))
            parts.append(f"SELECT * FROM {name}_{i}")
        else:
            # Read through a view: each query reads only the columns it needs from the file.
            parts.append(f"SELECT * FROM read_parquet({sql_text(str(joint))})")
    public = ", ".join(sql_text(s) for s in public_sources) or "NULL"
    rows = " UNION ALL BY NAME ".join(parts)
    con.execute(f"CREATE VIEW {name} AS SELECT *, coalesce(source IN ({public}), false) AS is_public FROM ({rows})")


def _register_areas(con: duckdb.DuckDBPyConnection, areas: HotspotAreas) -> None:
    """`cell_areas`: every located cell of the window and its parent at each declared resolution
    (H3 has no DuckDB extension offline, so the few thousand distinct cells are mapped here)."""
    cells = [
        c for (c,) in con.execute("SELECT DISTINCT cell_id FROM window_incidents WHERE cell_id IS NOT NULL").fetchall()
    ]
    pairs = [(c, r, h3.cell_to_parent(c, r)) for c in cells for r in areas.resolutions if r <= h3.get_resolution(c)]
    frame = pa.table(
        {
            "cell_id": [p[0] for p in pairs],
            "resolution": pa.array([p[1] for p in pairs], pa.int64()),
            "area_id": [p[2] for p in pairs],
        },
        schema=pa.schema([("cell_id", pa.string()), ("resolution", pa.int64()), ("area_id", pa.string())]),
    )
    con.register("cell_areas", frame)
    con.register("hotspot_windows", pa.table({"window_months": pa.array(list(areas.windows_months), pa.int64())}))
