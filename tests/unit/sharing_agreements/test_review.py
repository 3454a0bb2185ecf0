"""`istv agreements show` and `diff` as a board reads them: plain words, no Python, every term
they use explained once, and each change said in a sentence."""

from __future__ import annotations

import re

import pytest
import yaml

from sharing_agreements.glossary import TERMS
from sharing_agreements.model import DEFAULT_AGREEMENT, load_agreement
from sharing_agreements.review import summary_lines
from sharing_agreements.review_changes import difference_lines, differences

# What a Python value printed as Python leaves behind: a dict or list in brackets, None, a
# model's `field=value` repr, a string's quotes around list items.
PYTHON = re.compile(r"[{}\[\]=]|\bNone\b|\bTrue\b|\bFalse\b|'\w+':|\w+\(\w+=")


def _variant(tmp_path, change, name="v2"):
    raw = yaml.safe_load(DEFAULT_AGREEMENT.read_text())
    change(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_agreement(path)


def _glossary(lines: list[str]) -> tuple[str, list[str]]:
    """The text above the glossary, and the glossary's lines."""
    at = lines.index("Terms used above:")
    return "\n".join(lines[:at]), [line.strip() for line in lines[at + 1 :]]


def _assert_plain_and_explained(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert not PYTHON.search(text), PYTHON.search(text)
    body, glossary = _glossary(lines)
    for pattern, meaning in TERMS:
        used = re.search(pattern, body, re.IGNORECASE)
        assert glossary.count(meaning) == (1 if used else 0), (pattern, meaning)


def test_show_is_plain_words_with_each_term_explained_once():
    lines = summary_lines(load_agreement())
    _assert_plain_and_explained(lines)
    body, glossary = _glossary(lines)
    assert 'nhs_number: pseudonymised under the key scope "person"' in body
    assert any(line.startswith("Key scope: fields pseudonymised under the same key scope") for line in glossary)
    assert any(line.startswith("Cell-key perturbation:") for line in glossary)
    assert any(line.startswith("k-anonymity threshold:") for line in glossary)
    assert any(line.startswith("Retention:") for line in glossary)
    assert "Police open data (police_uk): only rows whose crime_type is Violence and sexual offences" in body
    assert "Retention: landing zone (the files as delivered) 90 days; quarantine 180 days" in body
    assert "k-anonymity threshold 5, over age_band, sex, cell_id and hour" in body
    assert "Cardiff and Vale University Health Board, code 7A4" in body and "may also name it 7A4BV" in body


def test_show_explains_only_the_terms_it_uses(tmp_path):
    def strict(a):
        a["disclosure_control"].update(method="suppress_and_round", suppression_threshold=10, rounding_base=10)
        a["disclosure_control"]["differential_privacy"] = {"epsilon": 0.5, "budget_per_month": 1.5}
        for rule in a["datasets"]["ed"]["fields"].values():
            rule.pop("key_scope", None)

    lines = summary_lines(_variant(tmp_path, strict))
    _assert_plain_and_explained(lines)
    _, glossary = _glossary(lines)
    assert not any(line.startswith(("Cell-key", "Key scope")) for line in glossary)
    assert any(line.startswith("Suppression and rounding:") for line in glossary)
    assert "Differential privacy: epsilon 0.5 per published count, at most 1.5 per month" in "\n".join(lines)


def _v2(agreement):
    agreement["version"] = 2
    agreement["datasets"]["ed"]["fields"]["sex"] = {"action": "drop"}
    agreement["datasets"]["police_uk"]["fields"]["location"] = {"action": "generalise", "to": "place"}
    agreement["retention"]["quarantine"] = 30
    agreement["published_tables"].remove("hour_of_week")
    agreement["disclosure_control"]["differential_privacy"] = {"epsilon": 0.5, "budget_per_month": 1.5}
    agreement["disclosure_control"]["cell_key"]["max_deviation"] = 5
    agreement["disclosure_control"]["cell_key"]["cell_minimum"] = 7
    agreement["parties"]["providers"].append({"name": "Gwent Police", "code": "GWP", "datasets": ["police_uk"]})
    agreement["datasets"]["police_uk"]["scope"]["crime_type"].append("Robbery")
    agreement["risk"] = {"k": 10, "quasi_identifiers": ["age_band", "sex", "cell_id"]}


@pytest.mark.parametrize(
    "sentence",
    [
        "Version 1 becomes version 2.",
        "Emergency department assault attendances (ed) may no longer share field sex: it is now dropped (it was kept).",
        "Police open data (police_uk) may now share field location (generalised to a named place); it was dropped.",
        "Retention of the quarantine shortened from 180 to 30 days.",
        "Table hour_of_week is no longer published.",
        "Differential privacy is now used: epsilon 0.5 per published count, at most 1.5 per month.",
        "Cell-key perturbation now moves a count by at most 5 (was 4).",
        "Cells, areas and venues now withhold a count whose protected part would show below 7 (was 5).",
        "New provider: Gwent Police, code GWP: provides Police open data (police_uk).",
        "Police open data (police_uk) now takes only rows whose crime_type is Violence and sexual offences or "
        "Robbery (was only rows whose crime_type is Violence and sexual offences).",
        "The k-anonymity threshold is now 10 (was 5).",
        "k-anonymity is now judged over age_band, sex and cell_id (was age_band, sex, cell_id and hour).",
    ],
)
def test_diff_says_each_change_in_a_sentence(tmp_path, sentence):
    assert sentence in differences(load_agreement(), _variant(tmp_path, _v2))


def test_diff_is_plain_words_with_each_term_explained_once(tmp_path):
    lines = difference_lines(load_agreement(), _variant(tmp_path, _v2))
    _assert_plain_and_explained(lines)
    assert len([line for line in lines if line.startswith("- ")]) == 12  # one sentence per change, no more


def test_every_part_of_an_agreement_is_compared(tmp_path):
    def everything(a):
        a.update(title="New title", status="suspended", review_date="2027-01-31", purpose="Another purpose.")
        a["lawful_basis"].append("Another basis")
        a["approvals"].append({"board": "New Board", "role": "data_protection_officer", "date": "2026-01-01"})
        a["parties"]["recipients"].append({"name": "Cardiff Council", "code": "CC"})
        a["parties"]["providers"][0]["identifiers"].append("7A4C1")
        a["spatial"]["h3_resolution"] = 8
        a["spatial"]["hotspot_resolutions"] = [8, 7]
        a["datasets"]["police_uk"]["public"] = False

    changes = differences(load_agreement(), _variant(tmp_path, everything))
    text = "\n".join(changes)
    assert not PYTHON.search(text.replace('"', "")), text
    for words in (
        'The title is now "New title"',
        "Its status is now suspended (was active).",
        "The board now reviews it by 2027-01-31 (was 2027-06-30).",
        'The purpose now reads: "Another purpose."',
        "Lawful basis added: Another basis.",
        "New approval: New Board (Data Protection Officer, 2026-01-01).",
        "New recipient: Cardiff Council, code CC.",
        "Cardiff and Vale University Health Board's files may now name it 7A4C1.",
        "Incidents are now placed in cells of H3 resolution 8",
        "Police open data (police_uk) is no longer a public source",
    ):
        assert words in text


def test_the_same_agreement_has_no_differences():
    agreement = load_agreement()
    assert differences(agreement, agreement) == []
    assert difference_lines(agreement, agreement) == [
        f"No differences: {agreement.label} and {agreement.label} say the same."
    ]
