"""The row rules a declared schema sets, each written once.

A rule names the field(s) it is about, the reason ingest.parse quarantines a row that breaks it
with, and the Great Expectations expectation that checks it again on the rows that passed
(schemas.expectations). Parse and the suite both iterate `rules_of(schema, now)`, so a constraint
added to a schema's YAML reaches both; tests/unit/schemas/test_rules_agree.py checks, rule by rule, that they
agree. Parse keeps its own vectorised checks (it is on the hot path): a rule tells it which check
to run and with which parameters.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from schemas.model import Schema, load_codelist

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation


def _gx():
    """GX's expectation classes, imported only when an expectation is built: the import takes
    seconds, and parse reads these rules but builds none. They come through schemas.expectations,
    which switches GX's analytics off before GX is first imported."""
    from schemas.expectations import gxe

    return gxe


@dataclass(frozen=True)
class Rule(ABC):
    field: str  # the field whose value breaks the rule: parse files the reason under it

    # Why GX cannot check the rule on typed rows; None when it can.
    parse_only: ClassVar[str | None] = None

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field,)

    @property
    @abstractmethod
    def reason(self) -> str | None:
        """Why parse quarantines a row that breaks the rule; None when no single row breaks it."""

    @abstractmethod
    def to_expectation(self) -> Expectation | None:
        """The rule as an expectation on typed rows; None for a parse-only rule."""


@dataclass(frozen=True)
class Required(Rule):
    @property
    def reason(self) -> str:
        return f"{self.field}: missing required value"

    def to_expectation(self) -> Expectation:
        return _gx().ExpectColumnValuesToNotBeNull(column=self.field)


@dataclass(frozen=True)
class UsuallyPresent(Rule):
    share: float  # of rows expected to carry a value

    @property
    def reason(self) -> None:
        return None  # a blank value is no row's fault: only the share of them is watched

    def to_expectation(self) -> Expectation:
        # Completeness that falls off is worth a data officer's look, not a stopped run.
        return _gx().ExpectColumnValuesToNotBeNull(column=self.field, mostly=self.share, meta={"severity": "warning"})


@dataclass(frozen=True)
class Minimum(Rule):
    bound: float

    @property
    def reason(self) -> str:
        return f"{self.field}: below {self.bound:g}"

    def to_expectation(self) -> Expectation:
        return _gx().ExpectColumnValuesToBeBetween(column=self.field, min_value=self.bound)


@dataclass(frozen=True)
class Maximum(Rule):
    bound: float

    @property
    def reason(self) -> str:
        return f"{self.field}: above {self.bound:g}"

    def to_expectation(self) -> Expectation:
        return _gx().ExpectColumnValuesToBeBetween(column=self.field, max_value=self.bound)


@dataclass(frozen=True)
class InCodelist(Rule):
    codelist: str

    @property
    def codes(self) -> list[str]:
        return sorted(load_codelist(self.codelist).codes_set())

    @property
    def reason(self) -> str:
        return f"{self.field}: code not in the {self.codelist} code list"

    def to_expectation(self) -> Expectation:
        return _gx().ExpectColumnValuesToBeInSet(column=self.field, value_set=self.codes)


@dataclass(frozen=True)
class MatchesPattern(Rule):
    pattern: str  # the whole value must match, as Python's re.fullmatch reads it

    @property
    def reason(self) -> str:
        return f"{self.field}: does not match the expected pattern"

    # GX's string expectations walk every value in Python: on a national month (10 million police
    # rows) a pattern and a length check added half again to validation. Parse checks every row.
    parse_only: ClassVar[str] = "GX's row-wise string checks are too slow for a national month"

    def to_expectation(self) -> None:
        return None


@dataclass(frozen=True)
class MaxLength(Rule):
    characters: int

    @property
    def reason(self) -> str:
        return f"{self.field}: longer than {self.characters} characters"

    parse_only: ClassVar[str] = MatchesPattern.parse_only

    def to_expectation(self) -> None:
        return None


