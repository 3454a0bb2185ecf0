"""The DuckLake warehouse backend on a real PostgreSQL catalogue (started by the tests): the same
tables and comments as the embedded file, a month replaced in one transaction while readers read,
several months published at once, the release history and its expiry, and partnerships kept apart
by PostgreSQL roles and encrypted data files."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import time
from pathlib import Path

import duckdb
import psycopg
import pytest

from benchmarks.postgres_server import running_postgres
from outcomes.publish import INTERVENTION_EFFECTS, latest_effect, publish_month
from tests.conftest import readers_running
from tests.unit.warehouse.test_publish import MONTH
from tests.unit.warehouse.test_publish import _tables as _month_tables
from warehouse import lake
from warehouse.publish import connect_read_only, publish

pytestmark = pytest.mark.slow

NEXT = dt.date(2026, 10, 1)


def _tables(n_ed: int, month: dt.date = MONTH) -> dict:
    """The test month's tables (ED count n_ed) as if published for `month`."""
    return {name: frame.assign(month=month) for name, frame in _month_tables(n_ed).items()}


@pytest.fixture(scope="module")
def postgres():
    with running_postgres() as server:
        yield server


_made = iter(range(1_000_000))


@pytest.fixture
def partnership(postgres, tmp_path, monkeypatch):
    """A partnership of the hub: its own PostgreSQL role and schema (the only one it may use), its
    own data path; the environment points istv at it."""
    return _partnership(postgres, tmp_path, monkeypatch, f"p{next(_made)}")


def _partnership(postgres, tmp_path: Path, monkeypatch, name: str) -> lake.Lake:
    _add_partnership(postgres, name)
    monkeypatch.setenv("PGPASSWORD", f"secret-{name}")
    monkeypatch.setenv(lake.BACKEND_ENV, "ducklake")
    monkeypatch.setenv(lake.CATALOG_ENV, _catalog(postgres, name))
    monkeypatch.setenv(lake.SCHEMA_ENV, name)
    monkeypatch.setenv(lake.DATA_ENV, str(tmp_path / name / "data"))
    return lake.configured()


def _catalog(postgres, role: str) -> str:
    return f"host={postgres.host} port={postgres.port} dbname=hub user={role}"


def _add_partnership(postgres, name: str) -> None:
    postgres.execute("SELECT 1")
    with psycopg.connect(postgres.dsn(), autocommit=True) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = 'hub'").fetchone():
            con.execute("CREATE DATABASE hub")
            con.execute("REVOKE ALL ON DATABASE hub FROM PUBLIC")
        con.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'secret-{name}'")
        con.execute(f"GRANT CONNECT ON DATABASE hub TO {name}")
    with psycopg.connect(postgres.dsn("hub"), autocommit=True) as con:
        con.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        con.execute(f"CREATE SCHEMA {name} AUTHORIZATION {name}")


def _rows(con, table: str) -> list[tuple]:
    return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def _described(con) -> set[tuple]:
    return set(
        con.execute(
            "SELECT table_name, NULL, comment FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE database_name = current_database()"
        ).fetchall()
    )


def test_the_lake_holds_what_the_file_holds_and_replaces_a_month(partnership, tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse" / "istv.duckdb"
    publish(warehouse, MONTH, _tables(12))
    publish(warehouse, NEXT, _tables(30, NEXT))
    publish(warehouse, MONTH, _tables(20))  # a corrected month: replaced, not added
    assert not warehouse.exists(), "the file backend was written"
    with connect_read_only(warehouse) as con:
        in_lake = {t: _rows(con, t) for t in ("hotspot_cells", "monthly_trend", "coverage")}
        lake_comments = _described(con)
        months = con.execute("SELECT month, count(*) FROM hotspot_cells GROUP BY ALL ORDER BY 1").fetchall()
    assert [m for m, _ in months] == [MONTH, NEXT]
    monkeypatch.setenv(lake.BACKEND_ENV, "duckdb")
    publish(warehouse, MONTH, _tables(12))
    publish(warehouse, NEXT, _tables(30, NEXT))
    publish(warehouse, MONTH, _tables(20))
    with connect_read_only(warehouse) as con:
        assert {t: _rows(con, t) for t in in_lake} == in_lake
        assert _described(con) == lake_comments


def test_evaluations_publish_to_the_lake_too(partnership, tmp_path):
    warehouse = tmp_path / "warehouse" / "istv.duckdb"
    row = dict.fromkeys(INTERVENTION_EFFECTS.columns) | {
        "month": MONTH,
        "intervention_id": "glass",
        "kind": "toughened_glass",
        "verdict": "too early",
        "displacement_verdict": "too early",
        "agreement_id": "test-agreement",
        "agreement_version": 3,
    }
    publish_month(warehouse, INTERVENTION_EFFECTS, MONTH, [row])
    publish_month(warehouse, INTERVENTION_EFFECTS, MONTH, [row | {"verdict": "no detectable change"}])
    assert latest_effect(warehouse, "glass")["verdict"] == "no detectable change"
    with connect_read_only(warehouse) as con:
        assert con.execute("SELECT count(*) FROM intervention_effects").fetchone() == (1,)


def test_every_release_is_kept_until_the_agreement_lets_it_go(partnership, tmp_path):
    warehouse = tmp_path / "warehouse" / "istv.duckdb"
    publish(warehouse, MONTH, _tables(12))
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.2)
    publish(warehouse, MONTH, _tables(30))
    with connect_read_only(warehouse, as_of=between) as con:
        assert con.execute("SELECT ed_assaults FROM monthly_trend").fetchall() == [(10,)]
    with connect_read_only(warehouse) as con:
        assert con.execute("SELECT ed_assaults FROM monthly_trend").fetchall() == [(30,)]
    files_before = sorted(partnership.data_path.rglob("*.parquet"))
    assert lake.expire_releases(partnership, dt.datetime.now(dt.UTC)) > 0
    files_after = sorted(partnership.data_path.rglob("*.parquet"))
    assert len(files_after) < len(files_before), "the superseded release's files were kept"
    with pytest.raises(lake.LakeError), connect_read_only(warehouse, as_of=between):
        pass
    with connect_read_only(warehouse) as con:
        assert con.execute("SELECT ed_assaults FROM monthly_trend").fetchall() == [(30,)]


