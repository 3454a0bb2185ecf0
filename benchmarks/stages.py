"""The pipeline's stages, called as the Dagster assets call them (pipelines/lib/source_assets.py,
and the joint assets' steps in warehouse/joint.py and warehouse/release.py), one function per
stage so each can run in its own process.

A stage reads what the previous one wrote under <work>/stages (Parquet, as the assets do) and
writes its own output there. `seconds` is the stage's wall time including that hand-over I/O,
`compute_seconds` the library call alone, `setup_seconds` one-off work outside both (imports,
loading the agreement, building the place-name index), which Dagster does once per process.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import secrets
import time
from pathlib import Path

import pandas as pd

from benchmarks.measure import stopwatch

SOURCES = ("ed", "police")  # the synthetic month has no police_uk open-data file
STAGES = ("parse", "validate", "pseudonymise", "scan", "joint", "aggregate", "publish")


def _dir(work: str) -> Path:
    folder = Path(work) / "stages"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _need(path: Path, stage: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path.name} is missing: run the {stage} stage first (same --work)")
    return path


def _month(month: str) -> dt.date:
    return dt.datetime.strptime(month, "%Y-%m").date()


def parse(work: str, month: str, inputs: dict) -> dict:
    """parse_extract per file (passed rows streamed to Parquet), quarantine written encrypted."""
    out, figures, summary = _dir(work), {"rows_in": 0}, {}
    with stopwatch(figures, "setup_seconds"):
        from cryptography.fernet import Fernet

        from ingest.parse import parse_extract
        from ingest.quarantine import write_quarantine
        from schemas import schema_for_source
    cipher = Fernet(Fernet.generate_key())
    started = time.perf_counter()
    for source in SOURCES:
        schema = schema_for_source(source)
        with stopwatch(figures, "compute_seconds"):
            result = parse_extract(Path(inputs[source]), schema, _month(month), out / f"{source}_typed.parquet")
        assert result.rows_in == result.rows_passed + len(result.quarantined)
        if len(result.quarantined):
            write_quarantine(result.quarantined, result.reason_counts, out / "quarantine", source, cipher)
        summary[source] = {
            "provider": result.provider,
            "rows_received": result.rows_in,
            "rows_quarantined": len(result.quarantined),
        }
        figures["rows_in"] += result.rows_in
    (out / "parse_summary.json").write_text(json.dumps(summary))
    return {**figures, "seconds": time.perf_counter() - started}


def validate(work: str, month: str, inputs: dict) -> dict:
    """The Great Expectations suite on the passed rows, as the blocking asset check runs it."""
    out, figures = _dir(work), {"rows_in": 0}
    with stopwatch(figures, "setup_seconds"):
        from ingest.validate import validate_parquet, validate_processes
        from schemas import schema_for_source
    started = time.perf_counter()
    for source in SOURCES:
        with stopwatch(figures, "compute_seconds"):
            typed = _need(out / f"{source}_typed.parquet", "parse")
            validate_parquet(typed, schema_for_source(source), processes=validate_processes())
    return {**figures, "seconds": time.perf_counter() - started}


def pseudonymise(work: str, month: str, inputs: dict) -> dict:
    """pseudonymise_file under the bundled agreement, keys from a throwaway master secret; the
    library call reads the typed rows and writes the pseudonymised ones, batch by batch."""
    out, figures, counts = _dir(work), {"rows_in": 0, "values_pseudonymised": 0}, {}
    with stopwatch(figures, "setup_seconds"):
        from anonymise.locate_batches import LocationResolver
        from anonymise.reference import gazetteer
        from ingest.pseudonymise import pseudonymise_file, pseudonymise_processes
        from sharing_agreements.model import load_agreement

        agreement = load_agreement()
        resolver = LocationResolver(gazetteer())
    master = secrets.token_bytes(32)
    processes, figures["worker_processes"] = pseudonymise_processes(), 1
    started = time.perf_counter()
    for source in SOURCES:
        keys = agreement.pseudonym_keys(source, master)
        typed = _need(out / f"{source}_typed.parquet", "parse")
        with stopwatch(figures, "compute_seconds"):
            result = pseudonymise_file(
                typed, out / f"{source}_pseudonymised.parquet", source, agreement, keys, resolver, processes=processes
            )
        counts[source] = result.counts
        figures["worker_processes"] = max(figures["worker_processes"], result.processes)
        figures["rows_in"] += result.counts["rows_in"]
        figures["values_pseudonymised"] += result.counts["rows_in"] * len(keys)
    (out / "pseudonymise_summary.json").write_text(json.dumps(counts))
    return {**figures, "seconds": time.perf_counter() - started}


def scan(work: str, month: str, inputs: dict) -> dict:
    """The blocking leak-scan check on each pseudonymised file, the month's identifiers known."""
    out, figures = _dir(work), {"rows_in": 0}
    with stopwatch(figures, "setup_seconds"):
        from anonymise.scan import scan_parquet_rows
        from pipelines.lib.leak_checks import scanner_of
    started = time.perf_counter()
    findings = 0
    for source in SOURCES:
        with stopwatch(figures, "compute_seconds"):
            scanner = scanner_of({source: _need(out / f"{source}_typed.parquet", "parse")})
            findings += len(scan_parquet_rows(_need(out / f"{source}_pseudonymised.parquet", "pseudonymise"), scanner))
    return {**figures, "findings": findings, "seconds": time.perf_counter() - started}


