"""Which deliveries each month was last published from, as the audit log in ISTV_HOME records
it: how the landing sensor knows a month needs no new run, in whatever Dagster instance it runs
(`istv run`, the demo and the UI may each keep their own run history; the audit log is shared).

A run of a month writes a `pseudonymise` entry for each source (the SHA-256 of every delivery it
read, `files`) and then, once the month's tables are swapped into the warehouse, one `publish`
entry (warehouse/release.py). So a publish was made from the deliveries named by the latest
`pseudonymise` entry of each source of that month before it. A run that failed writes no
`publish` entry: its deliveries count as published only once a later run publishes the month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ingest.landing import delivery_fingerprint

if TYPE_CHECKING:  # the audit log belongs to governance, above the warehouse: its entries are handed in
    from sharing_agreements.audit import Entry


def published_deliveries(entries: Iterable[Entry]) -> dict[dt.date, frozenset[str]]:
    """Month -> the deliveries (as `ingest.landing.delivery_fingerprint` names them) its latest
    publish was made from. A month never published is absent, and so is one whose latest publish
    cannot be traced to its deliveries (a `pseudonymise` entry without `files`, or none at all)."""
    shared: dict[dt.date, dict[str, tuple[str, ...] | None]] = {}  # month -> source -> the latest SHA-256s
    published: dict[dt.date, frozenset[str] | None] = {}
    for entry in entries:
        if entry.kind not in ("pseudonymise", "publish"):
            continue
        details = entry.details
        month = _first_day(details.get("month"))
        if month is None:
            continue
        if entry.kind == "pseudonymise":
            files = details.get("files")
            traced = isinstance(files, list) and all(isinstance(f, str) for f in files)
            shared.setdefault(month, {})[str(details.get("source"))] = tuple(files) if traced else None
        else:
            sources = shared.get(month, {})
            traced = bool(sources) and all(files is not None for files in sources.values())
            published[month] = (
                frozenset(delivery_fingerprint(source, sha) for source, files in sources.items() for sha in files)
                if traced
                else None
            )
    return {month: fingerprints for month, fingerprints in published.items() if fingerprints is not None}


def _first_day(month: object) -> dt.date | None:
    """'2026-10' -> 2026-10-01; None for anything else."""
    try:
        return dt.datetime.strptime(month, "%Y-%m").date() if isinstance(month, str) else None
    except ValueError:
        return None
