"""The landing sensor never re-runs a month already published from the same deliveries, whatever
started the Dagster instance it is evaluated in: months run and published by `run_month` (what
`istv run` and the demo do) are skipped by a brand-new instance (the UI's, say) as by the one the
runs were recorded in; a corrected delivery, a new provider's file, a month never run and a
month whose run failed are asked for."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, build_sensor_context

from ingest.landing import current_deliveries, delivery_fingerprint
from pipelines.cli import cli
from pipelines.definitions import defs
from pipelines.runs import run_month
from pipelines.sensors import landing_sensor
from pipelines.synthetic import generate_month

pytestmark = pytest.mark.slow
JUNE, JULY = dt.date(2026, 6, 1), dt.date(2026, 7, 1)


def _ingest(path, source: str) -> None:
    result = CliRunner().invoke(cli, ["ingest", str(path), "--source", source])
    assert result.exit_code == 0, result.output


def _evaluate(instance):
    """One tick of the sensor as the code location defines it: partition keys requested, and the skip message."""
    context = build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
    result = landing_sensor.evaluate_tick(context)
    return {r.partition_key: r.run_key for r in result.run_requests or []}, result.skip_message


def _in_new_instance():
    with DagsterInstance.ephemeral() as instance:
        return _evaluate(instance)


def _in_run_instance():
    """In the instance run_month recorded its runs in (ISTV_HOME's): runs without run keys."""
    with DagsterInstance.get() as instance:
        assert instance.get_runs_count() > 0
        return _evaluate(instance)


def test_the_sensor_runs_only_what_is_not_published_from_its_deliveries(istv_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(istv_home.root / "dagster"))  # run_month sets it; restored after
    june = generate_month("2026-06", tmp_path / "june", seed=31, ed_rows=80)
    _ingest(june["ed"], "ed")
    _ingest(june["police"], "police")
    assert run_month(JUNE, istv_home).success
    _ingest(generate_month("2026-07", tmp_path / "july", seed=32, ed_rows=80)["ed"], "ed")

    # June is published from what has landed; July has landed and was never run.
    for evaluate in (_in_new_instance, _in_run_instance):
        requests, skipped = evaluate()
        assert list(requests) == ["2026-07-01"] and skipped is None

    assert run_month(JULY, istv_home).success
    for evaluate in (_in_new_instance, _in_run_instance):
        assert evaluate() == ({}, "2 months already published from their deliveries; nothing new has landed")

    # A corrected June extract from the ED: June is asked for again, under a run key naming it.
    _ingest(generate_month("2026-06", tmp_path / "june-corrected", seed=33, ed_rows=90)["ed"], "ed")
    (corrected,) = current_deliveries(istv_home, "ed", JUNE)
    requests, _ = _in_new_instance()
    assert list(requests) == ["2026-06-01"] and delivery_fingerprint("ed", corrected.sha256) in requests["2026-06-01"]

    # Its run fails at the publish, after pseudonymising the correction: still not published from it.
    def refused(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr("warehouse.release.publish", refused)
        assert not run_month(JUNE, istv_home).success
    assert list(_in_new_instance()[0]) == ["2026-06-01"]

    assert run_month(JUNE, istv_home).success
    assert _in_new_instance() == ({}, "2 months already published from their deliveries; nothing new has landed")

    # A second ED's first June file: a new provider for the month.
    _ingest(generate_month("2026-06", tmp_path / "second-ed", seed=34, ed_rows=40, site_code="7A5B1")["ed"], "ed")
    requests, skipped = _in_new_instance()
    assert list(requests) == ["2026-06-01"] and skipped is None
