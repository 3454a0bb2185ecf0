"""mission_progress: the agreement's mission measured month by month from the published
monthly_trend (outcomes/mission.py), its population (outcomes/population.py) and `istv mission`."""

from __future__ import annotations

import datetime as dt
import math
import re

import duckdb
import pytest
from click.testing import CliRunner

from outcomes.mission import (
    COLUMNS,
    INCIDENTS,
    OFF_TRACK_WARNING_MONTHS,
    PER_100K,
    TABLE,
    MissionError,
    mission_rows,
    months_off_track,
    publish_mission_progress,
    status_text,
)
from outcomes.population import PopulationError, population
from sharing_agreements.model import DEFAULT_AGREEMENT, Mission, load_agreement


def months(first: str, last: str) -> list[dt.date]:
    start, end = (dt.date.fromisoformat(f"{m}-01") for m in (first, last))
    found, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        found.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def index(month: dt.date) -> int:
    return month.year * 12 + month.month - 1


BASELINE = months("2018-10", "2019-09")
MID_BASELINE = index(dt.date(2019, 3, 1)) + 0.5  # between 2019-03 and 2019-04


def planted(month: dt.date, level: float, yearly: float, season: float = 0.0) -> float:
    """The planted expected monthly total: a steady change of `yearly` (-0.05: 5% a year down)
    around `level` at the middle of the baseline, times a seasonal swing of `season`."""
    years = (index(month) - MID_BASELINE) / 12
    return level * (1 + yearly) ** years * (1 + season * math.sin(2 * math.pi * (month.month - 1) / 12))


def series(first: str, last: str, level=2000.0, yearly=0.0, season=0.0, missing=None) -> list[tuple]:
    """monthly_trend rows (month, ed, police, reason): 40% ED, 60% police, rounded like counts;
    `missing` maps a month to (ed, police, reason) to publish instead."""
    rows = []
    for month in months(first, last):
        total = planted(month, level, yearly, season)
        ed = round(0.4 * total)
        rows.append((month, ed, round(total) - ed, None))
    missing = missing or {}
    return [(r[0], *missing[r[0]]) if r[0] in missing else r for r in rows]


def write_trend(warehouse, rows) -> None:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "CREATE OR REPLACE TABLE monthly_trend (month DATE, ed_assaults BIGINT, police_violence BIGINT, "
            "not_available_reason VARCHAR, agreement_id VARCHAR, agreement_version INTEGER)"
        )
        con.executemany(
            "INSERT INTO monthly_trend VALUES (?, ?, ?, ?, 'cardiff-violence-prevention', 1)", [list(r) for r in rows]
        )


def agreement_with(target_month="2030-12", reduction_pct=50, **changes):
    agreement = load_agreement(DEFAULT_AGREEMENT)
    mission = Mission(
        goal="Halve violence",
        baseline_from="2018-10",
        baseline_to="2019-09",
        reduction_pct=reduction_pct,
        target_month=target_month,
    )
    return agreement.model_copy(update={"mission": mission, **changes})


@pytest.fixture(autouse=True)
def no_population(tmp_path, monkeypatch):
    """No population file unless a test writes one (whatever is bundled in the checkout)."""
    monkeypatch.setenv("ISTV_POPULATION_FILE", str(tmp_path / "no-population.csv"))


@pytest.fixture
def warehouse(tmp_path):
    return tmp_path / "warehouse" / "istv.duckdb"


def by_month(rows) -> dict[str, dict]:
    return {f"{r['month']:%Y-%m}": r for r in rows}


def test_baseline_mean_of_published_months_and_straight_target_line(warehouse):
    rows = [(m, 100 + i % 3, 200 + i, None) for i, m in enumerate(months("2018-10", "2020-12"))]
    rows[3] = (rows[3][0], None, 203, "no_ed_data")  # 2019-01: no ED data, left out of the baseline
    write_trend(warehouse, rows)
    published = [r[1] + r[2] for r in rows[:12] if r[1] is not None]
    baseline = sum(published) / len(published)

    got = by_month(mission_rows(warehouse, agreement_with(target_month="2020-09")))

    assert got["2019-09"]["baseline_months"] == 11 and got["2019-09"]["baseline"] == pytest.approx(baseline, abs=0.01)
    assert got["2019-09"]["target"] == pytest.approx(baseline, abs=0.01)
    assert got["2020-03"]["target"] == pytest.approx(0.75 * baseline, abs=0.01)
    assert got["2020-09"]["target"] == pytest.approx(0.5 * baseline, abs=0.01)
    assert got["2020-12"]["target"] == pytest.approx(0.5 * baseline, abs=0.01)  # flat after the target month
    assert got["2020-12"]["metric"] == rows[-1][1] + rows[-1][2] and got["2020-12"]["metric_unit"] == INCIDENTS
    # Flat violence against a falling line: off track, by how much in words.
    above = got["2020-12"]["trend"] / got["2020-12"]["target"] - 1
    assert got["2020-12"]["status"] == "off track" and got["2020-12"]["above_target_pct"] == round(above * 100)
    assert status_text(got["2020-12"]) == f"off track: {round(above * 100)}% above the target line"


