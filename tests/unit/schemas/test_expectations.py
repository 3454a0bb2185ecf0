"""Great Expectations suites generated from the schemas: errors stop, warnings do not, and no
raw value ever leaves the result."""

from __future__ import annotations

import pandas as pd

from schemas import schema_for_source
from schemas.expectations import extract_suite, published_suite, validate

POLICE = schema_for_source("police")


def _police(n=20, **changes):
    frame = pd.DataFrame({f.name: [None] * n for f in POLICE.fields})
    frame = frame.assign(
        force_code="SWP",
        crime_reference=[f"SW/{i:06d}/26" for i in range(n)],
        offence_code="105/01",
        committed_from=pd.Timestamp("2026-09-05 23:00"),
        latitude=51.48,
        longitude=-3.17,
    )
    return frame.assign(**changes)


def test_clean_rows_pass():
    summary = validate(_police(), extract_suite(POLICE))
    assert summary.success and not summary.warned


def test_missing_coordinates_warn_without_stopping():
    frame = _police()
    frame.loc[:5, "latitude"] = None
    summary = validate(frame, extract_suite(POLICE))
    assert summary.success and summary.warned
    assert "warning expect_column_values_to_not_be_null(latitude): 6" in summary.as_metadata()["failed"]


def test_an_error_stops_and_no_value_is_reported():
    frame = _police()
    frame.loc[3, "offence_code"] = "SECRET-CODE-77"
    frame.loc[4, "crime_reference"] = frame.loc[5, "crime_reference"]
    summary = validate(frame, extract_suite(POLICE))
    assert not summary.success
    text = str(summary)
    assert "SECRET-CODE-77" not in text and "SW/000005/26" not in text
    assert {o.column for o in summary.failed} == {"offence_code", "crime_reference"}


def test_published_suite_catches_a_small_count():
    table = pd.DataFrame({"month": ["2026-09-01"] * 2, "cell_id": ["a", "b"], "ed_assaults": [10, 3]})
    summary = validate(table, published_suite("hotspot_cells", ["ed_assaults"], ["month", "cell_id"], 7))
    assert not summary.success


def test_batched_validation_of_a_parquet_file_matches_whole_frame_and_sees_cross_batch_duplicates(tmp_path):
    from ingest.validate import validate_parquet

    frame = _police(50)
    frame.loc[3, "offence_code"] = "SECRET-CODE-77"
    frame.loc[45, "crime_reference"] = frame.loc[2, "crime_reference"]  # duplicates in different batches
    frame.loc[10:14, "latitude"] = None
    path = tmp_path / "extract.parquet"
    frame.to_parquet(path, index=False)
    batched = validate_parquet(path, POLICE, batch_rows=20)
    whole = validate(frame, extract_suite(POLICE))
    assert {(o.expectation, o.column, o.unexpected_count) for o in batched.failed if o.severity == "error"} == {
        (o.expectation, o.column, o.unexpected_count) for o in whole.failed if o.severity == "error"
    }
    assert ("expect_column_values_to_be_unique", "crime_reference") in {
        (o.expectation, o.column) for o in batched.failed
    }
    assert "SECRET-CODE-77" not in str(batched)


def test_batches_are_not_fingerprinted_and_the_collector_is_left_as_found(tmp_path, monkeypatch):
    import gc

    from great_expectations.execution_engine import pandas_execution_engine

    from ingest.validate import validate_parquet

    def fingerprint(frame):
        raise AssertionError("GX hashed every value of a batch")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", fingerprint)
    path = tmp_path / "extract.parquet"
    _police(30).to_parquet(path, index=False)
    assert validate_parquet(path, POLICE, batch_rows=20).success
    assert gc.get_freeze_count() == 0


