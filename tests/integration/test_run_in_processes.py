"""`istv run --processes N` runs each step in a fresh process (what keeps a national month's
memory per step) and publishes exactly what a run in one process publishes."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.runs import run_month
from pipelines.synthetic import generate_month
from warehouse.tables import published_table_names

pytestmark = pytest.mark.slow
MONTH = dt.date(2026, 9, 1)


def _tables(home) -> dict[str, list[tuple]]:
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in published_table_names()}


def test_separate_processes_publish_what_one_process_publishes(istv_home, tmp_path):
    paths = generate_month(f"{MONTH:%Y-%m}", tmp_path / "extracts", seed=5, ed_rows=300)
    runner = CliRunner()
    for source in ("ed", "police"):
        landed = runner.invoke(cli, ["ingest", str(paths[source]), "--source", source, "--month", f"{MONTH:%Y-%m}"])
        assert landed.exit_code == 0, landed.output
    assert run_month(MONTH, istv_home).success
    in_one = _tables(istv_home)
    done = runner.invoke(cli, ["run", "--month", f"{MONTH:%Y-%m}", "--processes", "2"])
    assert done.exit_code == 0, done.output
    assert "Published 2026-09" in done.output
    assert _tables(istv_home) == in_one
    assert sum(len(rows) for rows in in_one.values()) > 100
