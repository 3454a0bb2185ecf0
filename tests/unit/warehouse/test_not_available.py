"""Figures the month's data cannot give are published NULL with the reason, never as 0 or 100%,
and the report says "not available" and why, styled apart from a count withheld by disclosure
control. Police open data (data.police.uk, source police_uk) has the month and a map point only:
no time of day to match ED assaults against, no location description to place a record at a venue."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from anonymise.disclosure import DisclosurePolicy
from anonymise.leaks import LeakScanner
from report.page import render_report
from sharing_agreements.model import DisclosureControl, load_agreement
from tests.conftest import TEST_RECORD_KEYS, with_record_keys
from warehouse import SQL_DIR
from warehouse.publish import connect_read_only, publish
from warehouse.tables import build_tables, column_descriptions, not_available_reasons, table_specs

MONTH = dt.date(2026, 10, 1)
CELL_A, CELL_B = "8919586b4a3ffff", "89195879b4bffff"  # far enough apart never to match
WHEN = pd.Timestamp("2026-10-03 23:00")  # a Saturday
OPEN_DATA_REASON = "the police records this month are data.police.uk open data, which carry no time of day"
# Suppression and rounding: counts of 8 and more are rounded to 5, so the expected figures are exact.
ROUNDING = DisclosurePolicy(method="suppress_and_round")
AGREEMENT = load_agreement().model_copy(update={"id": "test-agreement", "version": 3})


def _rows(
    n: int,
    source: str,
    cell: str,
    *,
    timed: bool = True,
    place: tuple[str | None, str | None, str | None] = ("street", "street:x", "X Street"),
) -> list[dict]:
    status, place_id, name = place
    row = {
        "source": source,
        "month": MONTH,
        "weekday": 6 if timed else None,
        "hour": 23 if timed else None,
        "event_hour": WHEN if timed else None,
        "cell_id": cell,
        "place_status": status,
        "place_id": place_id,
        "place_name": name,
        "method": "fist" if source == "ed" else None,
    }
    return [dict(row) for _ in range(n)]


VENUE = ("venue", "venue:test-1", "The Test Arms")
NO_PLACE = (None, None, None)  # open data: its location description is not shared


def _ed(matched: int = 10, unmatched: int = 20) -> list[dict]:
    """ED assaults at a venue in cell A (where police extract records are) and in cell B (none)."""
    return _rows(matched, "ed", CELL_A, place=VENUE) + _rows(unmatched, "ed", CELL_B, place=VENUE)


def _police_extract(n: int = 10) -> list[dict]:
    return _rows(n, "police", CELL_A, place=VENUE)


def _police_open_data(n: int = 12) -> list[dict]:
    return _rows(n, "police_uk", CELL_A, timed=False, place=NO_PLACE)


def _tables(rows: list[dict], policy: DisclosurePolicy = ROUNDING) -> dict[str, pd.DataFrame]:
    frame = pd.DataFrame(rows).astype({"weekday": "Int64", "hour": "Int64", "event_hour": "datetime64[us]"})
    joint = with_record_keys(frame, salt="not-available")
    summaries = pd.DataFrame(
        [
            {
                "month": MONTH,
                "source": source,
                "provider": "X",
                "rows_received": n,
                "rows_quarantined": 0,
                "rows_out_of_scope": 0,
                "rows_out_of_area": 0,
                "rows_shared": n,
                "rows_located": n,
                "rows_unlocated": 0,
                "rows_private": 0,
                "rows_ambiguous": 0,
            }
            for source, n in joint["source"].value_counts().items()
        ]
    )
    return build_tables(
        joint, summaries, policy, "test-agreement", 3, record_keys=TEST_RECORD_KEYS, public_sources=("police_uk",)
    )


def test_open_data_alone_cannot_give_the_hidden_violence_share():
    hidden = _tables(_ed() + _police_open_data())["hidden_violence"].iloc[0]
    assert pd.isna(hidden.share_without_police_record) and pd.isna(hidden.ed_assaults_without_police_record)
    assert not hidden.ed_assaults_without_police_record_suppressed  # not available is not withheld
    assert hidden.not_available_reason == "police_open_data_has_no_time"
    assert hidden.ed_assaults_compared == 30 and hidden.police_records_compared == 0  # what could be compared stays


def test_open_data_has_no_venue_and_no_hour():
    tables = _tables(_ed() + _police_open_data())
    venue = tables["hotspot_venues"].iloc[0]
    assert venue.ed_assaults == 30 and pd.isna(venue.police_violence) and not venue.police_violence_suppressed
    assert venue.not_available_reason == "police_open_data_has_no_location"
    hours = tables["hour_of_week"]
    assert hours.police_violence.isna().all() and not hours.police_violence_suppressed.any()
    assert set(hours.not_available_reason) == {"police_open_data_has_no_time"}
    assert hours.ed_assaults.sum() == 30  # the ED's hours are there


def test_a_small_figure_not_available_is_not_flagged_withheld():
    """3 unmatched ED assaults would be suppressed if they could be counted; they cannot."""
    hidden = _tables(_ed(matched=0, unmatched=3) + _police_open_data())["hidden_violence"].iloc[0]
    assert hidden.ed_assaults_compared_suppressed  # a real small count, withheld
    assert pd.isna(hidden.ed_assaults_without_police_record) and not hidden.ed_assaults_without_police_record_suppressed


def test_with_the_police_extract_the_share_is_computed():
    """Both police sources: matching uses the extract's timed records, as before open data."""
    tables = _tables(_ed() + _police_extract() + _police_open_data())
    hidden = tables["hidden_violence"].iloc[0]
    assert pd.isna(hidden.not_available_reason)
    assert (hidden.ed_assaults_compared, hidden.ed_assaults_without_police_record, hidden.police_records_compared) == (
        30,
        20,
        10,
    )
    assert hidden.share_without_police_record == round(20 / 30, 3)
    venue = tables["hotspot_venues"].iloc[0]
    assert venue.police_violence == 10 and pd.isna(venue.not_available_reason)
    assert tables["hour_of_week"].police_violence.sum() == 10  # the extract's hours (open data has none)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (_police_extract(), "no_ed_data"),
        (_police_open_data(), "no_ed_data"),
        (_ed(), "no_police_data"),
        (_rows(10, "ed", CELL_A, timed=False) + _police_extract(), "no_ed_place_and_time"),
        (_ed() + _rows(10, "police", CELL_A, timed=False), "police_extract_has_no_place_and_time"),
    ],
    ids=["no-ed", "no-ed-open-data", "no-police", "ed-untimed", "police-untimed"],
)
def test_each_missing_source_is_named(rows, expected):
    hidden = _tables(rows)["hidden_violence"].iloc[0]
    assert pd.isna(hidden.share_without_police_record) and pd.isna(hidden.ed_assaults_without_police_record)
    assert hidden.not_available_reason == expected