def joint(work: str, month: str, inputs: dict) -> dict:
    """write_joint_incidents: DuckDB from the pseudonymised Parquet files to the joint one."""
    out, figures = _dir(work), {}
    with stopwatch(figures, "setup_seconds"):
        from warehouse.joint import write_joint_incidents
    started = time.perf_counter()
    files = {s: _need(out / f"{s}_pseudonymised.parquet", "pseudonymise") for s in SOURCES}
    with stopwatch(figures, "compute_seconds"):
        rows = write_joint_incidents(files, out / "joint.parquet", spill_zone=out, record_keys=_bench_record_keys())
    return {**figures, "rows_in": sum(rows.values()), "seconds": time.perf_counter() - started}


def _bench_record_keys():
    """The joint and aggregate stages run in processes of their own and must agree on the record
    keys; synthetic data needs no secret, so a fixed one serves."""
    from anonymise.cellkey import RecordKeys

    return RecordKeys.from_secret(b"istv-benchmark-record-keys")


def _delivery_summaries(out: Path, month: dt.date) -> pd.DataFrame:
    """As warehouse.release.delivery_summaries reads them from the run's summary files."""
    from warehouse.tables import DeliverySummary, RowOutcomes, delivery_summaries_frame

    parsed = json.loads(_need(out / "parse_summary.json", "parse").read_text())
    counted = json.loads(_need(out / "pseudonymise_summary.json", "pseudonymise").read_text())
    return delivery_summaries_frame(
        DeliverySummary(month, s, **parsed[s], outcomes=RowOutcomes.from_counts(counted[s])) for s in SOURCES
    )


def aggregate(work: str, month: str, inputs: dict) -> dict:
    """build_tables: the SQL aggregates, then disclosure control."""
    out, figures = _dir(work), {}
    with stopwatch(figures, "setup_seconds"):
        import pyarrow.parquet as pq

        from sharing_agreements.model import load_agreement
        from warehouse.release import hotspot_areas
        from warehouse.tables import build_tables

        agreement = load_agreement()
    started = time.perf_counter()
    joint_file = _need(out / "joint.parquet", "joint")
    summaries = _delivery_summaries(out, _month(month))
    with stopwatch(figures, "compute_seconds"):
        tables = build_tables(
            joint_file,
            summaries,
            agreement.disclosure_control.policy(),
            agreement.id,
            agreement.version,
            record_keys=_bench_record_keys(),
            public_sources=agreement.public_sources(),
            spill_zone=out,
            areas=hotspot_areas(agreement),
        )
    (out / "tables.pickle").write_bytes(pickle.dumps(tables))
    return {
        **figures,
        "rows_in": pq.ParquetFile(joint_file).metadata.num_rows,
        "rows_out": sum(len(t) for t in tables.values()),
        "seconds": time.perf_counter() - started,
    }


def publish(work: str, month: str, inputs: dict) -> dict:
    """What release_month does with the built tables: the month's content digest, every table
    checked (its suite, and a leak scan for the month's identifiers, of every source), then
    published into a fresh warehouse file under <work>/stages."""
    out, figures = _dir(work), {}
    with stopwatch(figures, "setup_seconds"):
        from pipelines.lib.leak_checks import scanner_of
        from sharing_agreements.model import load_agreement
        from warehouse.joint import month_content_sha256
        from warehouse.publish import publish as publish_tables
        from warehouse.release import checked_tables

        agreement = load_agreement()
    warehouse = out / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    started = time.perf_counter()
    tables = pickle.loads(_need(out / "tables.pickle", "aggregate").read_bytes())
    with stopwatch(figures, "compute_seconds"):
        month_content_sha256(_need(out / "joint.parquet", "joint"), out)
        extracts = {source: _need(out / f"{source}_typed.parquet", "parse") for source in SOURCES}
        checked = checked_tables(
            tables, agreement.disclosure_control.policy(), agreement, lambda shown: scanner_of(extracts, shown)
        )
        failed = [name for name, table in checked.items() if not table.passed]
        if failed:
            raise RuntimeError(f"the benchmark's tables failed their checks: {', '.join(failed)}")
        publish_tables(warehouse, _month(month), {name: table.frame for name, table in checked.items()})
    return {**figures, "rows_in": sum(len(t) for t in tables.values()), "seconds": time.perf_counter() - started}


FUNCTIONS = {
    "parse": parse,
    "validate": validate,
    "pseudonymise": pseudonymise,
    "scan": scan,
    "joint": joint,
    "aggregate": aggregate,
    "publish": publish,
}