def test_before_the_baseline_ends_nothing_is_judged(warehouse):
    write_trend(warehouse, series("2018-01", "2019-12"))
    got = by_month(mission_rows(warehouse, agreement_with()))
    for month in ("2018-03", "2018-12", "2019-08"):
        row = got[month]
        assert row["metric"] is not None and row["baseline"] is None and row["target"] is None
        assert row["not_available_reason"] == "baseline_not_over" and row["months_off_track"] is None
        assert (row["status"], row["not_available_reason"]) == ("not available", "baseline_not_over")
        said = status_text(row, agreement_with().mission)
        assert said == "not available: the baseline months are not over yet (the baseline runs to 2019-09)"
    assert got["2018-03"]["trend"] is None  # three months: no trend
    assert got["2019-09"]["status"] == "on track" and got["2019-09"]["not_available_reason"] is None


def test_baseline_months_not_published(warehouse):
    write_trend(warehouse, series("2019-06", "2020-06"))  # only 4 baseline months
    row = by_month(mission_rows(warehouse, agreement_with()))["2020-06"]
    assert row["baseline_months"] == 4 and row["baseline"] is not None
    assert row["not_available_reason"] == "baseline_not_published" and status_text(row).startswith("not available: ")


def test_steady_five_percent_fall_misses_a_fifty_percent_target(warehouse):
    write_trend(warehouse, series("2018-01", "2021-06", yearly=-0.05))
    rows = mission_rows(warehouse, agreement_with(target_month="2021-09"))
    judged = [r for r in rows if r["not_available_reason"] is None]

    last = rows[-1]
    baseline = sum(planted(m, 2000, -0.05) for m in BASELINE) / 12
    level = planted(last["month"], 2000, -0.05)
    target = baseline * (1 - 0.5 * 21 / 24)
    assert last["baseline"] == pytest.approx(baseline, rel=1e-3) and last["target"] == pytest.approx(target, rel=1e-3)
    assert last["trend"] == pytest.approx(level, rel=0.01) and last["trend_low"] < last["trend"] < last["trend_high"]
    percent = int(re.fullmatch(r"off track: (\d+)% above the target line", status_text(last)).group(1))
    assert abs(percent - (level / target - 1) * 100) <= 1.5
    # Off track from a few months after the baseline on, one more month each month.
    streak = [r["months_off_track"] for r in judged]
    first_off = next(i for i, r in enumerate(judged) if r["status"].startswith("off track"))
    assert first_off <= 4 and all(r["status"].startswith("off track") for r in judged[first_off:])
    assert streak[first_off:] == list(range(1, len(judged) - first_off + 1))
    assert months_off_track(rows, last["month"]) == last["months_off_track"] >= 12 >= OFF_TRACK_WARNING_MONTHS
    assert (
        months_off_track([{k: v for k, v in r.items() if k != "months_off_track"} for r in rows], last["month"])
        == (last["months_off_track"])
    )


def test_fast_fall_is_on_track(warehouse):
    write_trend(warehouse, series("2018-01", "2022-12", yearly=-0.30))
    rows = mission_rows(warehouse, agreement_with())
    judged = [r for r in rows if r["not_available_reason"] is None]
    assert len(judged) == 40 and all(r["status"] == "on track" for r in judged)
    assert all(r["months_off_track"] == 0 for r in judged) and months_off_track(rows, rows[-1]["month"]) == 0