@pytest.mark.parametrize(
    ("rows", "missing", "shown"),
    [
        (_ed(), "police_violence", "ed_assaults"),
        (_police_open_data(), "ed_assaults", "police_violence"),
        (_police_extract(), "ed_assaults", "police_violence"),
    ],
    ids=["ed-only", "open-data-only", "extract-only"],
)
def test_a_month_total_of_a_source_that_shared_nothing_is_not_available(rows, missing, shown):
    trend = _tables(rows)["monthly_trend"].iloc[0]
    assert pd.isna(trend[missing]) and not trend[f"{missing}_suppressed"]
    assert trend.not_available_reason == ("no_ed_data" if missing == "ed_assaults" else "no_police_data")
    assert trend[shown] > 0


def test_a_month_of_both_sources_publishes_both_totals():
    trend = _tables(_ed() + _police_open_data())["monthly_trend"].iloc[0]
    assert (trend.ed_assaults, trend.police_violence) == (30, 12) and pd.isna(
        trend.not_available_reason
    )  # open data: exact


def test_every_reason_is_explained():
    """Each code the SQL can give has its sentence, which the column's description carries."""
    codes = {
        code
        for sql in ("not_available.sql", "hotspot_areas.sql")
        for code in re.findall(r"(?:THEN|ELSE) '([a-z_]+)'", (SQL_DIR / sql).read_text())
    }
    assert codes == set(not_available_reasons())
    spec = next(s for s in table_specs() if s.name == "hidden_violence")
    described = column_descriptions(spec)["not_available_reason"]
    assert all(f"{code}: {text}" in described for code, text in not_available_reasons().items())


def test_the_reasons_pass_the_leak_scan():
    """Published text that is not public (a name, a code-list label) is taken for free text."""
    from pipelines.lib.leak_checks import public_text

    scanner = LeakScanner(allowed_text=public_text())
    tables = _tables(_ed() + _police_open_data())
    for name in ("hidden_violence", "hotspot_venues", "hour_of_week"):
        assert scanner.scan_frame(tables[name]) == [], name


# --- published and reported ------------------------------------------------------------------


def _section(html: str, element_id: str) -> str:
    match = re.search(rf'<section id="{element_id}".*?</section>', html, re.DOTALL)
    assert match, element_id
    return match.group(0)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module", params=["cell_key", "suppress_and_round"])
def open_data_month(request, tmp_path_factory):
    """ED and police open data only, published and reported under each method."""
    agreement = AGREEMENT.model_copy(update={"disclosure_control": DisclosureControl(method=request.param)})
    folder = tmp_path_factory.mktemp(request.param)
    warehouse = folder / "istv.duckdb"
    publish(warehouse, MONTH, _tables(_ed() + _police_open_data(), agreement.disclosure_control.policy()))
    html = render_report(warehouse, MONTH, folder / "report.html", agreement=agreement).read_text(encoding="utf-8")
    return warehouse, html