def test_a_file_is_validated_on_the_values_expectations_read_with_the_outcomes_of_every_column(tmp_path):
    import datetime as dt

    import pyarrow.parquet as pq

    from ingest.parse import parse_extract
    from ingest.validate import validate_parquet
    from pipelines.synthetic import generate_month
    from schemas.expectations import values_read

    ed = schema_for_source("ed")
    paths = generate_month("2026-10", tmp_path, seed=3, ed_rows=400, police_rows=10)
    typed = tmp_path / "ed_typed.parquet"
    parse_extract(paths["ed"], ed, dt.date(2026, 10, 1), typed, now=dt.datetime(2026, 11, 5))
    frame = pd.read_parquet(typed)
    # Assaults outside the reporting period: only the row condition reads the period's end.
    frame.loc[[5, 50, 250], "assault_datetime"] = frame.loc[[5, 50, 250], "reporting_period_end"] + pd.Timedelta(days=3)
    frame.loc[[7, 300], "sex"] = "not a code"
    frame.to_parquet(typed, index=False)
    suite = extract_suite(ed, uniqueness=False)
    read = values_read(suite, frame.columns)
    assert {"reporting_period_end", "assault_datetime", "sex"} <= set(read)
    assert "assault_location_description" in read and "nhs_number" not in read
    whole = {(o.expectation, o.column, o.unexpected_count) for o in validate(frame, suite).outcomes}
    batched = {
        (o.expectation, o.column, o.unexpected_count) for o in validate_parquet(typed, ed, batch_rows=150).outcomes
    }
    assert ("expect_column_values_to_be_null", "assault_datetime", 3) in whole
    assert ("expect_column_values_to_be_in_set", "sex", 2) in whole
    assert whole <= batched  # and the uniqueness counted over the whole file besides
    assert pq.ParquetFile(typed).metadata.num_rows == len(frame)


def test_the_columns_a_row_condition_names_are_read():
    from schemas.expectations import values_read

    ed = schema_for_source("ed")
    suite = extract_suite(ed, uniqueness=False)
    suite.expectations = [e for e in suite.expectations if e.configuration.kwargs.get("row_condition")]
    names = [f.name for f in ed.fields]
    assert values_read(suite, names) == ["reporting_period_start", "reporting_period_end", "assault_datetime"]


def _police_file(path, n: int, rows_per_group: int, planted: dict | None = None) -> None:
    """A typed police file of `n` rows in row groups of `rows_per_group`, as parse writes them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = _police(n)
    for (row, column), value in (planted or {}).items():
        frame.loc[row, column] = value
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=rows_per_group)


def test_a_large_file_validated_in_worker_processes_has_the_outcomes_of_one_process(tmp_path, monkeypatch):
    import ingest.validate
    from ingest.validate import validate_parquet

    path = tmp_path / "extract.parquet"
    planted = {(3, "offence_code"): "SECRET-CODE-77", (611, "offence_code"): "NOT-A-CODE", (598, "longitude"): 400.0}
    planted |= {(row, "latitude"): None for row in range(400, 412)}
    _police_file(path, 640, 30, planted)
    monkeypatch.setattr(ingest.validate, "ROWS_PER_WORKER", 1)  # a worker even for this small file
    one = validate_parquet(path, POLICE, batch_rows=100, processes=1)
    shared = validate_parquet(path, POLICE, batch_rows=100, processes=2)

    def outcomes(summary):
        return sorted((o.expectation, o.column, o.success, o.unexpected_count, o.severity) for o in summary.outcomes)

    assert outcomes(shared) == outcomes(one)
    assert {("offence_code", 2), ("longitude", 1)} <= {(o.column, o.unexpected_count) for o in one.failed}
    assert ("latitude", 12) in {(o.column, o.unexpected_count) for o in one.outcomes}
    assert "SECRET-CODE-77" not in str(shared)


def test_batches_are_runs_of_whole_row_groups_and_a_large_group_is_read_on_its_own(tmp_path):
    import pyarrow.parquet as pq

    from ingest.validate import _batches

    path = tmp_path / "extract.parquet"
    _police_file(path, 400, 40)
    assert _batches(pq.ParquetFile(path).metadata, 100) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    _police_file(path, 200, 200)
    assert _batches(pq.ParquetFile(path).metadata, 100) == [[0]]
    sizes = type("Metadata", (), {})()
    groups = [30, 30, 500, 30, 80, 10]
    sizes.num_row_groups = len(groups)
    sizes.row_group = lambda n: type("RowGroup", (), {"num_rows": groups[n]})()
    assert _batches(sizes, 100) == [[0, 1], [2], [3, 4], [5]]
    sizes.num_row_groups = 0
    assert _batches(sizes, 100) == [[]]


def test_the_validation_workers_are_set_by_a_variable_of_their_own(monkeypatch):
    # Its values are read as ISTV_PSEUDONYMISE_PROCESSES' are (ingest.engine.processes_setting).
    from ingest.validate import validate_processes

    monkeypatch.setenv("ISTV_PSEUDONYMISE_PROCESSES", "1")
    monkeypatch.setenv("ISTV_VALIDATE_PROCESSES", "3")
    assert validate_processes() == 3
