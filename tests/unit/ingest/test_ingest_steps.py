"""The ingest steps called directly, as the CLI, the assets and the benchmarks call them: no
Dagster context or resource, the agreement and the audit log handed in. A tiny synthetic month
of one ED is accepted, parsed and pseudonymised, and each step's result agrees with what it wrote."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from anonymise.keys import key_id
from anonymise.locate_batches import LocationResolver
from ingest.delivery import RefusedDelivery, accept_delivery
from ingest.landing import DuplicateDelivery, current_deliveries
from ingest.secrets import quarantine_cipher
from ingest.steps import parse_month, pseudonymise_month
from pipelines.synthetic import generate_month
from tests.unit.anonymise.test_apply_rules import AGREEMENT, MASTER, _keys

AUGUST = dt.date(2026, 8, 1)
BAD_ROWS = 5  # one of each kind of fault an ED extract can have


class AuditLog(list):
    """Entries as the audit log would get them: (kind, details)."""

    def __call__(self, kind: str, details: dict) -> None:
        self.append((kind, details))

    def of(self, kind: str) -> list[dict]:
        return [details for k, details in self if k == kind]


def _never_asked():
    raise AssertionError("the quarantine key was asked for, with nothing to quarantine")


def _landed(home) -> list[str]:
    return sorted(str(p.relative_to(home.landing)) for p in home.landing.rglob("*") if p.is_file())


@pytest.fixture
def delivered(tmp_path):
    return generate_month("2026-08", tmp_path / "delivered", seed=1, ed_rows=60, bad_rows=BAD_ROWS)["ed"]


def test_a_delivery_is_landed_for_the_month_its_rows_are_in_and_audited(istv_home, delivered):
    audit = AuditLog()
    delivery = accept_delivery(istv_home, "ed", delivered, None, AGREEMENT, audit)
    assert (delivery.month, delivery.providers, delivery.superseded) == (AUGUST, ("7A4BV",), ())
    assert [d.path for d in current_deliveries(istv_home, "ed", AUGUST)] == [delivery.path]
    assert delivery.path.read_bytes() == delivered.read_bytes()
    assert audit == [
        (
            "delivery",
            {
                "source": "ed",
                "month": "2026-08",
                "file": delivered.name,
                "providers": ["7A4BV"],
                "size": delivered.stat().st_size,
                "sha256": delivery.sha256,
                "superseded": [],
            },
        )
    ]


def test_the_same_bytes_again_are_refused_and_audited(istv_home, delivered):
    audit = AuditLog()
    accept_delivery(istv_home, "ed", delivered, AUGUST, AGREEMENT, audit)
    with pytest.raises(DuplicateDelivery, match="already ingested"):
        accept_delivery(istv_home, "ed", delivered, AUGUST, AGREEMENT, audit)
    assert audit.of("duplicate_refused") == [{"source": "ed", "month": "2026-08", "file": delivered.name}]


def test_a_file_of_another_month_is_refused_audited_and_nothing_landed(istv_home, delivered):
    audit = AuditLog()
    with pytest.raises(RefusedDelivery, match="seems to hold 2026-08.*ingest it with --month 2026-08"):
        accept_delivery(istv_home, "ed", delivered, dt.date(2026, 7, 1), AGREEMENT, audit)
    assert _landed(istv_home) == [] and [kind for kind, _ in audit] == ["delivery_refused"]
    assert audit.of("delivery_refused")[0]["refusal"] == "wrong_month"


def test_a_provider_outside_the_agreement_is_refused_audited_and_nothing_landed(istv_home, tmp_path):
    stranger = generate_month("2026-08", tmp_path, seed=2, ed_rows=20, site_code="QQ9ZZ")["ed"]
    audit = AuditLog()
    with pytest.raises(RefusedDelivery, match="'QQ9ZZ' \\(20 rows\\) as provider, not a party"):
        accept_delivery(istv_home, "ed", stranger, None, AGREEMENT, audit)
    assert _landed(istv_home) == []
    assert audit.of("provider_refused")[0]["providers"] == ["QQ9ZZ"]


def test_a_delivery_whose_audit_entry_fails_is_withdrawn(istv_home, delivered):
    def failing(kind, details):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        accept_delivery(istv_home, "ed", delivered, None, AGREEMENT, failing)
    assert _landed(istv_home) == []
    accept_delivery(istv_home, "ed", delivered, None, AGREEMENT, AuditLog())  # the retry is not a duplicate


def test_parse_month_accounts_for_every_row_and_its_result_matches_the_summary(istv_home, delivered):
    accept_delivery(istv_home, "ed", delivered, None, AGREEMENT, AuditLog())
    audit = AuditLog()
    parsed = parse_month(istv_home, "ed", AUGUST, lambda: quarantine_cipher(istv_home), audit)
    typed, summary_path = istv_home.parsed_extract("ed", AUGUST)
    summary = json.loads(summary_path.read_text())
    (ingested,) = summary["files"]
    assert (summary["source"], summary["month"]) == ("ed", "2026-08")
    assert parsed.rows_received == ingested["rows_received"] == parsed.rows_passed + parsed.rows_quarantined
    assert parsed.rows_quarantined == BAD_ROWS and parsed.quarantine_reasons == ingested["reasons"]
    assert parsed.sha256 == (ingested["sha256"],) and typed.exists()
    assert audit.of("ingest") == [{"source": "ed", "month": "2026-08", **ingested}]
    assert sorted(p.name for p in (istv_home.quarantine / "ed" / "2026-08").iterdir()) == [
        f"7A4BV_{delivered.stem}.parquet.fernet",
        f"7A4BV_{delivered.stem}.summary.json",
    ]
    assert parsed.as_metadata() == {
        "files": 1,
        "rows_received": parsed.rows_received,
        "rows_passed": parsed.rows_passed,
        "rows_quarantined": BAD_ROWS,
        "quarantine_reasons": json.dumps(ingested["reasons"]),
        "sha256": ingested["sha256"],
    }


def test_parse_month_asks_for_the_quarantine_key_only_to_quarantine(istv_home, tmp_path):
    clean = generate_month("2026-08", tmp_path, seed=3, ed_rows=20, bad_rows=False)["ed"]
    accept_delivery(istv_home, "ed", clean, None, AGREEMENT, AuditLog())
    assert parse_month(istv_home, "ed", AUGUST, _never_asked, AuditLog()).rows_quarantined == 0


def test_parse_month_without_a_delivery_writes_an_empty_month(istv_home):
    audit = AuditLog()
    parsed = parse_month(istv_home, "ed", AUGUST, _never_asked, audit)
    assert parsed.as_metadata()["sha256"] == "none" and parsed.rows_received == 0 and audit == []
    assert json.loads(istv_home.parsed_extract("ed", AUGUST)[1].read_text())["files"] == []


def test_pseudonymise_month_writes_the_rows_shared_and_a_summary_its_result_matches(istv_home, delivered):
    accept_delivery(istv_home, "ed", delivered, None, AGREEMENT, AuditLog())
    parsed = parse_month(istv_home, "ed", AUGUST, lambda: quarantine_cipher(istv_home), AuditLog())
    audit = AuditLog()
    shared = pseudonymise_month(
        istv_home,
        "ed",
        AUGUST,
        AGREEMENT,
        _keys(AGREEMENT.rules_for("ed")),
        key_id(MASTER),
        LocationResolver(()),
        audit,
    )
    summary = json.loads(istv_home.summary_file("ed", AUGUST).read_text())
    extract_summary = json.loads(istv_home.parsed_extract("ed", AUGUST)[1].read_text())
    assert istv_home.pseudonymised_file("ed", AUGUST).exists()
    assert summary["files"] == extract_summary["files"] and summary["fields"] == shared.fields
    assert {k: summary[k] for k in shared.counts} == shared.counts
    assert (summary["agreement_id"], summary["agreement_version"], summary["key_id"]) == (
        AGREEMENT.id,
        AGREEMENT.version,
        key_id(MASTER),
    )
    (details,) = audit.of("pseudonymise")
    assert details["providers"] == ["7A4BV"] and details["files"] == list(parsed.sha256)
    assert (details["rows_received"], details["rows_quarantined"]) == (parsed.rows_received, BAD_ROWS)
    metadata = shared.as_metadata()
    assert metadata["agreement"] == f"{AGREEMENT.id} v{AGREEMENT.version}"
    assert metadata["agreement_sha256"] == AGREEMENT.content_hash() == summary["agreement_sha256"]
    assert set(metadata["fields_pseudonymised"].split(", ")) == {"attendance_id", "nhs_number"}
