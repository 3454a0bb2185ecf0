"""The joint view of a month across sources, and the tables published from it."""

import hashlib
import json
import os
from functools import cache, reduce
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    multi_asset,
)

from anonymise.cellkey import RecordKeys
from anonymise.differential_privacy import BudgetExceeded, check_budget
from anonymise.risk import k_anonymity
from ingest.engine import row_level_duckdb
from pipelines.lib.leak_checks import findings_metadata, scanner_for
from pipelines.partitions import month_of_partition, monthly_partitions
from pipelines.resources import IstvResource
from report.page import render_report
from schemas.expectations import published_suite, validate
from sharing_agreements import auditing
from warehouse.corrections import Corrections, released_figures, released_folder
from warehouse.publish import publish
from warehouse.tables import DELIVERY_SUMMARY_COLUMNS, WAREHOUSE_DIR, HotspotAreas, build_tables, table_specs

SOURCES = ("ed", "police", "police_uk")
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
            content = "md5(concat_ws('|', " + ", ".join(_quoted(c) for c in sorted(held)) + "))"
            return RecordKeys.sql(f"coalesce({_quoted(pseudonym)}, {content})" if pseudonym in held else content)
        column = renames.get(name, name)
        if name == "cell_id" and column in held and "place_status" in held:
            return f"CASE WHEN place_status = 'private' THEN NULL ELSE {_quoted(column)} END"
        return _quoted(column) if column in held else "NULL"

    return ", ".join(f"CAST({value(name)} AS {kind}) AS {_quoted(name)}" for name, kind in joint_columns().items())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


@asset(
    group_name="joint",
    partitions_def=monthly_partitions,
    deps=[AssetKey(f"{s}_pseudonymised") for s in SOURCES],
    kinds={"parquet"},
)
def joint_incidents(context: AssetExecutionContext, istv: IstvResource) -> MaterializeResult:
    """Every shared incident of the month, ED and police, in one table of pseudonymised and
    generalised columns: source, provider, month, hour of the week, spatial cell, venue, method,
    age band and sex. Row level: seen by the pipeline only, unless the agreement says otherwise."""
    month = month_of_partition(context.partition_key)
    home = istv.istv_home
    agreement = istv.agreement_in_force(step="joint_incidents")
    rows = write_joint_incidents(
        {s: home.pseudonymised_file(s, month) for s in SOURCES},
        home.pseudonymised_file("joint", month),
        spill_zone=home.pseudonymised,
        record_keys=istv.record_keys(agreement),
    )
    return MaterializeResult(metadata={f"rows_{s}": n for s, n in rows.items()} | {"rows": sum(rows.values())})


@asset_check(
    asset=joint_incidents,
    name="k_anonymity",
    blocking=False,
    description="k-anonymity of the row-level zone over the agreement's quasi-identifiers; "
    "warns the board when groups fall below the agreement's k.",
)
def joint_k_anonymity(context, istv: IstvResource) -> AssetCheckResult:
    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="joint_k_anonymity")
    home = istv.istv_home
    with row_level_duckdb(spill_zone=home.pseudonymised) as con:
        joint = con.read_parquet(str(home.pseudonymised_file("joint", month)))
        report = k_anonymity(joint, agreement.risk.quasi_identifiers, agreement.risk.k)
    return AssetCheckResult(
        passed=not report.below_target, severity=AssetCheckSeverity.WARN, metadata=report.as_metadata()
    )


def delivery_summaries(istv: IstvResource, month) -> pd.DataFrame:
    """Coverage input: one row per source and provider (several EDs, several forces a month),
    from the pseudonymisation summaries: what each provider's files delivered, and what became
    of its rows (scope, area, location), counted per provider as the rows were pseudonymised."""
    rows = []
    for source in SOURCES:
        summary = json.loads(istv.istv_home.summary_file(source, month).read_text())
        delivered: dict[str, dict] = {}
        for file in summary["files"]:
            totals = delivered.setdefault(file["provider"], {"rows_received": 0, "rows_quarantined": 0})
            totals["rows_received"] += file["rows_received"]
            totals["rows_quarantined"] += file["rows_quarantined"]
        # A summary written before counts were kept per provider held one provider's rows.
        by_provider = summary.get("providers_counts", {p: summary for p in delivered if len(delivered) == 1})
        for provider, totals in delivered.items():
            # A provider with no row left to pseudonymise (all quarantined) has no counts: zeros.
            counts = by_provider.get(provider, {})
            rows.append(
                {
                    "month": month,
                    "source": source,
                    "provider": provider,
                    **totals,
                    **{k: counts.get(k, 0) for k in DELIVERY_SUMMARY_COLUMNS[5:]},
                }
            )
    return pd.DataFrame(rows, columns=DELIVERY_SUMMARY_COLUMNS)


