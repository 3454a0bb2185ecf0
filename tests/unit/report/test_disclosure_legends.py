"""Every sentence a reader sees about disclosure control comes from the policy of the agreement
the figures were published under: thresholds and rounding bases are the agreement's, never a copy
of the defaults; under the cell-key method nothing is called suppressed; and rows published under
another agreement are flagged rather than described by rules that may not be theirs."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from anonymise.disclosure import DisclosurePolicy, disclosure_legend
from report.colours import legend_values
from report.data import MonthData
from report.disclosure import Disclosure, disclosure_for
from report.page import render_html, render_report
from sharing_agreements.model import DisclosureControl, load_agreement
from tests.conftest import without_cell_minimum

MONTH = dt.date(2026, 10, 1)
CELLS = ("8919586b4a3ffff", "89195879b4bffff", "8919586b4bbffff")


@pytest.fixture(scope="module")
def in_force():
    return load_agreement()


def _suppressing(agreement, threshold=10, base=10):
    return agreement.model_copy(
        update={
            "disclosure_control": DisclosureControl(
                method="suppress_and_round", suppression_threshold=threshold, rounding_base=base
            )
        }
    )


def _month(agreement, withheld: bool) -> MonthData:
    """A month of published rows, as either method leaves them: with `withheld`, some counts are
    NULL and flagged (suppression); without, every count is published (cell key)."""

    def counts(**columns):
        row = {}
        for name, (value, hidden) in columns.items():
            hidden = hidden and withheld
            row[name] = None if hidden else value
            row[f"{name}_suppressed"] = hidden
        return row

    cells = [
        {
            "cell_id": CELLS[0],
            "rank": 1,
            "gi_star_z": 2.5,
            **counts(ed_assaults=(30, False), police_violence=(20, False), combined=(50, False)),
        },
        {
            "cell_id": CELLS[1],
            "rank": 2,
            "gi_star_z": 0.4,
            **counts(ed_assaults=(20, False), police_violence=(3, True), combined=(20, False)),
        },
        {
            "cell_id": CELLS[2],
            "rank": None if withheld else 3,
            **counts(ed_assaults=(3, True), police_violence=(0, False), combined=(3, True)),
        },
    ]
    hours = [
        {
            "weekday": d,
            "hour": h,
            **counts(
                ed_assaults=(20 if (d, h) == (6, 23) else 2 if (d, h) == (5, 1) else 0, (d, h) == (5, 1)),
                police_violence=(0, False),
            ),
        }
        for d in range(1, 8)
        for h in range(24)
    ]
    venues = [
        {
            "venue_id": "venue:1",
            "venue_name": "The Test Arms",
            "cell_id": CELLS[0],
            "rank": 1,
            **counts(ed_assaults=(30, False), police_violence=(10, False)),
        },
        {
            "venue_id": "venue:2",
            "venue_name": "Quiet Inn",
            "cell_id": CELLS[2],
            "rank": None if withheld else 2,
            **counts(ed_assaults=(3, True), police_violence=(0, False)),
        },
    ]
    methods = [
        {"method": "fist", **counts(ed_assaults=(40, False))},
        {"method": "knife", **counts(ed_assaults=(3, True))},
    ]
    coverage = [
        {
            "source": "ed",
            "provider": "7A4BV",
            **counts(
                rows_received=(60, False), rows_quarantined=(2, True), rows_shared=(50, False), rows_located=(50, False)
            ),
        }
    ]
    hidden = [
        {
            "match_rule": "within 100 m and 2 hours",
            "share_without_police_record": 0.6,
            **counts(ed_assaults_compared=(50, False), ed_assaults_without_police_record=(30, False)),
        }
    ]
    trend = [{"month": MONTH, **counts(ed_assaults=(50, False), police_violence=(20, False))}]
    return MonthData(
        month=MONTH,
        tables={
            "hotspot_cells",
            "hotspot_venues",
            "hour_of_week",
            "assault_methods",
            "coverage",
            "hidden_violence",
            "monthly_trend",
        },
        cells=cells,
        venues=venues,
        previous_venues=None,
        hours=hours,
        methods=methods,
        coverage=coverage,
        hidden=hidden,
        trend=trend,
        trend_source="monthly_trend",
        agreements=[(agreement.id, agreement.version)],
    )


def _text(html: str) -> str:
    """What a reader sees and what the markup says, without the inline style sheet (whose class
    names include `.suppressed` whatever the month holds)."""
    return re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)


def _section(html: str, element_id: str) -> str:
    match = re.search(rf'<section id="{element_id}".*?</section>', html, re.DOTALL)
    assert match, element_id
    return match.group(0)


def test_a_report_under_threshold_10_and_base_10_says_10_never_7(in_force):
    agreement = _suppressing(in_force)
    data = _month(agreement, withheld=True)
    html = _text(render_html(data, places=[], disclosure=disclosure_for(data.agreements, agreement)))
    headline, how = _section(html, "headline"), _section(html, "how-to-read")
    assert "rounded to the nearest 10" in headline and "suppressed counts (1 to 10) are excluded" in headline
    assert "rounded to the nearest 10" in how and "a count of 1 to 10 is never shown" in how
    assert "suppressed (1–10)" in re.search(r'<svg[^>]*id="hotspot-map".*?</svg>', html, re.DOTALL).group(0)
    assert "• suppressed (1–10)" in html
    for stale in ("1 to 7", "(1–7)", "1–7", "nearest 5"):
        assert stale not in html, stale
    # Withheld counts are still shown as withheld, never as zero.
    assert '<span class="suppressed">suppressed</span>' in html


def test_a_report_under_the_cell_key_method_without_a_cell_minimum_never_says_suppressed(in_force):
    in_force = without_cell_minimum(in_force)
    assert in_force.disclosure_control.method == "cell_key"
    data = _month(in_force, withheld=False)
    disclosure = disclosure_for(data.agreements, in_force)
    html = _text(render_html(data, places=[], disclosure=disclosure))
    assert "suppress" not in html.lower()
    assert "rounded" not in html.lower()
    legend = disclosure_legend(in_force.disclosure_control.policy(), in_force.public_sources())
    assert legend == in_force.disclosure_control.policy().legend()  # police_uk is declared public
    assert legend in _section(html, "how-to-read") and legend in _section(html, "headline")
    assert "perturbed" in _section(html, "headline")
    assert 'id="disclosure-warning"' not in html


def test_a_report_under_the_agreements_cell_minimum_says_what_is_withheld_and_never_shows_it_as_zero(in_force):
    minimum = in_force.disclosure_control.cell_key.cell_minimum
    assert in_force.disclosure_control.method == "cell_key" and minimum == 5
    data = _month(in_force, withheld=True)
    html = _text(render_html(data, places=[], disclosure=disclosure_for(data.agreements, in_force)))
    how = _section(html, "how-to-read")
    assert f"count that would show below {minimum}" in how and "Nothing is withheld" not in how
    assert f"suppressed (would show below {minimum})" in re.search(
        r'<svg[^>]*id="hotspot-map".*?</svg>', html, re.DOTALL
    ).group(0)
    assert '<span class="suppressed">suppressed</span>' in html
    assert "1 of them too small this month to show every count" in _section(html, "headline")
    assert "rounded" not in html.lower() and "1 to 7" not in html


def test_cell_key_parameters_come_from_the_agreement(in_force):
    wide = in_force.model_copy(
        update={"disclosure_control": DisclosureControl(cell_key={"max_deviation": 6, "variance": 5.0})}
    )
    data = _month(wide, withheld=False)
    html = _text(render_html(data, places=[], disclosure=disclosure_for(data.agreements, wide)))
    assert "at most 6 (variance 5)" in html and "at most 4" not in html


def test_rows_published_under_another_agreement_are_flagged_not_described(in_force):
    data = _month(in_force, withheld=True)
    data.agreements = [("another-agreement", 3)]
    disclosure = disclosure_for(data.agreements, in_force, flagged_withheld=True)
    assert disclosure.policy is None and "another-agreement v3" in disclosure.warning
    html = _text(render_html(data, places=[], disclosure=disclosure))
    warning = re.search(r'<p class="warning" id="disclosure-warning">.*?</p>', html, re.DOTALL).group(0)
    assert "another-agreement v3" in warning and in_force.label in warning
    # No rule is described that the rows may not have been published under...
    assert in_force.disclosure_control.policy().legend() not in html
    assert not re.search(r"1 to \d|1–\d|nearest \d", html)
    # ...but what the rows themselves flag as withheld is still shown as withheld.
    assert '<span class="suppressed">suppressed</span>' in html


def test_the_same_agreement_in_a_newer_version_is_a_mismatch_too(in_force):
    newer = in_force.model_copy(update={"version": in_force.version + 1})
    disclosure = disclosure_for([(in_force.id, in_force.version)], newer)
    assert disclosure.policy is None and f"v{in_force.version}" in disclosure.warning


def test_rows_that_name_no_agreement_are_flagged(in_force):
    disclosure = disclosure_for([], in_force)
    assert disclosure.policy is None and "do not name the agreement" in disclosure.warning


def test_an_unreadable_agreement_is_said(tmp_path):
    disclosure = disclosure_for([("a", 1)], tmp_path / "missing.yaml")
    assert disclosure.policy is None and "could not be read" in disclosure.warning


def test_legend_values_step_in_the_published_granularity():
    assert all(v % 10 == 0 for v in legend_values(10, 90, base=10))
    assert legend_values(1, 9, steps=5) == [1, 3, 5, 7, 9]
    assert Disclosure(DisclosurePolicy("suppress_and_round", 10, 10)).legend_base == 10
    assert Disclosure(DisclosurePolicy()).legend_base == 1


def _hand_made_warehouse(path, agreement_id: str, version: int, withheld: bool) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE hotspot_cells (month DATE, cell_id VARCHAR, rank INTEGER, ed_assaults BIGINT, "
            "ed_assaults_suppressed BOOLEAN, police_violence BIGINT, police_violence_suppressed BOOLEAN, "
            "combined BIGINT, combined_suppressed BOOLEAN, agreement_id VARCHAR, agreement_version INTEGER)"
        )
        rows = [
            (MONTH, CELLS[0], 1, 30, False, 20, False, 50, False, agreement_id, version),
            (
                MONTH,
                CELLS[1],
                None,
                None if withheld else 3,
                withheld,
                0,
                False,
                None if withheld else 3,
                withheld,
                agreement_id,
                version,
            ),
        ]
        con.executemany("INSERT INTO hotspot_cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def test_render_report_reads_the_agreement_in_force(board, tmp_path, monkeypatch, in_force):
    """ISTV_AGREEMENT names the agreement; the report applies its policy to rows that carry it."""

    def suppress_10(raw):
        raw["disclosure_control"].update(method="suppress_and_round", suppression_threshold=10, rounding_base=10)

    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("suppress-10", suppress_10, signed=False)))
    warehouse = tmp_path / "istv.duckdb"
    _hand_made_warehouse(warehouse, in_force.id, in_force.version, withheld=True)
    html = _text(render_report(warehouse, MONTH, tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "1 to 10" in html and "nearest 10" in html and "1 to 7" not in html and "(1–7)" not in html

    monkeypatch.delenv("ISTV_AGREEMENT")
    plain = tmp_path / "cell-key.duckdb"
    _hand_made_warehouse(plain, in_force.id, in_force.version, withheld=False)
    html = _text(render_report(plain, MONTH, tmp_path / "cell-key.html").read_text(encoding="utf-8"))
    # The agreement in force withholds small monthly cells: none is withheld in these rows.
    assert "0 of them too small this month to show every count" in html and "rounded" not in html.lower()
    assert in_force.disclosure_control.policy().legend() in html

    other = tmp_path / "other.duckdb"
    _hand_made_warehouse(other, "another-agreement", 2, withheld=False)
    html = render_report(other, MONTH, tmp_path / "other.html").read_text(encoding="utf-8")
    assert 'id="disclosure-warning"' in html and "another-agreement v2" in html
