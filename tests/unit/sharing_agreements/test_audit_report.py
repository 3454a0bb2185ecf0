"""The board's report, built from audit entries."""

from __future__ import annotations

import datetime as dt

from sharing_agreements.audit import Entry
from sharing_agreements.audit_report import report_markdown


def _entry(seq, kind, details):
    return Entry(seq=seq, time="2026-11-01T10:00:00Z", kind=kind, details=details, prev_hash="0" * 64, hash="f" * 64)


def _loaded(version, valid_to, review):
    return {
        "agreement_id": "a",
        "agreement_version": version,
        "agreement_sha256": "ab" * 32,
        "file": "a.yaml",
        "valid_to": valid_to,
        "review_date": review,
        "step": "x",
        "signed_by": ["Board (k1)"],
    }


def _shared(version, month):
    return {
        "agreement_id": "a",
        "agreement_version": version,
        "source": "ed",
        "month": month,
        "key_id": "k",
        "providers": ["7A4BV"],
        "files": ["x"],
        "rows_received": 120,
        "rows_quarantined": 3,
        "rows_in": 117,
        "rows_out_of_scope": 0,
        "rows_out_of_area": 2,
        "rows_shared": 115,
        "rows_located": 90,
        "rows_unlocated": 25,
        "rows_private": 10,
        "rows_ambiguous": 1,
        "fields": {"kept": ["sex"], "pseudonymised": ["nhs_number"], "generalised": [], "dropped": []},
    }


def test_nearing_expiry_and_review_are_flagged():
    entries = [_entry(1, "agreement_loaded", _loaded(1, "2027-01-15", "2026-12-01"))]
    text = report_markdown(entries, dt.date(2026, 11, 22), "verified")
    assert "a v1 expires on 2027-01-15** (54 days)" in text
    assert "due for review on 2026-12-01" in text
    calm = report_markdown(
        [_entry(1, "agreement_loaded", _loaded(1, "2029-01-01", "2028-06-01"))], dt.date(2026, 11, 22), "verified"
    )
    assert "## Attention" not in calm


def test_expired_agreement_is_flagged():
    text = report_markdown(
        [_entry(1, "agreement_loaded", _loaded(1, "2026-10-01", "2026-06-01"))], dt.date(2026, 11, 22), "verified"
    )
    assert "a v1 expired on 2026-10-01" in text


def test_rows_and_refusals_are_reported():
    entries = [
        _entry(1, "pseudonymise", _shared(1, "2026-09")),
        _entry(
            2,
            "publish",
            {
                "agreement_id": "a",
                "agreement_version": 1,
                "month": "2026-09",
                "agreement_sha256": "x",
                "withheld": [],
                "tables": {"hotspot_cells": {"rows": 40, "cells_suppressed": 12}},
            },
        ),
        _entry(3, "verification_failure", {"file": "a.yaml", "step": "s", "reason": "agreement a v2 is not signed"}),
    ]
    text = report_markdown(entries, dt.date(2026, 11, 22), "verified")
    assert "| 2026-09 | ed | 7A4BV | 120 | 3 | 115 | 90 | hotspot_cells | 12 |" in text
    assert "agreement a v2 is not signed" in text


def _agreement(**disclosure):
    from sharing_agreements.model import DisclosureControl, load_agreement

    bundled = load_agreement()
    return (
        bundled
        if not disclosure
        else bundled.model_copy(update={"disclosure_control": DisclosureControl(**disclosure)})
    )


def test_the_heading_says_exact_counts_for_the_board_only():
    text = report_markdown([], dt.date(2026, 11, 22), "verified", _agreement())
    heading = text.splitlines()[0]
    assert heading.startswith("# ") and "exact counts" in heading and "governance board only" in heading
    assert "do not circulate" in text.lower()


def test_the_disclosure_control_in_force_is_read_from_its_policy():
    cell_key = report_markdown([], dt.date(2026, 11, 22), "verified", _agreement())
    assert "cell-key" in cell_key and "at most 4 (variance 2)" in cell_key and "police_uk" in cell_key
    assert _agreement().disclosure_control.policy().legend() in cell_key
    strict = report_markdown(
        [],
        dt.date(2026, 11, 22),
        "verified",
        _agreement(method="suppress_and_round", suppression_threshold=10, rounding_base=10),
    )
    assert "1 to 10" in strict and "nearest 10" in strict
    assert "1 to 7" not in strict and "nearest 5" not in strict and "cell-key" not in strict


def test_a_version_other_than_the_one_in_force_is_not_described_by_its_rules():
    agreement = _agreement()
    shared = {**_shared(1, "2026-09"), "agreement_id": agreement.id}
    text = report_markdown([_entry(1, "pseudonymise", shared)], dt.date(2026, 11, 22), "verified", agreement)
    assert "the agreement in force (above)" in text and "withholds no count" in text
    older = report_markdown(
        [_entry(1, "pseudonymise", _shared(1, "2026-09"))], dt.date(2026, 11, 22), "verified", agreement
    )
    assert "not recorded in the audit log for this version" in older


def test_an_unreadable_agreement_is_said():
    text = report_markdown([], dt.date(2026, 11, 22), "verified", None, "no sharing agreement at x.yaml")
    assert "could not be read: no sharing agreement at x.yaml" in text