def test_the_season_does_not_flip_the_status_once_two_years_are_published(warehouse):
    write_trend(warehouse, series("2018-01", "2023-12", yearly=-0.08, season=0.3))
    rows = mission_rows(warehouse, agreement_with())
    seasonal = [r for r in rows if r["month"] >= dt.date(2019, 12, 1)]  # 24 months published and more
    assert all(r["status"] == "on track" for r in seasonal)
    # ... though the raw month is above the line in the busy months and below it in the quiet ones.
    assert any(r["metric"] > r["target"] for r in seasonal) and any(r["metric"] < r["target"] for r in seasonal)
    for row in seasonal[::7]:
        assert row["trend"] == pytest.approx(planted(row["month"], 2000, -0.08), rel=0.03)


def test_a_month_a_source_shared_nothing_is_not_a_fall(warehouse):
    gaps = {
        dt.date(2020, 3, 1): (None, 1200, "no_ed_data"),
        dt.date(2020, 4, 1): (800, None, "no_police_data"),
        dt.date(2020, 5, 1): (None, 1200, None),  # withheld
    }
    write_trend(warehouse, series("2018-01", "2020-08", missing=gaps))
    got = by_month(mission_rows(warehouse, agreement_with(target_month="2020-09")))

    for month, reason in (("2020-03", "no_ed_data"), ("2020-04", "no_police_data"), ("2020-05", "withheld")):
        row = got[month]
        assert row["metric"] is None and row["per_100k"] is None and row["trend"] is None
        assert row["not_available_reason"] == reason and status_text(row).startswith("not available: ")
        assert row["months_off_track"] is None and "0" not in status_text(row)
    assert "no emergency department (ED) data" in status_text(got["2020-03"])
    # Flat violence against a line falling 50% in a year: off track before and after the gaps,
    # the streak carried across them, and the trend not dragged down by the missing source.
    assert got["2020-02"]["months_off_track"] + 1 == got["2020-06"]["months_off_track"]
    assert got["2020-06"]["trend"] == pytest.approx(2000, rel=0.01)
    assert months_off_track(list(got.values()), dt.date(2020, 3, 1)) == 0


def test_without_population_the_metric_is_in_incidents(warehouse):
    write_trend(warehouse, series("2018-01", "2020-06"))
    rows = mission_rows(warehouse, agreement_with())
    assert {r["metric_unit"] for r in rows} == {INCIDENTS} and all(r["per_100k"] is None for r in rows)
    assert rows[-1]["metric"] == sum(series("2020-06", "2020-06")[0][1:3])


def test_with_population_the_metric_is_per_100000_residents(warehouse, tmp_path):
    # Figures made up for the test, not ONS estimates.
    residents = {2018: 400_000, 2019: 410_000, 2020: 420_000}
    file = tmp_path / "population.csv"
    file.write_text(
        "area_code,year,population,source\n"
        + "".join(f"W06000015,{y},{p},test figures\n" for y, p in residents.items())
        + "W06000001,2021,70000,test figures\n"
    )
    trend = series("2018-01", "2021-03")
    write_trend(warehouse, trend)
    rows = by_month(mission_rows(warehouse, agreement_with(), population_file=file))

    month, ed, police, _ = trend[index(dt.date(2020, 6, 1)) - index(dt.date(2018, 1, 1))]
    row = rows["2020-06"]
    assert row["metric_unit"] == PER_100K
    assert row["per_100k"] == row["metric"] == pytest.approx((ed + police) / 420_000 * 1e5, abs=0.01)
    rates = [(r[1] + r[2]) / residents[r[0].year] * 1e5 for r in trend if r[0] in BASELINE]
    assert row["baseline"] == pytest.approx(sum(rates) / 12, abs=0.01)
    assert row["trend"] == pytest.approx(row["baseline"], rel=0.03)
    # No estimate for Cardiff in 2021: those months are in incidents, per_100k NULL.
    assert rows["2021-02"]["metric_unit"] == INCIDENTS and rows["2021-02"]["per_100k"] is None
    assert population(["W06000015"], 2021, file) is None and population(["W06000015"], 2019, file) == 410_000
    assert population(["W06000015", "W06000001"], 2021, file) is None


def test_a_malformed_population_file_is_refused(tmp_path):
    file = tmp_path / "population.csv"
    file.write_text("area_code,year,residents\nW06000015,2019,410000\n")
    with pytest.raises(PopulationError, match="no column population"):
        population(["W06000015"], 2019, file)


