"""The Dagster code location: the graph users see, its checks, schedule and sensor."""

from __future__ import annotations

import datetime as dt

import duckdb
from dagster import DefaultScheduleStatus, build_sensor_context, materialize

from ingest.landing import place
from ingest.secrets import generate_demo_keys
from pipelines.definitions import defs
from pipelines.evaluations.assets import mission_on_track, mission_progress
from pipelines.resources import IstvResource
from pipelines.sensors import landing_sensor
from tests.conftest import DATA

EXPECTED_GRAPH = {
    "ed_extract": set(),
    "police_extract": set(),
    "police_uk_extract": set(),
    "ed_pseudonymised": {"ed_extract"},
    "police_pseudonymised": {"police_extract"},
    "police_uk_pseudonymised": {"police_uk_extract"},
    "joint_incidents": {"ed_pseudonymised", "police_pseudonymised", "police_uk_pseudonymised"},
    "hotspot_cells": {"joint_incidents"},
    "hotspot_areas": {"joint_incidents"},
    "hotspot_venues": {"joint_incidents"},
    "hour_of_week": {"joint_incidents"},
    "assault_methods": {"joint_incidents"},
    "monthly_trend": {"joint_incidents"},
    "hidden_violence": {"joint_incidents"},
    "coverage": {"joint_incidents"},
    "mission_progress": {"monthly_trend"},
    "intervention_effects": {"joint_incidents", "hotspot_cells"},
    "hotspot_report": {"hotspot_cells", "mission_progress", "intervention_effects"},
}


def test_graph_snapshot():
    graph = defs.resolve_asset_graph()
    actual = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert actual == EXPECTED_GRAPH


def test_every_asset_is_monthly_and_described():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.partitions_def is not None and node.partitions_def.get_partition_keys()[0] == "2018-01-01"
        assert node.description and len(node.description) > 40, key


def test_checks_are_blocking():
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name): graph.get_check_spec(k) for k in graph.asset_check_keys}
    for source in ("ed", "police", "police_uk"):
        assert checks[(f"{source}_extract", "passed_rows_meet_schema")].blocking
    for table in (
        "hotspot_cells",
        "hotspot_venues",
        "hour_of_week",
        "assault_methods",
        "monthly_trend",
        "hidden_violence",
        "coverage",
    ):
        assert checks[(table, "disclosure_control")].blocking


def test_monthly_schedule_runs_the_month_just_ended():
    schedule = defs.resolve_schedule_def("istv_monthly_schedule")
    assert schedule.cron_schedule == "0 6 5 * *"
    assert schedule.job_name == "istv_monthly"


def test_retention_runs_every_night_on_its_own_job():
    schedule = defs.resolve_schedule_def("istv_retention_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 3 * * *", "Europe/London")
    assert schedule.job_name == "istv_retention" and schedule.default_status == DefaultScheduleStatus.RUNNING
    job = defs.resolve_job_def("istv_retention")
    assert [node.name for node in job.nodes] == ["enforce_retention"]  # no asset: the graph above is unchanged


def test_sensor_requests_a_run_per_landed_month_and_again_on_redelivery(istv_home, tmp_path):
    assert [r for r in landing_sensor(build_sensor_context()) if hasattr(r, "run_key")] == []
    october = dt.date(2018, 10, 1)
    place(istv_home, "police_uk", october, DATA / "police_uk" / "2018-10-south-wales-street.csv")
    first = list(landing_sensor(build_sensor_context()))
    assert [r.partition_key for r in first] == ["2018-10-01"]
    corrected = tmp_path / "corrected.csv"
    corrected.write_bytes(
        (DATA / "police_uk" / "2018-10-south-wales-street.csv").read_bytes()[:-200].rsplit(b"\n", 1)[0] + b"\n"
    )
    place(istv_home, "police_uk", october, corrected)
    second = list(landing_sensor(build_sensor_context()))
    assert second[0].partition_key == "2018-10-01" and second[0].run_key != first[0].run_key


def test_a_half_written_file_is_not_picked_up(istv_home):
    folder = istv_home.landing_dir("ed", dt.date(2018, 11, 1))
    folder.mkdir(parents=True)
    (folder / ".ed.csv.part").write_text("REPORTING PERIOD START DATE\n")
    (folder / "ed.csv").write_text("REPORTING PERIOD START DATE\n")  # no manifest yet
    assert [r for r in landing_sensor(build_sensor_context()) if hasattr(r, "run_key")] == []


def test_k_anonymity_check_warns_without_blocking():
    graph = defs.resolve_asset_graph()
    spec = next(graph.get_check_spec(k) for k in graph.asset_check_keys if k.name == "k_anonymity")
    assert spec.asset_key.to_user_string() == "joint_incidents" and not spec.blocking


def test_mission_progress_is_published_after_the_release_and_warns_off_track_for_three_months(istv_home):
    """Thirty flat months against the bundled mission (halve violence from the 2018-10 to 2019-09
    level by 2030-12): the target line falls away from a flat trend, so the month is off track and
    the check warns the board, without blocking the run."""
    generate_demo_keys(istv_home)
    months = [dt.date(2018 + (9 + i) // 12, (9 + i) % 12 + 1, 1) for i in range(30)]
    with duckdb.connect(str(istv_home.warehouse)) as con:
        con.execute(
            "CREATE TABLE monthly_trend (month DATE, ed_assaults BIGINT, police_violence BIGINT, "
            "not_available_reason VARCHAR, agreement_id VARCHAR, agreement_version INTEGER)"
        )
        for month in months:
            con.execute(
                "INSERT INTO monthly_trend VALUES (?, 600, 1000, NULL, 'cardiff-violence-prevention', 1)", [month]
            )
    result = materialize(
        [mission_progress, mission_on_track],
        partition_key=months[-1].isoformat(),
        resources={"istv": IstvResource(home=str(istv_home.root))},
        raise_on_error=False,
    )
    assert result.success
    (materialised,) = result.get_asset_materialization_events()
    assert materialised.materialization.metadata["published"].value is True
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity.value == "WARN"
    assert check.metadata["months_off_track"].value >= 3
    with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
        (status,) = con.execute("SELECT status FROM mission_progress WHERE month = ?", [months[-1]]).fetchone()
    assert status.startswith("off track")


def test_a_months_published_tables_wait_for_the_joint_months_its_windows_read():
    """A backfill running months at once joins the months a rolling window reaches back to first."""
    import datetime as dt

    from dagster import AssetKey

    graph = defs.resolve_asset_graph()
    node = graph.get(AssetKey("hotspot_areas"))
    mapping = node.partition_mappings[AssetKey("joint_incidents")]
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        node.partitions_def.subset_with_partition_keys(["2020-12-01"]),
        node.partitions_def,
        node.partitions_def,
        current_time=dt.datetime(2026, 12, 1),
    ).partitions_subset.get_partition_keys()
    assert upstream[0] == "2019-01-01" and upstream[-1] == "2020-12-01" and len(upstream) == 24