def test_the_file_backend_has_no_release_history(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _tables(12))
    with pytest.raises(lake.LakeError, match="only the latest release"):
        connect_read_only(warehouse, as_of=dt.datetime.now(dt.UTC))


def test_a_catalogue_string_with_a_password_is_refused(monkeypatch):
    monkeypatch.setenv(lake.BACKEND_ENV, "ducklake")
    monkeypatch.setenv(lake.CATALOG_ENV, "host=127.0.0.1 dbname=hub user=a password=hunter2")
    with pytest.raises(lake.LakeError) as refused:
        lake.configured(Path("/tmp"))
    assert "hunter2" not in str(refused.value) and "PGPASSWORD" in str(refused.value)


def test_partnerships_cannot_read_each_other(postgres, tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse" / "istv.duckdb"
    b = _partnership(postgres, tmp_path, monkeypatch, f"b{next(_made)}")
    publish(warehouse, MONTH, _tables(12))
    a = _partnership(postgres, tmp_path, monkeypatch, f"a{next(_made)}")
    publish(warehouse, MONTH, _tables(30))
    with connect_read_only(warehouse) as con:  # A's analyst sees A's figures only
        assert con.execute("SELECT ed_assaults FROM monthly_trend").fetchall() == [(30,)]
    # A's role, pointed at B's catalogue, is refused by PostgreSQL.
    with pytest.raises(lake.LakeError, match="(?i)permission denied"):
        lake.connect(lake.Lake(a.catalog, b.schema, b.data_path))
    with psycopg.connect(_catalog(postgres, a.schema), password=f"secret-{a.schema}") as con:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute(f"SELECT * FROM {b.schema}.ducklake_table")
    # B's data files, read without B's catalogue, give nothing: they are encrypted.
    files = list(b.data_path.rglob("*.parquet"))
    assert files
    for file in files:
        with pytest.raises(duckdb.Error, match="(?i)encrypt"):
            duckdb.sql(f"SELECT * FROM read_parquet('{file}')").fetchall()
        assert b"The Test Arms" not in file.read_bytes()


def _publisher(env: dict, warehouse: str, month: dt.date, rounds: int, errors) -> None:
    import os

    os.environ.update(env)
    try:
        for i in range(rounds):
            publish(Path(warehouse), month, _tables(12 if i % 2 else 30, month))
    except Exception as exc:
        errors.put(f"publish {month}: {type(exc).__name__}: {exc}")


def _reader(env: dict, warehouse: str, stop, results) -> None:
    import os

    os.environ.update(env)
    reads, errors, states = 0, [], set()
    while not stop.is_set():
        try:
            with connect_read_only(Path(warehouse)) as con:
                rows = con.execute(
                    "SELECT c.month, c.ed_assaults, t.ed_assaults "
                    "FROM hotspot_cells c JOIN monthly_trend t USING (month)"
                ).fetchall()
            states.update(rows)
            reads += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    results.put((reads, errors, states))


def test_months_publish_at_once_while_analysts_read(partnership, tmp_path):
    import os

    warehouse = str(tmp_path / "warehouse" / "istv.duckdb")
    env = {k: os.environ[k] for k in ("PGPASSWORD", lake.BACKEND_ENV, lake.CATALOG_ENV, lake.SCHEMA_ENV, lake.DATA_ENV)}
    publish(Path(warehouse), MONTH, _tables(12))
    context = mp.get_context("spawn")
    stop, results, errors = context.Event(), context.Queue(), context.Queue()
    readers = [context.Process(target=_reader, args=(env, warehouse, stop, results)) for _ in range(2)]
    with readers_running(readers, stop):
        time.sleep(2)
        publishers = [context.Process(target=_publisher, args=(env, warehouse, m, 4, errors)) for m in (MONTH, NEXT)]
        for process in publishers:
            process.start()
        for process in publishers:
            process.join(timeout=300)
        stop.set()
        outcomes = [results.get(timeout=120) for _ in readers]
    assert errors.empty(), errors.get()
    assert all(p.exitcode == 0 for p in publishers)
    reader_errors = [e for _, errs, _ in outcomes for e in errs]
    assert reader_errors == []
    assert sum(reads for reads, _, _ in outcomes) > 4
    # Within a month, the cell and the total always come from the same publish.
    states = set().union(*(s for _, _, s in outcomes))
    assert states <= {(m, v, v) for m in (MONTH, NEXT) for v in (10, 30)}
    with connect_read_only(Path(warehouse)) as con:
        assert con.execute("SELECT month, ed_assaults FROM monthly_trend ORDER BY 1").fetchall() == [
            (MONTH, 10),
            (NEXT, 10),
        ]


def _first_publisher(env: dict, warehouse: str, month: dt.date, start, errors) -> None:
    """Opens the lake for publishing at the same moment as the others (the race is in the
    opening), then publishes its month."""
    import os

    os.environ.update(env)
    try:
        start.wait(timeout=120)
        lake.connect(lake.configured(), read_only=False).close()
        publish(Path(warehouse), month, _tables(12, month))
    except Exception as exc:
        errors.put(f"publish {month}: {type(exc).__name__}: {exc}")


def test_months_run_at_once_on_a_new_lake_all_publish(partnership, tmp_path):
    """The hub's first backfill: every month finds no catalogue and creates it at the same moment;
    PostgreSQL lets one create it, and the others must then use it rather than fail."""
    import os

    warehouse = str(tmp_path / "warehouse" / "istv.duckdb")
    env = {k: os.environ[k] for k in ("PGPASSWORD", lake.BACKEND_ENV, lake.CATALOG_ENV, lake.SCHEMA_ENV, lake.DATA_ENV)}
    months = [dt.date(2026, m, 1) for m in (5, 6, 7, 8)]
    context = mp.get_context("spawn")
    start, errors = context.Barrier(len(months)), context.Queue()
    publishers = [context.Process(target=_first_publisher, args=(env, warehouse, m, start, errors)) for m in months]
    for process in publishers:
        process.start()
    for process in publishers:
        process.join(timeout=300)
    assert errors.empty(), errors.get()
    assert [p.exitcode for p in publishers] == [0] * len(months)
    with connect_read_only(Path(warehouse)) as con:
        assert con.execute("SELECT month FROM monthly_trend ORDER BY 1").fetchall() == [(m,) for m in months]


class _NoRuns:
    def runs_updated_before(self, cutoff):
        return []

    def delete(self, run_id):
        raise AssertionError("no run to delete")


def test_retention_expires_superseded_releases_after_the_reports_period(partnership, istv_home):
    from sharing_agreements.model import load_agreement
    from sharing_agreements.retention import apply_retention, plan_retention

    warehouse = istv_home.warehouse
    publish(warehouse, MONTH, _tables(12))
    publish(warehouse, MONTH, _tables(30))
    agreement = load_agreement()
    today = dt.date.today()
    assert "releases" not in plan_retention(istv_home, agreement.retention, today, _NoRuns()).counts()
    later = today + dt.timedelta(days=agreement.retention.reports + 1)
    plan = plan_retention(istv_home, agreement.retention, later, _NoRuns())
    assert plan.counts()["releases"] == 1
    kept_before = len(lake.releases(partnership))
    outcome = apply_retention(istv_home, plan, _NoRuns(), agreement)
    assert outcome.deleted["releases"] and not outcome.failed["releases"]
    assert len(lake.releases(partnership)) < kept_before
    with connect_read_only(warehouse) as con:  # the published tables stay
        assert con.execute("SELECT ed_assaults FROM monthly_trend").fetchall() == [(30,)]


def test_an_analyst_asks_what_was_published_then(partnership, istv_home):
    from click.testing import CliRunner

    from pipelines.cli import cli

    publish(istv_home.warehouse, MONTH, _tables(12))
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.2)
    publish(istv_home.warehouse, MONTH, _tables(30))
    sql = "SELECT ed_assaults FROM monthly_trend"
    then = CliRunner().invoke(cli, ["query", sql, "--format", "csv", "--as-of", between.isoformat()])
    assert then.exit_code == 0, then.output
    assert then.output.split() == ["ed_assaults", "10"]
    now = CliRunner().invoke(cli, ["query", sql, "--format", "csv"])
    assert now.output.split() == ["ed_assaults", "30"]
    wrong = CliRunner().invoke(cli, ["query", sql, "--as-of", "last March"])
    assert wrong.exit_code != 0 and "is not a date or time" in wrong.output
