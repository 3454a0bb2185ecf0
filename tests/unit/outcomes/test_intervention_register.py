"""The interventions register as the board and the command line keep it: `istv interventions add|list|show`."""

from __future__ import annotations

import h3
import pytest
from click.testing import CliRunner

from outcomes.register import KINDS, RegisterError, load_register, register_path
from pipelines.cli import cli

VENUE = "venue:101414"  # the Admiral, Cowbridge Road East, in the bundled Open Pubs register
STREET = "street:a4119"
CELL = h3.latlng_to_cell(51.48, -3.18, 9)


@pytest.fixture
def runner(istv_home, monkeypatch):
    from rich.console import Console

    from pipelines.commands import interventions

    monkeypatch.delenv("ISTV_AGREEMENT", raising=False)
    # A wide console: a table in CliRunner's 80 columns would wrap the names asserted on.
    monkeypatch.setattr(interventions, "console", Console(width=400, soft_wrap=True))
    return CliRunner()


def add(runner, *extra, id="glass-admiral", places=(VENUE,)):
    args = ["interventions", "add", id, "--kind", "toughened_glass", "--start", "2026-01-01", "--owner", "Cardiff CSP"]
    for place in places:
        args += ["--place", place]
    return runner.invoke(cli, [*args, *extra])


def test_every_interventions_command_has_help(runner):
    for command in ("add", "list", "show", "evaluate"):
        result = runner.invoke(cli, ["interventions", command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_add_then_list_and_show(runner, istv_home):
    result = add(
        runner, "--end", "2026-12-31", "--description", "Polycarbonate glasses at the bar", places=(VENUE, CELL.upper())
    )
    assert result.exit_code == 0, result.output
    assert "Registered glass-admiral" in result.output
    assert add(runner, id="marshals", places=(STREET,)).exit_code == 0

    listed = runner.invoke(cli, ["interventions", "list"])
    assert listed.exit_code == 0, listed.output
    assert "glass-admiral" in listed.output and "marshals" in listed.output and "Admiral" in listed.output

    shown = runner.invoke(cli, ["interventions", "show", "glass-admiral"])
    assert shown.exit_code == 0, shown.output
    assert "toughened_glass, owned by Cardiff CSP" in shown.output
    assert "2026-12-31" in shown.output and "Polycarbonate" in shown.output
    assert "Not evaluated yet" in shown.output

    (first, second) = load_register(istv_home)
    assert (first.id, first.places, str(first.end)) == ("glass-admiral", [VENUE, CELL], "2026-12-31")
    assert (second.id, second.end) == ("marshals", None)


def test_the_register_keeps_the_boards_comments(runner, istv_home):
    register_path(istv_home).write_text("# Reviewed by the CSP board, 2026-09\ninterventions: []\n")
    assert add(runner).exit_code == 0
    assert register_path(istv_home).read_text().startswith("# Reviewed by the CSP board, 2026-09\n")


@pytest.mark.parametrize(
    ("places", "extra", "said"),
    [
        (("venue:999999999",), [], "venue:999999999 is not in the gazetteer"),
        (("the old bridge",), [], "is not a place the joint zone knows"),
        ((h3.latlng_to_cell(51.48, -3.18, 7),), [], "the agreement places incidents in cells at resolution 9"),
        ((VENUE,), ["--end", "2025-12-31"], "is before start"),
        ((VENUE, VENUE), [], "a place is listed twice"),
    ],
)
def test_an_unusable_entry_is_refused_in_one_line(runner, istv_home, places, extra, said):
    result = add(runner, *extra, places=places)
    assert result.exit_code == 1
    assert said in result.output and "Traceback" not in result.output
    assert not register_path(istv_home).exists()


def test_a_duplicate_id_is_refused(runner, istv_home):
    assert add(runner).exit_code == 0
    again = add(runner, places=(STREET,))
    assert again.exit_code == 1 and "already holds an intervention 'glass-admiral'" in again.output
    assert len(load_register(istv_home)) == 1


def test_a_date_not_written_as_a_date_is_a_usage_error(runner):
    result = runner.invoke(
        cli,
        ["interventions", "add", "x", "--kind", "cctv", "--place", VENUE, "--start", "1/2/2026", "--owner", "CSP"],
    )
    assert result.exit_code == 2 and "write it as YYYY-MM-DD" in result.output


def test_show_names_the_registered_ids_when_one_is_unknown(runner):
    assert add(runner).exit_code == 0
    result = runner.invoke(cli, ["interventions", "show", "nope"])
    assert result.exit_code == 1 and "no intervention 'nope'" in result.output and "glass-admiral" in result.output


def test_a_hand_edited_register_that_breaks_a_rule_names_the_line(runner, istv_home):
    register_path(istv_home).write_text(
        "interventions:\n  - {id: a, kind: cctv, places: [x], start: 2026-01-01, owner: CSP}\n"
        "  - {id: b, kind: fireworks, places: [x], start: 2026-01-01, owner: CSP}\n"
    )
    result = runner.invoke(cli, ["interventions", "list"])
    assert result.exit_code == 1 and "interventions.yaml, line 3" in result.output and "kind" in result.output
    with pytest.raises(RegisterError):
        load_register(istv_home)


def test_an_empty_register_lists_nothing(runner):
    result = runner.invoke(cli, ["interventions", "list"])
    assert result.exit_code == 0 and "No intervention registered yet" in result.output


def test_the_kinds_are_the_closed_list():
    assert KINDS == (
        "toughened_glass",
        "taxi_marshals",
        "street_pastors",
        "licence_review",
        "lighting",
        "cctv",
        "other",
    )
