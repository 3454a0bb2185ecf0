"""Parse and the Great Expectations suite check the same rules (schemas.rules), and agree on them.

For every rule of every schema, a row made to break it is quarantined by parse with the rule's
reason, and the suite, on the same typed rows before quarantine, flags the rule's expectation
and no other; a rule GX cannot check is listed in the suite as checked by parse only. And every
constraint a schema's YAML declares becomes a rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import great_expectations as gx
import pandas as pd
import pytest

from ingest.parse import Extract, read_extract
from schemas import Field, Schema, schema_for_source
from schemas.expectations import extract_suite, validate
from schemas.model import SOURCES
from schemas.rules import (
    InCodelist,
    MatchesPattern,
    Maximum,
    MaxLength,
    Minimum,
    NhsNumber,
    NotAfter,
    NotInFuture,
    Required,
    Rule,
    Unique,
    UsuallyPresent,
    Within,
    rules_of,
)

MONTH = dt.date(2018, 10, 1)
NOW = dt.datetime(2018, 10, 20, 12, 0)  # within the month: a time after it is in the future yet in the month
ROWS = 10
BAD = 3  # the row made to break a rule


def _ed(i: int) -> dict:
    return {
        "reporting_period_start": dt.datetime(2018, 10, 1),
        "reporting_period_end": dt.datetime(2018, 10, 31),
        "site_code": "7A4BV",
        "attendance_id": f"ED{i:08d}",
        "nhs_number": "9434765919",  # valid (Modulus 11) but fake
        "date_of_birth": dt.datetime(1995, 3, 2),
        "sex": "1",
        "home_postcode": "CF24 4HU",
        "arrival_datetime": dt.datetime(2018, 10, 6, 23, 40),
        "assault_datetime": dt.datetime(2018, 10, 6, 23, 5),
        "assault_method": "01",
        "assault_method_other": None,
        "assault_location_type": "01",
        "assault_location_description": "o/s walkabout",
    }


def _police(i: int) -> dict:
    return {
        "force_code": "SWP",
        "crime_reference": f"SW/{i:06d}/18",
        "offence_code": "105/01",
        "offence_description": "Common assault",
        "committed_from": dt.datetime(2018, 10, 6, 22, 0),
        "committed_to": dt.datetime(2018, 10, 6, 23, 0),
        "location_text": "High Street",
        "latitude": 51.48,
        "longitude": -3.17,
        "victim_date_of_birth": dt.datetime(1990, 1, 1),
        "victim_sex": "2",
        "weapon_flag": "N",
    }


def _police_uk(i: int) -> dict:
    return {
        "crime_id": f"{i:064x}",
        "month": dt.datetime(2018, 10, 1),
        "reported_by": "South Wales Police",
        "falls_within": "South Wales Police",
        "longitude": -3.17,
        "latitude": 51.48,
        "location": "On or near High Street",
        "lsoa_code": "W01001234",
        "lsoa_name": "Cardiff 032A",
        "crime_type": "Violence and sexual offences",
        "last_outcome_category": "Under investigation",
        "context": None,
    }


CLEAN = {"ed": _ed, "police": _police, "police_uk": _police_uk}  # a row that breaks no rule, typed
DTYPES = {
    "string": "str",
    "code": "str",
    "date": "datetime64[us]",
    "datetime": "datetime64[us]",
    "month": "datetime64[us]",
    "integer": "Int64",
    "float": "float64",
}
AS_DELIVERED = {"date": "%d/%m/%Y", "datetime": "%d/%m/%Y %H:%M", "month": "%Y-%m"}

# A row can break a rule only by breaking another too: an assault in the future is after the
# arrival, which has not happened yet (in the future too, it would break its own rule).
ALSO_BROKEN = {"assault_datetime: in the future": {"assault_datetime: after arrival_datetime"}}

# Field attributes that describe a field; all the others constrain its values.
DESCRIPTIVE = {"name", "header", "type", "description", "identifier", "free_text"}
RULE_OF_CONSTRAINT = {
    "required": Required,
    "usually_present": UsuallyPresent,
    "min": Minimum,
    "max": Maximum,
    "codelist": InCodelist,
    "pattern": MatchesPattern,
    "max_length": MaxLength,
    "check": NhsNumber,
    "not_in_future": NotInFuture,
    "not_after": NotAfter,
    "within": Within,
}


def _clean_rows(source: str) -> list[dict]:
    return [CLEAN[source](i) for i in range(ROWS)]


def _break(rule: Rule, rows: list[dict]) -> None:
    """Make row BAD (for a share of rows, every row) break `rule`."""
    row, name = rows[BAD], rule.field
    match rule:
        case Required():
            row[name] = None
        case UsuallyPresent():
            for each in rows:
                each[name] = None
        case Minimum():
            row[name] = rule.bound - 1
        case Maximum():
            row[name] = rule.bound + 1
        case InCodelist():
            row[name] = "not-a-code"
        case MatchesPattern():
            row[name] += "!"
            assert not re.fullmatch(rule.pattern, row[name])
        case MaxLength():
            row[name] = "x" * (rule.characters + 1)
        case NhsNumber():
            row[name] = "9434765918"  # the valid number with its check digit off by one
        case NotInFuture():
            row[name] = rule.now + dt.timedelta(hours=1)
        case NotAfter():
            row[name] = row[rule.later] + dt.timedelta(hours=1)
        case Within():
            row[rule.end] = dt.datetime.combine(row[name].date() - dt.timedelta(days=1), dt.time())
        case Unique():
            row[name] = rows[0][name]
        case _:
            raise AssertionError(f"no row here breaks a {type(rule).__name__}: teach _break how")


def _typed(schema: Schema, rows: list[dict]) -> pd.DataFrame:
    """The rows as parse types them."""
    return pd.DataFrame({f.name: pd.Series([r[f.name] for r in rows], dtype=DTYPES[f.type]) for f in schema.fields})


def _parsed(tmp_path: Path, schema: Schema, rows: list[dict]) -> Extract:
    """The rows written out as delivered, and read back by parse."""

    def text(f: Field, value) -> str:
        if value is None:
            return ""
        return value.strftime(AS_DELIVERED[f.type]) if f.type in AS_DELIVERED else str(value)

    path = tmp_path / f"{schema.source}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(f.header for f in schema.fields)
        writer.writerows([text(f, row[f.name]) for f in schema.fields] for row in rows)
    return read_extract(path, schema, MONTH, now=NOW)


def _quarantined(extract: Extract) -> dict[int, set[str]]:
    """Line -> reasons."""
    q = extract.quarantined
    return {int(line): set(reasons.split("; ")) for line, reasons in zip(q["source_line"], q["reasons"])}


def _flag(rule: Rule, frame: pd.DataFrame) -> tuple[str, str | None, str]:
    """What the suite reports when the rule's own expectation fails on `frame` (it must)."""
    (outcome,) = validate(frame, gx.ExpectationSuite(name="one_rule", expectations=[rule.to_expectation()])).outcomes
    assert not outcome.success, f"{rule} holds on rows that break it"
    return outcome.expectation, outcome.column, outcome.severity