def test_publish_refuses_without_a_mission_or_permission(warehouse):
    write_trend(warehouse, series("2018-01", "2020-06"))
    with pytest.raises(MissionError, match="declares no mission"):
        publish_mission_progress(warehouse, agreement_with().model_copy(update={"mission": None}), None)
    tables = [t for t in agreement_with().published_tables if t != TABLE]
    with pytest.raises(MissionError, match="does not permit the table mission_progress"):
        publish_mission_progress(warehouse, agreement_with(published_tables=tables), None)
    with pytest.raises(MissionError, match="no row for 2024-01"):
        publish_mission_progress(warehouse, agreement_with(), dt.date(2024, 1, 1))


def test_publish_keeps_each_month_and_replaces_it_on_its_own(warehouse):
    write_trend(warehouse, series("2018-01", "2020-06", yearly=-0.05))
    agreement = agreement_with(target_month="2020-12")
    (first,) = publish_mission_progress(warehouse, agreement, dt.date(2020, 3, 1))
    publish_mission_progress(warehouse, agreement, None)
    publish_mission_progress(warehouse, agreement, dt.date(2020, 3, 1))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        result = con.execute(f"SELECT * FROM {TABLE} ORDER BY month")
        names = [d[0] for d in result.description]
        published = [dict(zip(names, r)) for r in result.fetchall()]
        types = dict(
            con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?", [TABLE]).fetchall()
        )
    assert names == list(COLUMNS) and [f"{r['month']:%Y-%m}" for r in published] == ["2020-03", "2020-06"]
    assert types["months_off_track"] == "INTEGER" and types["metric"] == "DOUBLE"
    assert published[0] == first
    assert published[1]["agreement_id"] == agreement.id and published[1]["months_off_track"] >= 1


def test_istv_mission_publishes_and_says_where_the_mission_stands(istv_home, monkeypatch):
    from rich.console import Console

    from pipelines.commands import mission as command
    from sharing_agreements.auditing import reader

    monkeypatch.delenv("ISTV_AGREEMENT", raising=False)
    monkeypatch.setattr(command, "console", Console(width=400, soft_wrap=True))
    write_trend(istv_home.warehouse, series("2018-01", "2021-06", yearly=-0.05))
    runner = CliRunner()

    result = runner.invoke(command.mission, ["--month", "2021-03"])
    assert result.exit_code == 0, result.output
    assert "2021-03: on track." in result.output and "incidents" in result.output
    assert "Published to" in result.output and "mission_progress" in result.output
    result = runner.invoke(command.mission, [])
    assert result.exit_code == 0 and "2021-06:" in result.output

    with duckdb.connect(str(istv_home.warehouse), read_only=True) as con:
        assert [
            r[0] for r in con.execute(f"SELECT strftime(month, '%Y-%m') FROM {TABLE} ORDER BY month").fetchall()
        ] == [
            "2021-03",
            "2021-06",
        ]
    entries = [e for e in reader(istv_home).entries() if e.kind == "mission_progress"]
    assert [e.details["month"] for e in entries] == ["2021-03", "2021-06"]
    assert entries[0].details["status"] == "on track"

    result = runner.invoke(command.mission, ["--month", "2031-01"])
    assert result.exit_code == 1 and "no row for 2031-01" in result.output
    assert runner.invoke(command.mission, ["--month", "2031-1"]).exit_code == 2


def test_by_default_the_metric_reconciles_with_the_published_totals_and_the_bundled_censuses(warehouse, monkeypatch):
    """With no file named, the bundled Census 2011 and 2021 counts (ONS) are the denominator:
    Cardiff 346,090 and 361,300, straight-line between them, the 2021 count after it."""
    monkeypatch.delenv("ISTV_POPULATION_FILE")
    assert population(["W06000015"], 2011) == 346_090 and population(["W06000015"], 2021) == 361_300
    assert population(["W06000015"], 2016) == round(346_090 + (361_300 - 346_090) / 2)
    assert population(["W06000015"], 2026) == 361_300 and population(["X99999999"], 2019) is None
    trend = series("2018-01", "2021-03")
    write_trend(warehouse, trend)
    rows = by_month(mission_rows(warehouse, agreement_with()))
    for month, ed, police, _ in trend:
        row = rows[f"{month:%Y-%m}"]
        residents = population(["W06000015"], month.year)
        assert row["metric_unit"] == PER_100K
        assert row["per_100k"] == row["metric"] == pytest.approx((ed + police) / residents * 1e5, abs=0.01)
