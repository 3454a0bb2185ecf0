"""The working folder (ISTV_HOME) and its zones.

landing/        extracts as delivered (identifiable; the pipeline only)
quarantine/     rejected rows with reasons, encrypted at rest
pseudonymised/  row-level data after the agreement is applied
                (and _locations/: location shapes already resolved, as keyed digests;
                joint/<month>.released/: the ledger of published figures, kept by retention)
warehouse/      istv.duckdb, the published tables analysts read
reports/        the monthly hotspot reports (published figures only), which analysts read
audit/          the append-only audit log; audit/reports/ the board's audit report (exact
                delivery counts: governance boards only, never circulated to analysts)
dagster/        Dagster's instance (run history, event logs) unless DAGSTER_HOME is set
logs/           what each `istv run` printed, and a failed run's trace (data officers)
keys/           throwaway keys made by the demo only
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path.home() / ".istv"


@dataclass(frozen=True)
class IstvHome:
    root: Path

    @classmethod
    def from_env(cls) -> IstvHome:
        return cls(Path(os.environ.get("ISTV_HOME", DEFAULT_HOME)).expanduser().resolve())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def pseudonymised(self) -> Path:
        return self.root / "pseudonymised"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "istv.duckdb"

    @property
    def audit(self) -> Path:
        return self.root / "audit"

    @property
    def audit_reports(self) -> Path:
        """The board's audit reports: inside the audit zone (governance boards only), never
        beside the analysts' hotspot reports, because they hold exact, unprotected counts."""
        return self.audit / "reports"

    @property
    def audit_report_file(self) -> Path:
        """Where `istv audit report` writes by default."""
        return self.audit_reports / "audit.md"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def dagster(self) -> Path:
        return Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else self.root / "dagster"

    @property
    def logs(self) -> Path:
        """What each `istv run` printed: kept, like Dagster's run history, for the agreement's
        `dagster` retention period."""
        return self.root / "logs"

    def parsed_extract(self, source: str, month: dt.date) -> tuple[Path, Path]:
        """The typed rows that passed (Parquet) and the extract's summary (JSON): landing zone."""
        folder = self.landing_dir(source, month) / "_parsed"
        return folder / "extract.parquet", folder / "extract.json"

    @property
    def reports(self) -> Path:
        """The monthly hotspot reports (published, disclosure-controlled figures only): analysts and
        boards read this folder, so nothing with exact counts is ever written here."""
        return self.root / "reports"

    def report_file(self, month: dt.date) -> Path:
        return self.reports / f"{month:%Y-%m}.html"

    def landing_dir(self, source: str, month: dt.date) -> Path:
        return self.landing / source / f"{month:%Y-%m}"

    def pseudonymised_file(self, source: str, month: dt.date) -> Path:
        return self.pseudonymised / source / f"{month:%Y-%m}.parquet"

    def summary_file(self, source: str, month: dt.date) -> Path:
        return self.pseudonymised / source / f"{month:%Y-%m}.summary.json"

    def known_shapes_file(self, version: str) -> Path:
        """Location text shapes resolved in earlier months, by keyed digest (ingest/known_shapes.py),
        for one version of the places and matching rules. It holds no month's rows, and no text,
        so retention leaves it be (its name is not a month's)."""
        return self.pseudonymised / "_locations" / f"{version}.parquet"

    def create(self) -> None:
        for zone in (self.landing, self.quarantine, self.pseudonymised, self.warehouse.parent, self.audit):
            zone.mkdir(parents=True, exist_ok=True)
