"""`istv locate` as a data officer uses it: where free-text locations resolve, and why."""

from __future__ import annotations

import json
import logging

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

import pipelines.commands.locate as locate_module
from pipelines.commands.locate import locate

# text, then what the table shows for it: status, place, district, score and (part of) the reason
SHOWN = {
    "venue": (
        "o/s kapu st mary st",
        "venue",
        "Kapu (venue:102758)",
        "—",
        "100",
        "'kapu' matches the venue Kapu; a venue wins over the street also named, St Mary Street",
    ),
    "street": ("crwys rd", "street", "Crwys Road (street:crwys-road)", "—", "100", "'crwys road' matches the street"),
    "private": ("pts flat cf24", "private", "—", "CF24", "—", "'flat' names a dwelling"),
    "ambiguous": (
        "o'neills",
        "ambiguous",
        "—",
        "—",
        "100",
        "'oneills' fits far-apart places (O'Neills (venue:103321), O'Neills (venue:103322))",
    ),
    "unlocated": ("n/k", "unlocated", "—", "—", "—", "'unknown' says nothing about where"),
}
TEXTS = [shown[0] for shown in SHOWN.values()]


@pytest.fixture
def wide(monkeypatch):
    """A terminal wide enough for each row of the table to fit on one line."""
    monkeypatch.setattr(locate_module, "console", Console(width=400, soft_wrap=True))


def _table_rows(output: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]


@pytest.mark.parametrize("status", SHOWN)
def test_each_text_shows_its_status_place_and_reason(wide, status):
    text, *shown, reason = SHOWN[status]
    result = CliRunner().invoke(locate, [text])
    assert result.exit_code == 0, result.output
    [row] = _table_rows(result.output)
    assert row[:5] == [text, *shown]
    assert reason in row[5]


def test_json_holds_what_the_table_shows(wide):
    runner = CliRunner()
    table = _table_rows(runner.invoke(locate, TEXTS).output)
    result = runner.invoke(locate, ["--format", "json", *TEXTS])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert [row[0] for row in table] == [e["text"] for e in found] == TEXTS
    for row, e in zip(table, found):
        place = f"{e['place_name']} ({e['place_id']})" if e["place_id"] else "—"
        score = "—" if e["score"] is None else f"{e['score']:g}"
        assert row[1:] == [e["status"], place, e["postcode_district"] or "—", score, e["reason"]]
    by_status = {e["status"]: e for e in found}
    assert sorted(by_status) == sorted(SHOWN)
    assert (by_status["venue"]["words"], by_status["venue"]["rule"]) == ("kapu", "best match")
    assert (by_status["private"]["words"], by_status["private"]["rule"]) == ("flat", "dwelling")
    assert by_status["ambiguous"]["candidates"] == ["venue:103321", "venue:103322"]
    assert by_status["unlocated"]["rule"] == "nothing about where"


def test_markup_in_a_text_is_shown_as_typed(wide):
    result = CliRunner().invoke(locate, ["[bold]kapu[/bold]"])
    assert result.exit_code == 0, result.output
    assert _table_rows(result.output)[0][:2] == ["[bold]kapu[/bold]", "venue"]


def _contents(home) -> dict:
    return {p: p.read_bytes() if p.is_file() else None for p in home.root.rglob("*")}


def test_nothing_is_written_or_logged(istv_home, caplog):
    # The output quotes the officer's own text: it goes to the terminal and nowhere else, not even
    # the audit log.
    caplog.set_level(logging.DEBUG)
    before = _contents(istv_home)
    result = CliRunner().invoke(locate, ["outside Dave's house"])
    assert result.exit_code == 0, result.output
    assert _contents(istv_home) == before
    assert "dave" not in caplog.text.lower()


def test_registers_as_locate_and_needs_a_text():
    group = click.Group(commands=[locate])
    runner = CliRunner()
    assert "TEXT..." in runner.invoke(group, ["locate", "--help"]).output
    missing = runner.invoke(group, ["locate"])
    assert missing.exit_code == 2 and "Missing argument" in missing.output
    wrong = runner.invoke(group, ["locate", "--format", "csv", "kapu"])
    assert wrong.exit_code == 2