PUBLISHED = [s.name for s in table_specs()]


@multi_asset(
    specs=[
        AssetSpec(
            s.name,
            description=" ".join(s.description.split()),
            group_name="published",
            deps=[AssetKey("joint_incidents")],
            kinds={"duckdb"},
            skippable=True,
        )
        for s in table_specs()
    ],
    check_specs=[
        AssetCheckSpec(
            "disclosure_control",
            asset=s.name,
            blocking=True,
            description="No published count between 1 and the suppression threshold; keys present; "
            "the leak scanner finds no identifier (checked before anything is published).",
        )
        for s in table_specs()
    ],
    partitions_def=monthly_partitions,
    pool="warehouse",
)
def published_tables(context: AssetExecutionContext, istv: IstvResource):
    """Aggregate the month, apply disclosure control, check every table, then publish them all
    to the shared warehouse in one atomic swap (analysts never see half a month)."""
    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="published_tables")
    home = istv.istv_home
    joint = home.pseudonymised_file("joint", month)
    content = month_content_sha256(joint, home.pseudonymised)
    policy = istv.disclosure_policy(agreement, content)
    corrections = Corrections(policy.suppression_threshold, released_figures(released_folder(joint)))
    built = build_tables(
        joint,
        delivery_summaries(istv, month),
        policy,
        agreement.id,
        agreement.version,
        record_keys=istv.record_keys(agreement),
        public_sources=agreement.public_sources(),
        spill_zone=home.pseudonymised,
        history=earlier_joint_files(home, month, agreement),
        areas=hotspot_areas(agreement),
        corrections=corrections,
    )
    if _first_release_content(istv, month) not in (None, content):
        built["coverage"]["release_status"] = "corrected"
    # Only what the agreement permits is published; the rest is never written anywhere.
    permitted = [s for s in table_specs() if s.name in agreement.published_tables]
    withheld = sorted(set(PUBLISHED) - set(agreement.published_tables))
    if withheld:
        context.log.info(f"Not published (not permitted by {agreement.label}): {', '.join(withheld)}")
    tables = {s.name: built[s.name] for s in permitted}
    checks, leaks = {}, {}
    scanner = scanner_for(istv.istv_home, month)
    never_shown = policy.largest_withheld(with_public=bool(agreement.public_sources()))
    for spec in permitted:
        suite = published_suite(spec.name, spec.counts, spec.keys, never_shown)
        checks[spec.name] = validate(tables[spec.name], suite)
        leaks[spec.name] = scanner.scan_frame(tables[spec.name])
    failed = [name for name in checks if not checks[name].success or leaks[name]]
    if failed:
        for name, summary in checks.items():
            yield AssetCheckResult(
                asset_key=name,
                check_name="disclosure_control",
                passed=name not in failed,
                severity=AssetCheckSeverity.ERROR,
                metadata=summary.as_metadata() | findings_metadata(leaks[name]),
            )
        raise RuntimeError(f"not published: disclosure-control or leak checks failed for {', '.join(failed)}")
    dp_epsilon = _privacy_budget_spend(istv, agreement, month, content, permitted)
    publish(istv.istv_home.warehouse, month, tables)
    corrections.save(released_folder(joint))
    if dp_epsilon:
        istv.audit(
            "dp_release",
            {
                "agreement_id": agreement.id,
                "agreement_version": agreement.version,
                "month": f"{month:%Y-%m}",
                "content_sha256": content,
                "epsilon": dp_epsilon,
            },
        )
    istv.audit(
        "publish",
        {
            "month": f"{month:%Y-%m}",
            "agreement_id": agreement.id,
            "agreement_version": agreement.version,
            "agreement_sha256": agreement.content_hash(),
            "withheld": withheld,
            "tables": {name: {"rows": len(t), "cells_suppressed": _suppressed(t)} for name, t in tables.items()},
            "content_sha256": content,
            "corrected_release": corrections.released is not None,
            # Figures whose records changed by fewer than the threshold and so kept their released values.
            "figures_kept": corrections.kept,
        },
    )
    for name in withheld:
        # Nothing published, nothing disclosed; the check records why the table is absent.
        yield AssetCheckResult(
            asset_key=name,
            check_name="disclosure_control",
            passed=True,
            metadata={"published": False, "reason": f"not permitted by {agreement.label}"},
        )
    for spec in permitted:
        table = tables[spec.name]
        yield MaterializeResult(
            asset_key=spec.name,
            metadata={
                "rows": len(table),
                "cells_suppressed": _suppressed(table),
                "warehouse": str(istv.istv_home.warehouse),
                "agreement": f"{agreement.id} v{agreement.version}",
            },
            check_results=[
                AssetCheckResult(
                    asset_key=spec.name,
                    check_name="disclosure_control",
                    passed=True,
                    metadata=checks[spec.name].as_metadata() | findings_metadata([]),
                )
            ],
        )


