"""The hub for real: several months run at once through Dagster on PostgreSQL, published into a
DuckLake whose catalogue is in PostgreSQL, while an analyst's process keeps reading; every table
equals what the embedded backend publishes from the same deliveries under the same keys.

What a month publishes from other months is compared apart: run at once by hand (`istv run` side
by side), a month's rolling windows (hotspot_areas over 3 and 12 months) read the months joined by
then and its mission_progress the months published by then, while a Dagster backfill orders them
by the partition dependency (tests/unit/pipelines/test_definitions.py). Everything a month
publishes from its own deliveries, its one-month areas included, must be equal."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.postgres_server import running_postgres
from tests.conftest import readers_running

pytestmark = pytest.mark.slow

ISTV = str(Path(sys.executable).with_name("istv"))
MONTHS = ["2026-05", "2026-06", "2026-07"]
PARTNERSHIP, PASSWORD = "cardiff", "hub-pw-5c1e0a"


def _istv(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([ISTV, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _done(process: subprocess.Popen) -> str:
    output = process.communicate(timeout=900)[0]
    assert process.returncode == 0, output
    return output


def _tables(env: dict) -> dict[str, list[tuple]]:
    """Every published table's rows, sorted, read as an analyst would (the backend `env` names)."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from ingest.home import IstvHome\n"
        "from warehouse.publish import connect_read_only\n"
        "with connect_read_only(IstvHome.from_env().warehouse) as con:\n"
        "    sql = 'SELECT table_name FROM duckdb_tables() WHERE NOT internal'\n"
        "    names = [r[0] for r in con.execute(sql).fetchall()]\n"
        "    out = {n: sorted(map(repr, con.execute(f'SELECT * FROM \"{n}\"').fetchall())) for n in names}\n"
        "    monthly = con.execute('SELECT * FROM hotspot_areas WHERE window_months = 1').fetchall()\n"
        "    out['hotspot_areas, one month'] = sorted(map(repr, monthly))\n"
        "json.dump(out, sys.stdout)\n"
    )
    import json

    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _reader(env: dict, stop, results) -> None:
    os.environ.update(env)
    from ingest.home import IstvHome
    from warehouse.publish import connect_read_only

    warehouse = IstvHome.from_env().warehouse
    reads, errors = 0, []
    while not stop.is_set():
        try:
            with connect_read_only(warehouse) as con:
                con.execute("SELECT month, count(*) FROM hotspot_cells GROUP BY ALL").fetchall()
            reads += 1
        except FileNotFoundError:  # nothing published yet
            time.sleep(0.2)
            continue
        except Exception as exc:
            if "hotspot_cells" in str(exc) and reads == 0:  # the first publish under way
                time.sleep(0.2)
                continue
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.05)
    results.put((reads, errors))


@pytest.fixture(scope="module")
def postgres():
    with running_postgres() as server:
        server.execute(f"CREATE ROLE {PARTNERSHIP} LOGIN PASSWORD '{PASSWORD}'")
        server.execute(f"CREATE DATABASE dagster OWNER {PARTNERSHIP}")
        server.execute(f"CREATE DATABASE hub OWNER {PARTNERSHIP}")
        server.execute(f"CREATE SCHEMA {PARTNERSHIP} AUTHORIZATION {PARTNERSHIP}", "hub")
        yield server


def _land(env: dict, extracts: Path) -> None:
    for month in MONTHS:
        for source in ("ed", "police"):
            file = next(extracts.glob(f"{month}/{source}_{month}*.csv"))
            _done(_istv(env, "ingest", str(file), "--source", source, "--month", month))


def test_a_backfill_on_postgres_and_ducklake_equals_the_embedded_warehouse(postgres, istv_home, tmp_path):
    from pipelines.synthetic import generate_month

    extracts = tmp_path / "extracts"
    for seed, month in enumerate(MONTHS, start=11):
        generate_month(month, extracts / month, seed=seed, ed_rows=60)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ISTV_", "DAGSTER_HOME"))}
    base |= {"ISTV_EXECUTOR": "in_process"}
    # The embedded backend, one month after another, in a home of its own with the same keys.
    embedded = tmp_path / "embedded"
    embedded.mkdir()
    shutil.copytree(istv_home.keys, embedded / "keys")
    plain = base | {"ISTV_HOME": str(embedded)}
    _land(plain, extracts)
    for month in MONTHS:
        _done(_istv(plain, "run", "--month", month))
    # The hub: Dagster on PostgreSQL, the warehouse in DuckLake, all months at once.
    hub = base | {
        "ISTV_HOME": str(istv_home.root),
        "ISTV_DAGSTER_POSTGRES_URL": f"postgresql://{PARTNERSHIP}@{postgres.host}:{postgres.port}/dagster",
        "PGPASSWORD": PASSWORD,
        "ISTV_WAREHOUSE": "ducklake",
        "ISTV_LAKE_CATALOG": f"host={postgres.host} port={postgres.port} dbname=hub user={PARTNERSHIP}",
        "ISTV_LAKE_SCHEMA": PARTNERSHIP,
        "ISTV_LAKE_DATA": str(tmp_path / "lake"),
    }
    _land(hub, extracts)
    context = mp.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    reader = context.Process(target=_reader, args=(hub, stop, results))
    with readers_running([reader], stop):
        runs = [_istv(hub, "run", "--month", month) for month in MONTHS]
        outputs = [_done(run) for run in runs]
        stop.set()
        reads, errors = results.get(timeout=120)
    for month, output in zip(MONTHS, outputs, strict=True):
        assert f"Published {month}" in output and PASSWORD not in output
    assert errors == [] and reads > 0
    assert not (istv_home.warehouse).exists(), "the hub wrote the embedded file"
    assert not list((istv_home.root / "dagster").rglob("*.db")), "Dagster kept SQLite storage"

    in_hub, in_file = _tables(hub), _tables(plain)
    assert set(in_hub) == set(in_file)
    assert in_file["hotspot_areas, one month"] and in_file["hotspot_cells"]
    for name in set(in_file) - {"hotspot_areas", "mission_progress"}:
        assert in_hub[name] == in_file[name], name
