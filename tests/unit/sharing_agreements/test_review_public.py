"""`istv agreements show` says the mission and what the public page may show, in plain words."""

from __future__ import annotations

import re

import yaml
from click.testing import CliRunner

from pipelines.cli import cli
from sharing_agreements.model import DEFAULT_AGREEMENT, load_agreement
from sharing_agreements.review import mission_words, summary_lines
from sharing_agreements.review_changes import differences

PYTHON = re.compile(r"[{}\[\]=]|\bNone\b|\bTrue\b|\bFalse\b|'\w+':|\w+\(\w+=")


def _variant(tmp_path, change):
    raw = yaml.safe_load(DEFAULT_AGREEMENT.read_text())
    change(raw)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_show_says_the_mission_and_the_public_page_in_plain_words():
    result = CliRunner().invoke(cli, ["agreements", "show", str(DEFAULT_AGREEMENT)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert (
        "Mission: Halve violence that sends people to the emergency department or is reported to the police in "
        "Cardiff: violence-related emergency department attendances and police-recorded violence down by 50% from "
        "their level over October 2018 to September 2019, by December 2030" in text
    )
    assert "Public page for residents (`istv publish-public`): the agreement in force" in text
    assert "what each provider shared each month (protected row counts)" in text
    assert "progress against the mission, as published" in text
    assert "Public page: an offline web page for residents" in text  # explained once in the glossary
    assert text.count("Public page: an offline web page") == 1
    assert not PYTHON.search("\n".join(summary_lines(load_agreement())))


def test_show_says_when_no_mission_is_set_and_no_public_page_approved(tmp_path):
    def neither(raw):
        raw.pop("mission")
        raw.pop("public_account")

    lines = summary_lines(load_agreement(_variant(tmp_path, neither)))
    assert "Mission: none set; nothing is measured against a target." in lines
    assert "Public page for residents: none approved; `istv publish-public` writes nothing." in lines


def test_show_lists_only_the_sections_approved(tmp_path):
    def mission_only(raw):
        raw["public_account"] = {"sections": ["mission"]}

    (line,) = [
        x for x in summary_lines(load_agreement(_variant(tmp_path, mission_only))) if x.startswith("Public page")
    ]
    assert line.endswith(
        "progress against the mission, as published; nothing else is written on it, and only published figures."
    )
    assert "agreement in force" not in line and "each month" not in line


def test_diff_says_a_changed_mission_and_public_page_beside_what_they_replace(tmp_path):
    def later_and_smaller(raw):
        raw["mission"]["reduction_pct"] = 30
        raw["mission"]["target_month"] = "2032-03"
        raw["public_account"] = {"sections": ["mission"]}

    changes = differences(load_agreement(), load_agreement(_variant(tmp_path, later_and_smaller)))
    (mission,) = [c for c in changes if c.startswith("The mission changes.")]
    now, before = mission.split(" Before: ")
    assert "down by 30%" in now and "by March 2032" in now
    assert "down by 50%" in before and "by December 2030" in before
    (page,) = [c for c in changes if c.startswith("The public page changes.")]
    now, before = page.split(" Before: ")
    assert "progress against the mission" in now and "agreement in force" not in now
    assert "agreement in force" in before
    assert not PYTHON.search("\n".join(changes).replace('"', ""))


def test_diff_says_a_mission_set_where_there_was_none(tmp_path):
    def without(raw):
        raw.pop("mission")

    changes = differences(load_agreement(_variant(tmp_path, without)), load_agreement())
    assert [c for c in changes if c.startswith("The mission changes.")] == [
        f"The mission changes. Now: {mission_words(load_agreement())} "
        "Before: Mission: none set; nothing is measured against a target."
    ]
