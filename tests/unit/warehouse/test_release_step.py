"""The release step called directly, without Dagster: a month's tables built from its joint
zone, checked, published and audited, or refused with nothing published."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from types import SimpleNamespace

import duckdb
import pandas as pd
import pytest

from anonymise.differential_privacy import BudgetExceeded
from anonymise.leaks import LeakScanner, heads_in
from ingest.home import IstvHome
from sharing_agreements.model import load_agreement
from sharing_agreements.retention import plan_retention
from tests.conftest import TEST_RECORD_KEYS, made_up_pseudonym
from warehouse.corrections import released_folder
from warehouse.joint import CONTENT_DIGEST, build_joint_incidents, month_content_sha256
from warehouse.release import NothingDelivered, ReleaseRefused, SourcesGone, delivery_summaries, release_month
from warehouse.tables import (
    DELIVERY_SUMMARY_COLUMNS,
    MATCH_RULE,
    DeliverySummary,
    RowOutcomes,
    delivery_summaries_frame,
    table_specs,
)

MONTH = dt.date(2026, 9, 1)
WHEN = pd.Timestamp("2026-09-05 23:00")
CELL = "89195879b4bffff"
VENUE = "The Test Arms"
NOISE_KEY = b"istv-tests-dp-noise-key-0000001"


class AuditLog:
    """The audit log as the release step sees it: entries recorded, then read back in order."""

    def __init__(self):
        self.entries: list[SimpleNamespace] = []

    def record(self, kind: str, details: dict) -> None:
        self.entries.append(SimpleNamespace(kind=kind, details=details))

    def read(self) -> list[SimpleNamespace]:
        return list(self.entries)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.entries]


def _pseudonymised(home: IstvHome, ed_rows: int, police_rows: int) -> None:
    """The month's pseudonymised files and summaries, as the source assets leave them (no open
    data this month), then its joint zone."""
    located = {"month": MONTH, "weekday": 6, "hour": 23, "event_hour": WHEN, "cell_id": CELL}
    ed = pd.DataFrame(
        [
            located
            | {
                "site_code": "7A4BV",
                "attendance_id_pseudonym": made_up_pseudonym(f"att-{i}"),
                "age_band": "20-24",
                "sex": "male",
                "assault_method": "fist",
                "assault_location_type": "licensed_premises",
                "place_status": "venue",
                "place_id": "venue:1",
                "place_name": VENUE,
            }
            for i in range(ed_rows)
        ]
    )
    police = pd.DataFrame(
        [
            located
            | {
                "force_code": "SWP",
                "crime_reference_pseudonym": made_up_pseudonym(f"crime-{i}"),
                "offence_code": "8N",
                "victim_sex": "female",
                "place_status": "street",
                "place_id": "street:x",
                "place_name": "X Street",
            }
            for i in range(police_rows)
        ]
    )
    police_uk = pd.DataFrame({c: pd.Series(dtype="string") for c in ["crime_id_pseudonym", "reported_by", "cell_id"]})
    for source, frame, provider in (("ed", ed, "7A4BV"), ("police", police, "SWP"), ("police_uk", police_uk, None)):
        file = home.pseudonymised_file(source, MONTH)
        file.parent.mkdir(parents=True, exist_ok=True)
        frame.astype({"weekday": "Int64", "hour": "Int64"} if len(frame) else {}).to_parquet(file, index=False)
        rows = len(frame)
        counts = {"rows_in": rows, "rows_shared": rows, "rows_located": rows}
        summary = {
            "files": [{"provider": provider, "rows_received": rows + 2, "rows_quarantined": 2}] if provider else [],
            "providers_counts": {provider: counts} if provider else {},
        }
        home.summary_file(source, MONTH).write_text(json.dumps(summary))
    build_joint_incidents(home, MONTH, TEST_RECORD_KEYS)


@pytest.fixture
def home(tmp_path) -> IstvHome:
    home = IstvHome(tmp_path / "home")
    home.create()
    _pseudonymised(home, ed_rows=30, police_rows=12)
    return home


def _release(home, agreement=None, known=(), log=None, policy=None):
    """The month released as the pipeline releases it, its leak scanner knowing `known` and
    scoped to the built tables."""
    agreement = agreement or load_agreement()
    log = log or AuditLog()
    return release_month(
        home,
        MONTH,
        agreement,
        record_keys=TEST_RECORD_KEYS,
        disclosure_policy=policy or (lambda content: agreement.disclosure_control.policy()),
        scanner=lambda tables: LeakScanner(known_identifiers=known, allowed_text=[MATCH_RULE], scope=heads_in(tables)),
        audit=log.record,
        audit_entries=log.read,
    )


def _published(home, table: str) -> pd.DataFrame:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return con.execute(f"SELECT * FROM {table}").df()


def test_summaries_are_read_per_provider_by_name(tmp_path):
    home = IstvHome(tmp_path)
    home.create()
    files = [
        {"provider": "7A4BV", "rows_received": 10, "rows_quarantined": 1},
        {"provider": "7A4BV", "rows_received": 5, "rows_quarantined": 0},
        {"provider": "7A1LX", "rows_received": 3, "rows_quarantined": 3},  # every row quarantined
    ]
    counts = {"rows_in": 14, "rows_out_of_area": 2, "rows_shared": 12, "rows_located": 9, "rows_unlocated": 3}
    written = {
        "ed": {"files": files, "providers_counts": {"7A4BV": counts}},
        # Written before counts were kept per provider: the one provider's counts beside the files.
        "police": {"files": [{"provider": "SWP", "rows_received": 4, "rows_quarantined": 0}], "rows_shared": 4},
        "police_uk": {"files": []},
    }
    for source, summary in written.items():
        home.summary_file(source, MONTH).parent.mkdir(parents=True, exist_ok=True)
        home.summary_file(source, MONTH).write_text(json.dumps(summary))
    summaries = delivery_summaries(home, MONTH)
    assert summaries == [
        DeliverySummary(
            MONTH,
            "ed",
            "7A4BV",
            15,
            1,
            RowOutcomes(rows_out_of_area=2, rows_shared=12, rows_located=9, rows_unlocated=3),
        ),
        DeliverySummary(MONTH, "ed", "7A1LX", 3, 3),
        DeliverySummary(MONTH, "police", "SWP", 4, 0, RowOutcomes(rows_shared=4)),
    ]
    frame = delivery_summaries_frame(summaries)
    assert list(frame.columns) == DELIVERY_SUMMARY_COLUMNS
    assert frame.iloc[0].to_dict() == {
        "month": MONTH,
        "source": "ed",
        "provider": "7A4BV",
        "rows_received": 15,
        "rows_quarantined": 1,
        "rows_out_of_scope": 0,
        "rows_out_of_area": 2,
        "rows_shared": 12,
        "rows_located": 9,
        "rows_unlocated": 3,
        "rows_private": 0,
        "rows_ambiguous": 0,
    }


def test_a_release_publishes_every_permitted_table_and_audits_it(home):
    log = AuditLog()
    release = _release(home, log=log)
    agreement = load_agreement()
    assert list(release.tables) == [s.name for s in table_specs()] and release.withheld == []
    assert not release.failed and all(t.validation.success and not t.findings for t in release.tables.values())
    assert release.content_sha256 == month_content_sha256(home.pseudonymised_file("joint", MONTH), home.pseudonymised)
    for name, table in release.tables.items():
        assert len(_published(home, name)) == table.rows
    assert release.tables["hotspot_cells"].rows == 1 and release.tables["coverage"].cells_suppressed == 0
    assert _published(home, "coverage")["release_status"].unique().tolist() == ["as delivered"]
    assert log.kinds() == ["publish"]  # no differential privacy: nothing spent
    published = log.entries[0].details
    assert published == {
        "month": "2026-09",
        "agreement_id": agreement.id,
        "agreement_version": agreement.version,
        "agreement_sha256": agreement.content_hash(),
        "withheld": [],
        "tables": {n: {"rows": t.rows, "cells_suppressed": t.cells_suppressed} for n, t in release.tables.items()},
        "content_sha256": release.content_sha256,
        "content_digest": CONTENT_DIGEST,
        "corrected_release": False,
        "figures_kept": {},
    }
    assert released_folder(home.pseudonymised_file("joint", MONTH)).is_dir()  # for a corrected release


def test_a_month_nothing_was_delivered_for_publishes_nothing(home):
    for source in ("ed", "police", "police_uk"):
        home.summary_file(source, MONTH).write_text(json.dumps({"files": [], "providers_counts": {}}))
    log = AuditLog()
    with pytest.raises(NothingDelivered, match=f"nothing has been delivered for {MONTH:%Y-%m}"):
        _release(home, log=log)
    assert not home.warehouse.exists()
    assert not [e for e in log.read() if e.kind == "publish"]


def test_a_table_the_agreement_does_not_permit_is_never_written(home):
    agreement = load_agreement()
    without = agreement.model_copy(
        update={"published_tables": [t for t in agreement.published_tables if t != "hour_of_week"]}
    )
    log = AuditLog()
    release = _release(home, agreement=without, log=log)
    assert release.withheld == ["hour_of_week"] and "hour_of_week" not in release.tables
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        assert "hour_of_week" not in {name for (name,) in con.execute("SHOW TABLES").fetchall()}
    assert log.entries[0].details["withheld"] == ["hour_of_week"]


def test_an_identifier_in_a_table_refuses_the_whole_release(home):
    """The venue's name among the month's known identifiers (a name typed where a venue goes):
    the table that shows it fails, and no table is published."""
    log = AuditLog()
    with pytest.raises(ReleaseRefused, match="checks failed for hotspot_venues") as refused:
        _release(home, known=[VENUE], log=log)
    release = refused.value.release
    assert release.failed == ["hotspot_venues"] and release.tables["hotspot_venues"].findings
    assert all(t.passed for n, t in release.tables.items() if n != "hotspot_venues")
    assert not home.warehouse.exists() and log.kinds() == []
    assert not released_folder(home.pseudonymised_file("joint", MONTH)).exists()


def test_a_changed_month_published_again_is_a_corrected_release(home):
    log = AuditLog()
    _release(home, log=log)
    _release(home, log=log)  # unchanged: the same release again
    assert _published(home, "coverage")["release_status"].unique().tolist() == ["as delivered"]
    _pseudonymised(home, ed_rows=31, police_rows=12)  # a corrected re-delivery
    _release(home, log=log)
    assert _published(home, "coverage")["release_status"].unique().tolist() == ["corrected"]
    assert [e.details["corrected_release"] for e in log.entries] == [False, True, True]


def test_a_month_first_published_with_the_first_digest_keeps_it(home):
    """A month published before the quicker digest: its re-run must give the same digest, or its
    seeded noise would be drawn afresh (a second view of every count) and the re-run would read
    as a corrected release."""
    joint = home.pseudonymised_file("joint", MONTH)
    before = month_content_sha256(joint, home.pseudonymised, kind=1)
    assert before != month_content_sha256(joint, home.pseudonymised)
    log = AuditLog()
    log.record("publish", {"month": f"{MONTH:%Y-%m}", "content_sha256": before})  # as audited then
    release = _release(home, log=log)
    assert release.content_sha256 == before
    assert log.entries[-1].details["content_digest"] == 1
    assert _published(home, "coverage")["release_status"].unique().tolist() == ["as delivered"]


class NoRuns:
    """A run history with nothing in it: only the working folder's zones are planned."""

    def runs_updated_before(self, cutoff):
        return []

    def delete(self, run_id):
        raise AssertionError("no run to delete")


