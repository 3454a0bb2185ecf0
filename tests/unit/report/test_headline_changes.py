"""The headline cards' change from last month and from the same month a year before, and the
trend of a new warehouse: a change is worked out from published figures only, and is "not
available", with the reason, whenever the earlier figure was not published or was withheld (never
a change from 0, never 100%); a first month says so instead of drawing an empty year."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from report.counts import Count
from report.data import MonthData
from report.page import build_context, render_report
from report.sections import change, headline
from tests.unit.report import test_report
from tests.unit.report.test_report import MONTH, SUPPRESSING, _element

warehouse = test_report.warehouse  # the module-scoped two-month warehouse (September, October 2026)


@pytest.mark.parametrize(
    ("this", "before", "text", "direction"),
    [
        (Count(110), Count(100), "+10 (+10%)", "up"),
        (Count(90), Count(100), "−10 (−10%)", "down"),
        (Count(103), Count(100), "+3 (+3.0%)", "up"),
        (Count(1250), Count(1000), "+250 (+25%)", "up"),
        (Count(100), Count(100), "no change", "same"),
        (Count(12), Count(0), "+12 (from none)", "up"),  # a published zero: no percentage
    ],
)
def test_a_change_between_published_figures(this, before, text, direction):
    got = change(this, before, "September 2026")
    assert (got.text, got.direction, got.reason) == (text, direction, "")
    assert got.against == "September 2026"


@pytest.mark.parametrize(
    ("this", "before", "reason"),
    [
        (Count(50), None, "nothing was published for that month"),
        (Count(50), Count(None), "nothing was published for that month"),
        (Count(50), Count(None, suppressed=True), "that month's figure is suppressed"),
        (Count(None, suppressed=True), Count(40), "this month's figure is suppressed"),
        (Count(None, not_available="no police data was shared"), Count(40), "this month's figure is not available"),
        (
            Count(50),
            Count(None, not_available="no police data was shared"),
            "that month's figure is not available: no police data was shared",
        ),
    ],
)
def test_a_change_is_not_available_unless_both_figures_are_published(this, before, reason):
    got = change(this, before, "October 2025")
    assert (got.text, got.direction, got.reason) == ("", "", reason)


def _month(trend: list[dict]) -> MonthData:
    return MonthData(MONTH, {"monthly_trend"}, [], [], None, None, None, None, None, trend, "monthly_trend", [])


def test_the_headline_compares_with_last_month_and_the_same_month_last_year():
    flags = {"ed_assaults_suppressed": False, "police_violence_suppressed": False}
    trend = [
        {"month": dt.date(2025, 10, 1), "ed_assaults": 400, "police_violence": None, **flags},
        {"month": dt.date(2026, 9, 1), "ed_assaults": None, "police_violence": 250, **flags},
        {"month": MONTH, "ed_assaults": 440, "police_violence": 200, **flags},
    ]
    trend[0]["police_violence_suppressed"] = True
    trend[1]["ed_assaults_suppressed"] = True
    h = headline(_month(trend))
    last_month, last_year = h["ed_changes"]
    assert (last_month.against, last_month.reason) == ("September 2026", "that month's figure is suppressed")
    assert (last_year.against, last_year.text) == ("October 2025", "+40 (+10%)")
    last_month, last_year = h["police_changes"]
    assert last_month.text == "−50 (−20%)" and last_year.reason == "that month's figure is suppressed"


def test_the_report_shows_each_change_or_why_not(warehouse, tmp_path):
    html = render_report(warehouse, MONTH, tmp_path / "r.html", agreement=SUPPRESSING).read_text(encoding="utf-8")
    ed = re.sub(r"\s+", " ", _element(html, "div", "headline-ed"))
    police = re.sub(r"\s+", " ", _element(html, "div", "headline-police"))
    # Published (rounded to 5): ED 10 in September, 35 in October; police 20, then 30.
    assert "<strong>+25 (+250%)</strong> from September 2026" in ed
    assert "<strong>+10 (+50%)</strong> from September 2026" in police
    for card in (ed, police):
        assert 'From October 2025: <span class="not-available">not available</span>, nothing was published' in card
    assert "100%" not in ed + police


def test_a_first_month_says_so_instead_of_drawing_an_empty_year(tmp_path):
    from tests.unit.report.test_report import publish_two_months

    path = tmp_path / "istv.duckdb"
    publish_two_months(path)
    html = render_report(path, MONTH, tmp_path / "r.html", agreement=SUPPRESSING).read_text(encoding="utf-8")
    assert "Trend: the 2 months so far" in html and '<svg id="trend"' in html
    first = render_report(path, dt.date(2026, 9, 1), tmp_path / "first.html", agreement=SUPPRESSING)
    section = _element(first.read_text(encoding="utf-8"), "section", "trend-section")
    assert "Trend: first month" in section and "<svg" not in section
    assert "September 2026 is the first month published" in section


def test_a_year_of_months_draws_twelve(warehouse):
    flags = {"ed_assaults_suppressed": False, "police_violence_suppressed": False}
    months = [dt.date(2025, m, 1) for m in range(9, 13)] + [dt.date(2026, m, 1) for m in range(1, 11)]
    context = build_context(
        _month([{"month": m, "ed_assaults": 10, "police_violence": 5, **flags} for m in months]), places=[]
    )
    assert context["trend_months"] == 12 and len(context["trend"].x_ticks) == 12
