"""The sharing agreement: loaded, checked against the schemas (deny by default), in force."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from schemas import schema_for_source
from sharing_agreements.model import DEFAULT_AGREEMENT, AgreementError, load_agreement


def _variant(tmp_path, change):
    raw = yaml.safe_load(DEFAULT_AGREEMENT.read_text())
    change(raw)
    path = tmp_path / "agreement.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_bundled_agreement_declares_every_field_of_every_dataset():
    agreement = load_agreement()
    for source, rules in agreement.datasets.items():
        assert set(rules.fields) == set(schema_for_source(source).field_names)
    assert agreement.disclosure_control.suppression_threshold == 7
    assert agreement.disclosure_control.rounding_base == 5


def test_a_field_the_schema_does_not_know_is_refused(tmp_path):
    path = _variant(tmp_path, lambda a: a["datasets"]["ed"]["fields"].update({"patient_name": {"action": "keep"}}))
    with pytest.raises(AgreementError, match=r"names field\(s\) patient_name in dataset 'ed'"):
        load_agreement(path)


def test_an_unknown_action_is_refused_with_its_place(tmp_path):
    path = _variant(tmp_path, lambda a: a["datasets"]["ed"]["fields"].update({"sex": {"action": "publish"}}))
    with pytest.raises(AgreementError, match=r"datasets\.ed\.fields\.sex\.action"):
        load_agreement(path)


def test_an_age_band_needs_a_width(tmp_path):
    path = _variant(tmp_path, lambda a: a["datasets"]["ed"]["fields"]["date_of_birth"].pop("width"))
    with pytest.raises(AgreementError, match="an age band needs 'width'"):
        load_agreement(path)


@pytest.mark.parametrize(
    "today, message",
    [(dt.date(2017, 12, 31), "not yet valid: it starts on 2018-01-01"), (dt.date(2028, 1, 1), "expired on 2027-12-31")],
)
def test_validity_window(today, message):
    with pytest.raises(AgreementError, match=message):
        load_agreement().check_in_force(today)


def test_a_suspended_agreement_stops_the_flow(tmp_path):
    path = _variant(tmp_path, lambda a: a.update(status="suspended"))
    with pytest.raises(AgreementError, match="is suspended, not active"):
        load_agreement(path).check_in_force(dt.date(2026, 1, 1))


def test_content_hash_changes_with_any_edit(tmp_path):
    original = load_agreement().content_hash()
    edited = load_agreement(_variant(tmp_path, lambda a: a["disclosure_control"].update(rounding_base=10)))
    assert edited.content_hash() != original
    assert load_agreement().content_hash() == original


def test_a_dataset_the_agreement_does_not_cover_is_refused(tmp_path):
    path = _variant(tmp_path, lambda a: a["datasets"].pop("police"))
    with pytest.raises(AgreementError, match="does not cover the 'police' dataset"):
        load_agreement(path).rules_for("police")


def test_the_bundled_agreement_declares_every_retention_period():
    declared = yaml.safe_load(DEFAULT_AGREEMENT.read_text())["retention"]
    assert set(declared) == {"landing", "quarantine", "pseudonymised", "dagster", "reports"}
    assert load_agreement().retention.model_dump() == declared


def test_an_agreement_from_before_dagster_and_report_retention_keeps_loading(tmp_path):
    path = _variant(tmp_path, lambda a: a.update(retention={"landing": 90, "quarantine": 180, "pseudonymised": 730}))
    retention = load_agreement(path).retention
    assert (retention.dagster, retention.reports) == (180, 365)


@pytest.mark.parametrize(
    "retention, message",
    [
        (
            {"landing": 0, "quarantine": 180, "pseudonymised": 730},
            r"line \d+, retention: .*retention of landing must be at least 1 day",
        ),
        (
            {"landing": 90, "quarantine": 180, "pseudonymised": 730, "dagster": 30},
            r"retention: .*dagster: 30 days\) must be kept at least as long as the landing zone \(landing: 90 days\)",
        ),
    ],
)
def test_retention_periods_that_cannot_work_are_refused_with_their_place(tmp_path, retention, message):
    path = _variant(tmp_path, lambda a: a.update(retention=retention))
    with pytest.raises(AgreementError, match=message):
        load_agreement(path)