def test_a_correction_after_retention_publishes_the_first_release_again(home):
    """Retention deletes the month's rows but keeps its ledger, so a one-row correction delivered
    later cannot be compared with the first release: every figure is published as it was."""
    log = AuditLog()
    _release(home, log=log)
    figures = [s.name for s in table_specs() if s.name != "coverage"]  # coverage counts deliveries
    first = {name: _published(home, name) for name in figures}
    plan = plan_retention(home, load_agreement().retention, MONTH.replace(year=MONTH.year + 10), NoRuns())
    for due in plan.due:
        shutil.rmtree(due.path) if due.path.is_dir() else due.path.unlink()
    assert not home.pseudonymised_file("joint", MONTH).exists()
    assert released_folder(home.pseudonymised_file("joint", MONTH)).is_dir()
    _pseudonymised(home, ed_rows=29, police_rows=12)  # re-delivered with one row fewer
    _release(home, log=log)
    assert _published(home, "coverage")["release_status"].unique().tolist() == ["corrected"]
    for name in figures:
        pd.testing.assert_frame_equal(_published(home, name), first[name], obj=name)


def test_a_month_whose_police_rows_are_gone_is_not_published_again_without_them(home):
    """Retention has deleted the month's rows; the ED extract alone is delivered again. Published
    now, every police count would read 0: refused, saying what to deliver, the tables as they were."""
    log = AuditLog()
    _release(home, log=log)
    before = {name: _published(home, name) for name in ("hotspot_cells", "coverage")}
    _pseudonymised(home, ed_rows=29, police_rows=12)
    police = home.pseudonymised_file("police", MONTH)  # as the police asset leaves it with nothing delivered:
    pd.read_parquet(police).iloc[:0].to_parquet(police, index=False)
    home.summary_file("police", MONTH).write_text(json.dumps({"files": [], "providers_counts": {}}))
    build_joint_incidents(home, MONTH, TEST_RECORD_KEYS)
    with pytest.raises(SourcesGone, match="2026-09 was published with police rows that are no longer held") as gone:
        _release(home, log=log)
    assert "istv ingest FILE --source SOURCE --month 2026-09" in str(gone.value)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(_published(home, name), frame)
    assert log.kinds() == ["publish", "release_refused"]
    refused = log.entries[-1].details
    assert refused["refusal"] == "source_missing" and refused["sources"] == ["police"]
    assert refused["month"] == "2026-09" and refused["reason"] == str(gone.value)
    _pseudonymised(home, ed_rows=29, police_rows=12)  # every source delivered again: published
    _release(home, log=log)
    assert log.kinds() == ["publish", "release_refused", "publish"]


def test_a_release_past_the_privacy_budget_publishes_nothing(home, board):
    def with_dp(agreement):
        agreement["disclosure_control"]["differential_privacy"] = {"epsilon": 0.1, "budget_per_month": 4.0}

    agreement = load_agreement(board.variant("dp", with_dp, signed=False))
    base = agreement.disclosure_control.policy()

    def noisy(content: str):
        return dataclasses.replace(base, noise_key=NOISE_KEY, content_sha256=content)

    log = AuditLog()
    first = _release(home, agreement=agreement, log=log, policy=noisy)
    assert log.kinds() == ["dp_release", "publish"]
    assert log.entries[0].details["content_sha256"] == first.content_sha256 and log.entries[0].details["epsilon"] > 2
    before = _published(home, "monthly_trend")
    _pseudonymised(home, ed_rows=31, police_rows=12)  # new content: the same spend again would pass 4.0
    with pytest.raises(BudgetExceeded):
        _release(home, agreement=agreement, log=log, policy=noisy)
    assert log.kinds() == ["dp_release", "publish", "dp_refused"]
    pd.testing.assert_frame_equal(_published(home, "monthly_trend"), before)