def test_the_warehouse_holds_null_with_the_reason(open_data_month):
    warehouse, _ = open_data_month
    with connect_read_only(warehouse) as con:
        share, without, reason = con.execute(
            "SELECT share_without_police_record, ed_assaults_without_police_record, not_available_reason "
            "FROM hidden_violence WHERE month = DATE '2026-10-01'"
        ).fetchone()
        venue_police = con.execute("SELECT police_violence, not_available_reason FROM hotspot_venues").fetchall()
    assert share is None and without is None and reason == "police_open_data_has_no_time"
    assert venue_police == [(None, "police_open_data_has_no_location")]


def test_the_report_says_not_available_and_why(open_data_month):
    _, html = open_data_month
    hidden = _section(html, "hidden-violence")
    assert 'class="not-available"' in hidden and "Not available for October 2026" in hidden
    assert OPEN_DATA_REASON + ", so no ED assault can be matched with a police record" in hidden
    assert "%" not in hidden and "would not otherwise know" not in hidden and "suppressed" not in hidden
    claims = _text(html.split("<main>")[1].split('<section id="coverage">')[0])  # coverage's located share may be 100%
    assert "100%" not in claims and "no police record nearby" not in claims
    venues = _section(html, "top-venues")
    venue_row = next(r for r in re.findall(r"<tr>.*?</tr>", venues, re.DOTALL) if "The Test Arms" in r)
    cells = re.findall(r'<td class="num">(.*?)</td>', venue_row, re.DOTALL)
    assert cells[2] == '<span class="not-available">not available</span>'  # police violence: not 0, not "—"
    assert (
        "Police violence at venues is not available (not withheld): the police records this month are "
        "data.police.uk open data, which have no location description, so no police record can be placed"
    ) in venues
    hours = _text(_section(html, "hours"))
    assert "No police hour-of-week chart: not available, because " + OPEN_DATA_REASON in hours


def test_the_report_shows_the_share_when_the_extract_is_there(tmp_path):
    agreement = AGREEMENT.model_copy(update={"disclosure_control": DisclosureControl(method="suppress_and_round")})
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _tables(_ed() + _police_extract() + _police_open_data()))
    hidden = _section(
        render_report(warehouse, MONTH, tmp_path / "r.html", agreement=agreement).read_text(), "hidden-violence"
    )
    assert "67%" in hidden and "not-available" not in hidden
    assert "Of 30 ED assaults with a known place and time, 20 had no police record" in _text(hidden)


@pytest.mark.slow
def test_the_pipeline_with_real_open_data_says_not_available(istv_home, tmp_path):
    """The real South Wales open data and a synthetic ED month through the whole Dagster graph."""
    from ingest.landing import place
    from pipelines.runs import run_month
    from pipelines.synthetic import generate_month
    from tests.conftest import DATA

    month = dt.date(2018, 10, 1)
    place(istv_home, "police_uk", month, DATA / "police_uk" / "2018-10-south-wales-street.csv")
    place(istv_home, "ed", month, generate_month("2018-10", tmp_path, seed=3, ed_rows=300)["ed"])
    assert run_month(month, istv_home).success
    with connect_read_only(istv_home.warehouse) as con:
        hidden = con.execute(
            "SELECT ed_assaults_compared, ed_assaults_without_police_record, share_without_police_record, "
            "not_available_reason FROM hidden_violence WHERE month = DATE '2018-10-01'"
        ).fetchall()
        venues = con.execute("SELECT DISTINCT police_violence, not_available_reason FROM hotspot_venues").fetchall()
    [(compared, without, share, reason)] = hidden
    assert compared > 0 and without is None and share is None and reason == "police_open_data_has_no_time"
    assert venues == [(None, "police_open_data_has_no_location")]
    report = _text(istv_home.report_file(month).read_text(encoding="utf-8"))
    assert "Not available for October 2018 (not withheld): " + OPEN_DATA_REASON in report


def test_the_report_of_a_month_without_police_data_says_so_in_the_headline(tmp_path):
    warehouse = tmp_path / "istv.duckdb"
    publish(warehouse, MONTH, _tables(_ed()))
    html = render_report(warehouse, MONTH, tmp_path / "r.html", agreement=AGREEMENT).read_text(encoding="utf-8")
    headline = _section(html, "headline")
    assert "not available" in headline and "no police data was shared for this month" in _text(headline)


def test_cells_of_a_month_without_police_data_show_no_police_count_and_still_rank():
    cells = _tables(_ed())["hotspot_cells"]
    assert cells.police_violence.isna().all() and not cells.police_violence_suppressed.any()
    assert set(cells.not_available_reason) == {"no_police_data"}
    assert (cells.combined == cells.ed_assaults).all() and cells["rank"].notna().all()
    both = _tables(_ed() + _police_open_data())["hotspot_cells"]
    assert both.police_violence.notna().all() and both.not_available_reason.isna().all()
