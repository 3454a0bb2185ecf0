"""The landing sensor's no-re-run rule, evaluated by Dagster in brand-new instances: a month whose
latest publish (as the audit log in ISTV_HOME records it) was made from exactly the deliveries
now landed gets no run; a new or corrected delivery, a month never published and a month whose
run failed do. The audit entries here are written as a run writes them (tests/integration/
test_sensor_no_rerun.py has the pipeline write them itself)."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import DagsterInstance, build_sensor_context

from ingest.landing import current_deliveries, delivery_fingerprint, landed_months, place
from pipelines.definitions import defs
from pipelines.sensors import landing_sensor
from schemas.model import SOURCES
from sharing_agreements import auditing
from warehouse.published_from import published_deliveries

JUNE, JULY = dt.date(2026, 6, 1), dt.date(2026, 7, 1)


def _evaluate():
    """One tick of the sensor, as the code location defines it, in an instance that has never run anything."""
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
        result = landing_sensor.evaluate_tick(context)
    return {r.partition_key: r for r in result.run_requests or []}, result.skip_message


def _land(home, tmp_path, source: str, month: dt.date, provider: str, text: str):
    file = tmp_path / f"{source}_{provider}_{len(list(tmp_path.iterdir()))}.csv"
    file.write_text(text)
    return place(home, source, month, file, providers=[provider])


def _run(home, month: dt.date, published: bool = True) -> None:
    """The entries a run of the month writes: each source's pseudonymisation of its current
    deliveries, then (unless it failed before) the publish."""
    for source in SOURCES:
        files = [d.sha256 for d in current_deliveries(home, source, month)]
        auditing.record(home, "pseudonymise", {"source": source, "month": f"{month:%Y-%m}", "files": files})
    if published:
        auditing.record(home, "publish", {"month": f"{month:%Y-%m}", "content_sha256": "0" * 64})


@pytest.fixture
def june(istv_home, tmp_path):
    _land(istv_home, tmp_path, "ed", JUNE, "7A4BV", "ed june\n")
    _land(istv_home, tmp_path, "police", JUNE, "SWP", "police june\n")
    _run(istv_home, JUNE)
    return istv_home


def test_nothing_landed_is_a_skip(istv_home):
    assert _evaluate() == ({}, "nothing has landed")


def test_a_month_published_from_the_same_deliveries_is_not_run_again(june):
    requests, skipped = _evaluate()
    assert requests == {}
    assert skipped == "1 month already published from their deliveries; nothing new has landed"


def test_a_corrected_delivery_is_run(june, tmp_path):
    before = set(landed_months(june)["2026-06-01"])
    corrected = _land(june, tmp_path, "ed", JUNE, "7A4BV", "ed june, corrected\n")
    requests, skipped = _evaluate()
    assert list(requests) == ["2026-06-01"] and skipped is None
    assert delivery_fingerprint("ed", corrected.sha256) in requests["2026-06-01"].run_key
    assert set(landed_months(june)["2026-06-01"]) != before
    _run(june, JUNE)
    assert _evaluate()[0] == {}


def test_a_new_provider_file_is_run(june, tmp_path):
    _land(june, tmp_path, "ed", JUNE, "7A5B1", "second ED june\n")
    requests, _ = _evaluate()
    assert list(requests) == ["2026-06-01"]


def test_a_month_never_published_is_run_beside_one_that_was(june, tmp_path):
    _land(june, tmp_path, "ed", JULY, "7A4BV", "ed july\n")
    requests, skipped = _evaluate()
    assert list(requests) == ["2026-07-01"] and skipped is None
    _run(june, JULY)
    assert _evaluate() == ({}, "2 months already published from their deliveries; nothing new has landed")


def test_a_month_whose_run_failed_is_run_again(june, tmp_path):
    first = frozenset(landed_months(june)["2026-06-01"])
    _land(june, tmp_path, "ed", JULY, "7A4BV", "ed july\n")
    _run(june, JULY, published=False)  # failed before the publish: never published
    _land(june, tmp_path, "police", JUNE, "SWP", "police june, corrected\n")
    _run(june, JUNE, published=False)  # pseudonymised the correction, then failed
    requests, _ = _evaluate()
    assert sorted(requests) == ["2026-06-01", "2026-07-01"]
    # The June publish that stands is still the one made from the first deliveries.
    assert published_deliveries(auditing.reader(june).entries()) == {JUNE: first}


def test_a_publish_that_names_no_deliveries_is_run(istv_home, tmp_path):
    """A log written before pseudonymise entries named their files cannot tell: run the month."""
    _land(istv_home, tmp_path, "ed", JUNE, "7A4BV", "ed june\n")
    auditing.record(istv_home, "pseudonymise", {"source": "ed", "month": "2026-06"})
    auditing.record(istv_home, "publish", {"month": "2026-06"})
    assert list(_evaluate()[0]) == ["2026-06-01"]


def test_published_deliveries_follow_the_latest_publish_of_each_month():
    class Entry:
        def __init__(self, kind, **details):
            self.kind, self.details = kind, details

    a, b, c = "a" * 64, "b" * 64, "c" * 64
    log = [
        Entry("pseudonymise", source="ed", month="2026-06", files=[a]),
        Entry("pseudonymise", source="ed", month="2026-07", files=[c]),  # another month's run, interleaved
        Entry("pseudonymise", source="police", month="2026-06", files=[]),
        Entry("publish", month="2026-06"),
        Entry("pseudonymise", source="ed", month="2026-06", files=[b]),  # a run that then failed
        Entry("delivery", source="ed", month="2026-06", sha256=b),
        Entry("publish", month="not a month"),
    ]
    assert published_deliveries(log) == {JUNE: frozenset({delivery_fingerprint("ed", a)})}
    log.append(Entry("publish", month="2026-06"))
    assert published_deliveries(log) == {JUNE: frozenset({delivery_fingerprint("ed", b)})}


def test_landed_months_name_deliveries_as_the_audit_log_is_read(june):
    landed = {
        delivery_fingerprint(source, d.sha256) for source in SOURCES for d in current_deliveries(june, source, JUNE)
    }
    assert set(landed_months(june)["2026-06-01"]) == landed