@dataclass(frozen=True)
class NhsNumber(Rule):
    parse_only: ClassVar[str] = "the Modulus 11 check digit is arithmetic no built-in expectation does"

    @property
    def reason(self) -> str:
        return f"{self.field}: fails the NHS number Modulus 11 check"

    def to_expectation(self) -> None:
        return None


@dataclass(frozen=True)
class NotInFuture(Rule):
    now: dt.datetime  # parse's time of reading, or the suite's time of checking (later: rows still pass)

    # GX compares a timestamp column with a bound value by value in Python: 1 to 3 s per
    # 250,000-row batch and column, which would multiply a national month's validation time; its
    # column-max form fails on a batch whose values are all blank. Parse checks every row.
    parse_only: ClassVar[str] = "GX's row-wise timestamp bound is too slow for a national month"

    @property
    def reason(self) -> str:
        return f"{self.field}: in the future"

    def to_expectation(self) -> None:
        return None


@dataclass(frozen=True)
class NotAfter(Rule):
    later: str  # the field this one's value may not come after, on the same row

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field, self.later)

    @property
    def reason(self) -> str:
        return f"{self.field}: after {self.later}"

    def to_expectation(self) -> Expectation:
        return _gx().ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=self.later, column_B=self.field, or_equal=True, ignore_row_if="either_value_is_missing"
        )


@dataclass(frozen=True)
class Within(Rule):
    start: str  # fields bounding this one's value on the same row: from `start` to the end of
    end: str  # the day `end` names

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field, self.start, self.end)

    @property
    def reason(self) -> str:
        return f"{self.field}: outside {self.start} to {self.end}"

    def to_expectation(self) -> Expectation:
        # No expectation compares a value with two other columns, nor adds the end day's hours: a
        # row condition (a pandas query: GX's Condition objects compare a column with constants
        # only) picks the rows outside the period, and expecting their value to be null holds
        # only when there is no such row. GX keeps a query as a PassThroughCondition; handing it
        # the string itself is deprecated.
        gxe = _gx()  # before any other GX import
        from great_expectations.expectations.row_conditions import PassThroughCondition

        outside = f'{self.field} < {self.start} or {self.field} - {self.end} >= "1 day"'
        return gxe.ExpectColumnValuesToBeNull(
            column=self.field, row_condition=PassThroughCondition(pass_through_filter=outside)
        )


@dataclass(frozen=True)
class Unique(Rule):
    @property
    def reason(self) -> str:
        return f"{self.field}: duplicate of an earlier row"

    def to_expectation(self) -> Expectation:
        return _gx().ExpectColumnValuesToBeUnique(column=self.field)


def rules_of(schema: Schema, now: dt.datetime) -> list[Rule]:
    """Every rule the schema sets, field by field in the order parse reports a row's reasons,
    then its unique keys; `now` is when "not in the future" is judged."""
    rules: list[Rule] = []
    for f in schema.fields:
        if f.required:
            rules.append(Required(f.name))
        if f.usually_present is not None:
            rules.append(UsuallyPresent(f.name, f.usually_present))
        if f.min is not None:
            rules.append(Minimum(f.name, f.min))
        if f.max is not None:
            rules.append(Maximum(f.name, f.max))
        if f.codelist:
            rules.append(InCodelist(f.name, f.codelist))
        if f.pattern:
            rules.append(MatchesPattern(f.name, f.pattern))
        if f.max_length is not None:
            rules.append(MaxLength(f.name, f.max_length))
        if f.check == "nhs_number":
            rules.append(NhsNumber(f.name))
        if f.not_in_future:
            rules.append(NotInFuture(f.name, now))
        if f.not_after:
            rules.append(NotAfter(f.name, f.not_after))
        if f.within:
            rules.append(Within(f.name, *f.within))
    rules.extend(Unique(key) for key in schema.unique)
    return rules
