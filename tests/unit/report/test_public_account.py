"""`istv publish-public`: the public account for residents. Offline, only the sections the signed
agreement approves, only published figures (a withheld one never as 0), nothing identifying, a
month with nothing published refused, every page audited."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from sharing_agreements.auditing import reader

MONTH = "2026-10"
NHS_NUMBER = "4857773456"  # NHS-number-like, planted in the landing zone
PSEUDONYM = "9f2c4e1a7b3d5c8e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70"  # planted in the pseudonymised zone
COUNTS = ("rows_received", "rows_quarantined", "rows_out_of_scope", "rows_shared", "rows_located")
COUNTS += ("rows_unlocated", "rows_private", "rows_ambiguous")


def _coverage(month: str, source: str, provider: str, shared: int | None, withheld: bool = False) -> dict:
    row = {"month": dt.date.fromisoformat(f"{month}-01"), "source": source, "provider": provider}
    row |= dict.fromkeys(COUNTS, 50) | {f"{c}_suppressed": False for c in COUNTS}
    row |= {"rows_shared": shared, "rows_shared_suppressed": withheld, "release_status": "as delivered"}
    return row | {"agreement_id": "cardiff-violence-prevention", "agreement_version": 1}


def _progress(month: str, metric: float | None, status: str, off: int = 0, reason: str | None = None) -> dict:
    return {
        "month": dt.date.fromisoformat(f"{month}-01"),
        "metric_unit": "per 100,000 residents",
        "metric": metric,
        "per_100k": True,
        "baseline": 420.0,
        "baseline_months": 12,
        "target": 390.5,
        "trend": 405.0,
        "trend_low": 395.0,
        "trend_high": 415.0,
        "status": status,
        "months_off_track": off,
        "above_target_pct": 3 if status == "off track" else None,
        "not_available_reason": reason,
        "agreement_id": "cardiff-violence-prevention",
        "agreement_version": 1,
    }


def _table(con, name: str, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)  # noqa: F841 (read by DuckDB by name)
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM frame")


@pytest.fixture
def home(istv_home, monkeypatch):
    """A warehouse with two months of coverage and four of mission_progress, built by hand, and
    identifiers planted in the zones the page must never read."""
    from rich.console import Console

    from pipelines.commands import public

    monkeypatch.delenv("ISTV_AGREEMENT", raising=False)
    monkeypatch.setattr(public, "console", Console(width=400, soft_wrap=True))
    coverage = [
        _coverage("2026-09", "ed", "7A4BV", 1234),
        _coverage("2026-09", "police", "SWP", 2345),
        _coverage("2026-10", "ed", "7A4BV", 1111),
        _coverage("2026-10", "ed", "7A5B1", None, withheld=True),  # withheld by disclosure control
        _coverage("2026-10", "police_uk", "SWP", None),  # nothing published for it
        _coverage("2026-11", "ed", "7A4BV", 7777),  # after the month: not on the page
    ]
    progress = [
        _progress("2026-07", 410.0, "on track"),
        _progress("2026-08", None, "not available", reason="no_ed_data"),
        _progress("2026-09", 405.5, "off track", off=1),
        _progress("2026-10", 402.25, "off track", off=2),
        _progress("2026-11", 377.75, "on track", off=0),  # after the month
    ]
    with duckdb.connect(str(istv_home.warehouse)) as con:
        _table(con, "coverage", coverage)
        _table(con, "mission_progress", progress)
    landing = istv_home.landing_dir("ed", dt.date(2026, 10, 1))
    landing.mkdir(parents=True)
    (landing / "extract.csv").write_text(f"NHS NUMBER\n{NHS_NUMBER}\n")
    zone = istv_home.pseudonymised_file("ed", dt.date(2026, 10, 1))
    zone.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"nhs_number": [PSEUDONYM], "site_code": ["7A4BV"]}).to_parquet(zone, index=False)
    return istv_home


def publish(month: str = MONTH):
    return CliRunner().invoke(cli, ["publish-public", "--month", month])


def page(home, month: str = MONTH) -> str:
    return (home.root / "public" / f"{month}.html").read_text(encoding="utf-8")


def test_the_page_is_written_offline_with_every_approved_section(home):
    result = publish()
    assert result.exit_code == 0, result.output
    path = home.root / "public" / f"{MONTH}.html"
    assert str(path) in result.output
    html = page(home)
    assert "http" not in html.replace('http-equiv="Content-Security-Policy"', "")
    assert "<script" not in html.lower() and "src=" not in html and "href=" not in html
    assert "@import" not in html and "url(" not in html
    assert all(f'<section id="{s}">' in html for s in ("agreement", "deliveries", "mission"))
    assert "cardiff-violence-prevention version 1" in html
    # The agreement in plain words.
    assert "Find the places and times where people are hurt by violence" in html
    assert "Crime and Disorder Act 1998 section 115" in html
    assert "Cardiff Community Safety Partnership Board (Community Safety Board), 11 December 2017" in html
    assert "<td>NHS number</td><td>pseudonymised under the key scope &#34;person&#34;</td>" in html
    assert "Cell-key perturbation:" in html and "at most 4 up or down" in html
    assert "the count of a place or venue that would show below 5 is withheld" in html
    # Deliveries: by party name, the twelve months to the month only.
    assert "Cardiff and Vale University Health Board (7A4BV)" in html and "1,234" in html and "1,111" in html
    assert "7,777" not in html
    # The mission: latest status up to the month, and its chart.
    assert "Halve violence" in html and "December 2030" in html
    said = "the partnership was <strong>off track: 3% above the target line</strong>"
    assert f"In October 2026, the latest month published, {said}" in html
    assert "violence stood at 402 per 100,000 residents" in html and "for 2 months" in html and "377" not in html
    # The metric broken by a gap, the target line, the trend, and the trend's band.
    assert '<svg id="mission-chart"' in html and html.count("<polyline") == 4 and html.count("<polygon") == 1


def test_withheld_and_unpublished_counts_never_read_as_zero(home):
    assert publish().exit_code == 0
    html = page(home)
    rows = re.findall(r"<tr><td>October 2026</td><td>([^<]+)</td><td>[^<]+</td><td class=\"num\">(.*?)</td></tr>", html)
    shown = dict(rows)
    assert shown["Cwm Taf Morgannwg University Health Board (7A5B1)"] == '<span class="suppressed">withheld</span>'
    assert shown["South Wales Police"] == '<span class="not-available">not available</span>'
    deliveries = html[html.index('<section id="deliveries">') : html.index('<section id="mission">')]
    assert not re.search(r">\s*0\s*<", deliveries)


def test_planted_identifiers_never_appear(home):
    assert publish().exit_code == 0
    html = page(home)
    assert NHS_NUMBER not in html and PSEUDONYM not in html and PSEUDONYM[:16] not in html


def test_sections_the_board_has_not_approved_are_not_written(home, board, monkeypatch):
    def deliveries_only(raw):
        raw["public_account"] = {"sections": ["deliveries"]}

    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("deliveries-only", deliveries_only)))
    result = publish()
    assert result.exit_code == 0, result.output
    html = page(home)
    assert '<section id="deliveries">' in html and "1,111" in html
    assert 'id="agreement"' not in html and 'id="mission"' not in html
    assert "Find the places and times" not in html and "Halve violence" not in html and "<svg" not in html
    (entry,) = [e for e in reader(home).entries() if e.kind == "public_account_published"]
    assert entry.details["sections"] == ["deliveries"]


def test_an_agreement_approving_no_section_writes_nothing(home, board, monkeypatch):
    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant("none", lambda raw: raw.pop("public_account"))))
    result = publish()
    assert result.exit_code == 1 and "approves no section for the public page" in result.output
    assert not (home.root / "public" / f"{MONTH}.html").exists()


def test_without_mission_progress_the_page_says_it_is_not_published_yet(home):
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("DROP TABLE mission_progress")
    assert publish().exit_code == 0
    html = page(home)
    assert "progress against the mission has not been published yet" in html.lower()
    assert "Halve violence" in html and "<svg" not in html


def test_a_month_with_nothing_published_is_refused(home):
    result = publish("2025-01")
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "nothing published for 2025-01" in result.output and "istv run --month 2025-01" in result.output
    assert not (home.root / "public" / "2025-01.html").exists()
    assert not [e for e in reader(home).entries() if e.kind == "public_account_published"]


def test_no_warehouse_is_refused_in_one_line(istv_home, monkeypatch):
    monkeypatch.delenv("ISTV_AGREEMENT", raising=False)
    result = publish()
    assert result.exit_code == 1 and "no warehouse at" in result.output


@pytest.mark.parametrize(
    ("name", "change", "signed", "said"),
    [
        ("unsigned", lambda raw: None, False, "is not signed"),
        ("suspended", lambda raw: raw.update(status="suspended"), True, "is suspended, not active"),
    ],
)
def test_an_agreement_not_signed_or_not_in_force_is_refused(home, board, monkeypatch, name, change, signed, said):
    monkeypatch.setenv("ISTV_AGREEMENT", str(board.variant(name, change, signed=signed)))
    result = publish()
    assert result.exit_code == 1 and said in result.output
    assert not (home.root / "public" / f"{MONTH}.html").exists()


def test_each_page_is_audited(home):
    assert publish().exit_code == 0
    (entry,) = [e for e in reader(home).entries() if e.kind == "public_account_published"]
    assert entry.details["month"] == MONTH
    assert entry.details["sections"] == ["agreement", "deliveries", "mission"]
    assert (entry.details["agreement_id"], entry.details["agreement_version"]) == ("cardiff-violence-prevention", 1)
    assert reader(home).verify().ok