@asset(group_name="reports", partitions_def=monthly_partitions, deps=[AssetKey("hotspot_cells")], kinds={"html"})
def hotspot_report(context: AssetExecutionContext, istv: IstvResource) -> MaterializeResult:
    """The month's hotspot report for the community safety board: one self-contained HTML file
    (map of hotspot cells, hour-of-week heat map, trend, methods, venues, hidden violence,
    coverage) that opens offline, rendered from the published warehouse only."""
    month = month_of_partition(context.partition_key)
    agreement = istv.agreement_in_force(step="hotspot_report")
    out = render_report(istv.istv_home.warehouse, month, istv.istv_home.report_file(month), agreement=agreement)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(out)), "bytes": out.stat().st_size})


def _first_release_content(istv: IstvResource, month) -> str | None:
    """The content digest of the month's first published release (None: not published yet)."""
    for entry in auditing.reader(istv.istv_home).entries():
        if entry.kind == "publish" and entry.details.get("month") == f"{month:%Y-%m}":
            return entry.details.get("content_sha256", "")
    return None


def earlier_joint_files(home, month, agreement) -> list[Path]:
    """The earlier months' joint_incidents files the longest rolling window reaches back to."""
    reach = max(agreement.spatial.hotspot_windows_months, default=1)
    earlier = (pd.Timestamp(month) - pd.DateOffset(months=n) for n in range(1, reach))
    files = (home.pseudonymised_file("joint", m.date()) for m in earlier)
    return [f for f in files if f.exists()]


def hotspot_areas(agreement) -> HotspotAreas:
    return HotspotAreas(tuple(agreement.spatial.hotspot_resolutions), tuple(agreement.spatial.hotspot_windows_months))


def month_content_sha256(joint: Path, spill_zone: Path) -> str:
    """A digest of the month's shared rows that does not depend on their order: re-running an
    unchanged month gives the same digest (and so the same seeded noise)."""
    with row_level_duckdb(spill_zone) as con:
        rows, digest = con.execute(
            # Sums of 64-bit halves in 128-bit integers: exact, so the order of rows cannot matter.
            "SELECT count(*), coalesce(sum(md5_number_lower(j::VARCHAR)::HUGEINT), 0)::VARCHAR || ':' || "
            "coalesce(sum(md5_number_upper(j::VARCHAR)::HUGEINT), 0)::VARCHAR FROM read_parquet(?) AS j",
            [str(joint)],
        ).fetchone()
    return hashlib.sha256(f"{rows}:{digest}".encode()).hexdigest()


def _privacy_budget_spend(istv: IstvResource, agreement, month, content: str, permitted) -> float | None:
    """The epsilon this release spends (0 when the same content was released before: the same
    noise), refused (BudgetExceeded) when the month's budget would be passed; None without
    differential privacy. A record can count once in every count column of
    every published table, so a release spends epsilon times their number (sequential composition,
    an upper bound)."""
    dp = agreement.disclosure_control.differential_privacy
    if dp is None:
        return None
    spend = dp.epsilon * sum(len(spec.counts) for spec in permitted)
    entries = [e for e in auditing.reader(istv.istv_home).entries() if e.kind == "dp_release"]
    try:
        return check_budget(entries, agreement.id, f"{month:%Y-%m}", content, spend, dp.budget_per_month)
    except BudgetExceeded as refusal:
        istv.audit("dp_refused", {"agreement_id": agreement.id, "month": f"{month:%Y-%m}", "reason": str(refusal)})
        raise


def _suppressed(table: pd.DataFrame) -> int:
    return int(sum(table[c].sum() for c in table.columns if c.endswith("_suppressed")))
