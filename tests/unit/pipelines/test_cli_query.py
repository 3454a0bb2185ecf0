"""`istv query` and `istv hotspots` as an analyst reads them: errors in SQL terms, files written in
the format their extension names, wide results shown whole, saved queries of one month, whole
cell ids; and `istv --version`.

The warehouse is the report tests' two months (September and October 2026), published the real
way, copied into each test's working folder."""

from __future__ import annotations

import csv
import io
import shutil
from importlib.metadata import version

import duckdb
import pandas as pd
import pytest

from pipelines.cli import cli
from tests.unit.pipelines import test_cli as cli_tests
from tests.unit.report.test_report import MONTH, PREVIOUS, publish_two_months
from warehouse.queries import saved_queries

runner = cli_tests.runner  # the command-line tests' fixture, under the name pytest looks for


@pytest.fixture(scope="module")
def two_months(tmp_path_factory):
    path = tmp_path_factory.mktemp("two-months") / "istv.duckdb"
    publish_two_months(path)
    return path


@pytest.fixture(scope="module")
def september_only(two_months, tmp_path_factory):
    """The same warehouse without October: what a saved query of September alone must show."""
    path = tmp_path_factory.mktemp("september") / "istv.duckdb"
    shutil.copy(two_months, path)
    with duckdb.connect(str(path)) as con:
        tables = con.execute("SELECT DISTINCT table_name FROM duckdb_columns() WHERE column_name = 'month'").fetchall()
        for (table,) in tables:
            con.execute(f"DELETE FROM {table} WHERE month = ?", [MONTH])
    return path


@pytest.fixture
def published(two_months, istv_home):
    shutil.copy(two_months, istv_home.warehouse)
    return istv_home.warehouse


def _fails_in_sql_terms(result, *named: str) -> None:
    """A refusal an analyst can act on: one or two lines, naming the cause, no Python in sight."""
    assert result.exit_code == 1, result.output
    assert 1 <= len(result.output.strip().splitlines()) <= 2, result.output
    for name in named:
        assert name in result.output
    for internal in ("Traceback", "object at 0x", "Python", " Error:"):
        assert internal not in result.output


def test_an_unknown_table_is_named_with_the_tables_there_are(runner, published):
    # "report" is also a Python name in the command's module: DuckDB must not go looking for it.
    result = runner.invoke(cli, ["query", "SELECT * FROM report"])
    _fails_in_sql_terms(result, 'unknown table "report"', "hotspot_cells", "coverage", "istv query --list")


def test_an_unknown_column_is_named_with_the_columns_of_the_table(runner, published):
    result = runner.invoke(cli, ["query", "SELECT month, nope FROM hour_of_week"])
    _fails_in_sql_terms(result, 'unknown column "nope"', "hour_of_week has month, weekday, hour")


def test_a_syntax_error_gives_duckdbs_own_words(runner, published):
    result = runner.invoke(cli, ["query", "SELEC * FROM coverage"])
    _fails_in_sql_terms(result, 'syntax error at or near "SELEC"')


def test_a_statement_that_would_change_the_warehouse_is_refused(runner, published):
    result = runner.invoke(cli, ["query", "DELETE FROM coverage"])
    _fails_in_sql_terms(result, "DELETE", "read-only")


def test_sql_of_only_a_comment_says_there_is_no_statement(runner, published):
    result = runner.invoke(cli, ["query", "/* the top cells */"])
    _fails_in_sql_terms(result, "no statement")


@pytest.mark.parametrize("extension, read", [(".csv", pd.read_csv), (".parquet", pd.read_parquet)])
def test_out_writes_the_format_its_extension_names(runner, published, tmp_path, extension, read):
    out = tmp_path / f"cells{extension}"
    result = runner.invoke(cli, ["query", "SELECT cell_id, rank FROM hotspot_cells ORDER BY month", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"rows written to {out}" in result.output
    written = read(out)
    assert list(written.columns) == ["cell_id", "rank"] and len(written) > 0


@pytest.mark.parametrize(
    "options, says",
    [
        (["--out", "{tmp}/cells.txt"], ["cells.txt", ".csv", ".parquet"]),
        (["--out", "{tmp}/cells.parquet", "--format", "csv"], ["--format csv", "cells.parquet", "disagree"]),
        (["--out", "{tmp}/cells.csv", "--format", "table"], ["--format table", ".csv"]),
    ],
    ids=["unknown extension", "format and extension disagree", "table to a file"],
)
def test_out_is_refused_before_anything_is_written(runner, published, tmp_path, options, says):
    result = runner.invoke(cli, ["query", "SELECT * FROM coverage", *(o.format(tmp=tmp_path) for o in options)])
    assert result.exit_code == 2
    for words in says:
        assert words in result.output
    assert "written" not in result.output and not list(tmp_path.glob("cells.*"))


def test_a_result_wider_than_the_terminal_shows_each_value_whole(runner, published, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(cli, ["query", "SELECT * FROM coverage ORDER BY month, source"])
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    with duckdb.connect(str(published), read_only=True) as con:
        columns = [d[0] for d in con.execute("SELECT * FROM coverage").description]
        providers = [p for (p,) in con.execute("SELECT provider FROM coverage").fetchall()]
    for name in [*columns, *providers]:
        assert name in result.output
    assert "One block per row" in result.output and "--format csv" in result.output
    narrow = runner.invoke(cli, ["query", "SELECT month, source, provider FROM coverage"])
    assert "month" in narrow.output and "One block per row" not in narrow.output


def _csv(result) -> list[list[str]]:
    assert result.exit_code == 0, result.output
    return list(csv.reader(io.StringIO(result.stdout)))


@pytest.mark.parametrize("name", list(saved_queries()))
def test_a_saved_query_shows_the_month_it_is_given(runner, istv_home, two_months, september_only, name):
    query = ["query", "--saved", name, "--month", f"{PREVIOUS:%Y-%m}", "--format", "csv"]
    shutil.copy(two_months, istv_home.warehouse)
    both = _csv(runner.invoke(cli, query))
    shutil.copy(september_only, istv_home.warehouse)
    alone = _csv(runner.invoke(cli, query))
    assert len(both) > 1 and both == alone  # September's rows, and nothing of October's


@pytest.mark.parametrize("name", list(saved_queries()))
def test_a_saved_query_without_a_month_shows_the_latest_and_says_so(runner, published, name):
    latest = runner.invoke(cli, ["query", "--saved", name, "--format", "csv"])
    assert f"No --month given: showing {MONTH:%Y-%m}, the latest month published" in latest.output
    named = runner.invoke(cli, ["query", "--saved", name, "--month", f"{MONTH:%Y-%m}", "--format", "csv"])
    assert _csv(latest) == _csv(named)


@pytest.mark.parametrize("width", ["80", "200"], ids=["blocks", "table"])
def test_hotspots_show_cell_ids_whole(runner, published, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", width)
    result = runner.invoke(cli, ["hotspots", "--month", f"{MONTH:%Y-%m}"])
    assert result.exit_code == 0, result.output
    cells = result.output.split("Top venues")[0]
    with duckdb.connect(str(published), read_only=True) as con:
        ranked = con.execute("SELECT cell_id FROM hotspot_cells WHERE month = ? AND rank IS NOT NULL", [MONTH])
        ids = [cell for (cell,) in ranked.fetchall()]
    assert len(ids) > 1 and all(cell in cells for cell in ids) and "…" not in cells


def test_version_is_the_installed_one(runner):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output == f"istv {version('istv')}\n"
