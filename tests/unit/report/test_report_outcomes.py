"""The monthly report's mission, interventions and what-works sections: drawn from the published
evaluation tables only, in plain words, never a count, and honest when a table is absent."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from report.data import MonthData
from report.page import render_html
from sharing_agreements.model import load_agreement
from tests.unit.report.test_report import MONTH

MISSION = load_agreement().mission
PUBLISHED = {"agreement_id": "cardiff-violence-prevention", "agreement_version": 1}


def _month(**evaluations) -> MonthData:
    data = MonthData(MONTH, {"monthly_trend"}, [], [], None, None, None, None, None, [], "monthly_trend", [])
    return dataclasses.replace(data, **evaluations)


def _section(html: str, section: str) -> str:
    found = re.search(rf'<section id="{section}">(.*?)</section>', html, re.S)
    assert found, section
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found[1]))


def _progress(month: dt.date, metric: float, target: float, trend: float, status: str, off: int, **more) -> dict:
    return {
        "month": month,
        "metric_unit": "incidents",
        "metric": metric,
        "per_100k": None,
        "baseline": 1700.0,
        "baseline_months": 12,
        "target": target,
        "trend": trend,
        "trend_low": trend - 40,
        "trend_high": trend + 40,
        "status": status,
        "months_off_track": off,
        "not_available_reason": None,
        "above_target_pct": None,
        **PUBLISHED,
    } | more


def test_the_mission_section_says_where_the_mission_stands_and_draws_the_band():
    rows = [
        _progress(dt.date(2026, 8, 1), 1500, 1300, 1480, "off track", 1, above_target_pct=14),
        _progress(dt.date(2026, 9, 1), 1490, 1290, 1470, "off track", 2, above_target_pct=14),
        _progress(MONTH, 1460, 1280, 1450, "off track", 3, above_target_pct=13),
    ]
    html = render_html(_month(mission=rows), places=[], mission=MISSION)
    text = _section(html, "mission")
    assert "Halve violence" in text and "down by 50%" in text
    assert "the partnership was off track: 13% above the target line" in text
    assert "off track for 3 months" in text
    assert html.count('id="mission-chart"') == 1 and "<polygon" in html


def test_a_month_that_cannot_be_judged_says_why_not_that_it_is_on_track():
    row = _progress(MONTH, 3513, 1163, 1450, "not available", 0, not_available_reason="baseline_not_over")
    text = _section(render_html(_month(mission=[row]), places=[], mission=MISSION), "mission")
    assert "could not be judged" in text and "the baseline months are not over yet" in text
    assert "on track" not in text.replace("off track", "")


def test_without_evaluation_tables_the_sections_say_so():
    html = render_html(_month(), places=[], mission=MISSION)
    assert "No progress against a mission is published" in _section(html, "mission")
    assert "No intervention was evaluated" in _section(html, "interventions")
    assert "were not searched" in _section(html, "what-works")


def test_effects_and_deviants_are_shown_in_plain_words_with_their_intervals():
    effect = {
        "intervention_id": "glass",
        "kind": "toughened_glass",
        "months_before": 12,
        "months_after": 6,
        "comparison_cells": 30,
        "effect_pct": -30,
        "ci_low_pct": -45,
        "ci_high_pct": -10,
        "verdict": "fell by about 30%",
        "displacement_pct": None,
        "displacement_verdict": "not available: too few incidents to publish",
    }
    deviant = {
        "cell_id": "89195879b5bffff",
        "months_before": 12,
        "months_after": 6,
        "comparison_cells": 30,
        "change_pct": -40,
        "ci_low_pct": -60,
        "ci_high_pct": -15,
        "verdict": "fell by about 40% more than comparable places",
    }
    html = render_html(_month(effects=[effect], deviants=[deviant]), mission=MISSION)
    effects = _section(html, "interventions")
    assert "fell by about 30% (-30%, 95% interval -45% to -10%)" in effects
    assert "not available: too few incidents to publish" in effects and "toughened glass" in effects
    works = _section(html, "what-works")
    assert "89195879b5bffff" in works and "fell by about 40% more than comparable places" in works


def test_an_empty_deviant_search_is_not_called_a_fall():
    text = _section(render_html(_month(deviants=[]), places=[], mission=MISSION), "what-works")
    assert "No place where nothing is registered was found to fall" in text and "twelve months" in text