def _flagged(frame: pd.DataFrame, schema: Schema) -> set[tuple[str, str | None, str]]:
    return {(o.expectation, o.column, o.severity) for o in validate(frame, extract_suite(schema, now=NOW)).failed}


CASES = [(source, rule) for source in SOURCES for rule in rules_of(schema_for_source(source), NOW)]


@pytest.mark.parametrize("source", SOURCES)
def test_clean_rows_pass_parse_and_the_suite(tmp_path, source):
    schema = schema_for_source(source)
    rows = _clean_rows(source)
    assert set(rows[0]) == set(schema.field_names)
    extract = _parsed(tmp_path, schema, rows)
    assert extract.rows_passed == ROWS and extract.quarantined.empty
    assert _flagged(_typed(schema, rows), schema) == set()


@pytest.mark.parametrize(
    "source, rule", CASES, ids=[f"{source}-{type(rule).__name__}-{rule.field}" for source, rule in CASES]
)
def test_parse_and_the_suite_agree_on_rows_that_break_a_rule(tmp_path, source, rule):
    schema = schema_for_source(source)
    rows = _clean_rows(source)
    _break(rule, rows)
    also = ALSO_BROKEN.get(rule.reason, set())
    broken = [rule, *(r for r in rules_of(schema, NOW) if r.reason in also)]

    quarantined = _quarantined(_parsed(tmp_path, schema, rows))
    if rule.reason is None:  # a share of rows, not a row, breaks it: no row is quarantined
        assert quarantined == {}
    else:
        assert quarantined == {BAD + 2: {r.reason for r in broken}}  # line 1 is the header

    frame = _typed(schema, rows)
    assert _flagged(frame, schema) == {_flag(r, frame) for r in broken if not r.parse_only}
    if rule.parse_only:
        assert rule.to_expectation() is None
        assert rule.reason in extract_suite(schema, now=NOW).meta["checked_by_parse_only"]


@pytest.mark.parametrize("source", SOURCES)
def test_the_suite_holds_every_rule_it_can_check_and_lists_the_others(source):
    schema = schema_for_source(source)
    rules = rules_of(schema, NOW)
    suite = extract_suite(schema, now=NOW)
    checked = [e.configuration for e in suite.expectations if e.expectation_type != "expect_column_to_exist"]
    assert checked == [r.to_expectation().configuration for r in rules if not r.parse_only]
    assert suite.meta["checked_by_parse_only"] == [r.reason for r in rules if r.parse_only]
    assert all(r.parse_only and r.to_expectation() is None for r in rules if isinstance(r, NhsNumber))


def test_every_field_attribute_is_a_description_or_a_constraint_with_a_rule():
    assert set(Field.model_fields) == DESCRIPTIVE | set(RULE_OF_CONSTRAINT)


@pytest.mark.parametrize("source", SOURCES)
def test_every_declared_constraint_yields_a_rule_and_every_rule_a_declared_constraint(source):
    schema = schema_for_source(source)
    declared = [
        (RULE_OF_CONSTRAINT[constraint].__name__, f.name)
        for f in schema.fields
        for constraint in RULE_OF_CONSTRAINT
        if getattr(f, constraint) not in (None, False)
    ]
    declared += [(Unique.__name__, key) for key in schema.unique]
    rules = rules_of(schema, NOW)
    assert sorted(declared) == sorted((type(r).__name__, r.field) for r in rules)
    assert {name for r in rules for name in r.fields} <= set(schema.field_names)


def test_a_time_on_the_last_day_of_the_period_is_within_it_for_both(tmp_path):
    """The end of a `within` period is a day: its last hours are in, the next day is out."""
    ed = schema_for_source("ed")
    rows = _clean_rows("ed")
    for row in rows:
        row["reporting_period_end"] = dt.datetime.combine(row["assault_datetime"].date(), dt.time())
    assert _quarantined(_parsed(tmp_path, ed, rows)) == {}
    assert _flagged(_typed(ed, rows), ed) == set()
