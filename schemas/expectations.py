"""Great Expectations suites generated from the declared schemas, and a privacy-safe runner.

Results are reduced to counts before they leave this module: GX's own result objects can carry
sample values ("partial_unexpected_list"), and the rows validated here hold identifiers.
"""

from __future__ import annotations

import datetime as dt
import os
import re

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # nothing phones home

from collections.abc import Iterable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from functools import cache  # noqa: E402

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.execution_engine import pandas_execution_engine  # noqa: E402

from schemas.model import Schema  # noqa: E402
from schemas.rules import Unique, rules_of  # noqa: E402

# GX fingerprints every data frame under this size by hashing all of its values, for a batch
# marker nothing here reads: a third of a national month's validation time. No frame is hashed.
pandas_execution_engine.HASH_THRESHOLD = 0

# BASIC gives counts; a zero sample size keeps raw values out of the result entirely.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    severity: str  # "error" stops the run, "warning" does not


@dataclass(frozen=True)
class ValidationSummary:
    suite: str
    outcomes: tuple[ExpectationOutcome, ...]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes if o.severity == "error")

    @property
    def warned(self) -> bool:
        return any(not o.success for o in self.outcomes if o.severity == "warning")

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def as_metadata(self) -> dict[str, int | str]:
        """Counts only: safe for Dagster's event log."""
        failed = self.failed
        return {
            "suite": self.suite,
            "expectations": len(self.outcomes),
            "failed_expectations": len(failed),
            "failed": ", ".join(f"{o.severity} {o.expectation}({o.column}): {o.unexpected_count}" for o in failed)
            or "none",
        }


def extract_suite(schema: Schema, uniqueness: bool = True, now: dt.datetime | None = None) -> gx.ExpectationSuite:
    """What every passed row of an extract must satisfy: the schema's rules (schemas.rules), the
    same ones parse quarantined rows by. Rules GX cannot check are listed in the suite's meta.
    Without `uniqueness` the unique keys are left to the caller (who counts them over a whole file).
    `now` is when "not in the future" is judged (by default, now: later than parse's, so rows
    parse passed still pass)."""
    rules = rules_of(schema, now or dt.datetime.now())
    expectations = [gxe.ExpectColumnToExist(column=f.name) for f in schema.fields]
    for rule in rules:
        if isinstance(rule, Unique) and not uniqueness:
            continue
        expectation = rule.to_expectation()
        if expectation is not None:
            expectations.append(expectation)
    parse_only = [rule.reason for rule in rules if rule.parse_only]
    return gx.ExpectationSuite(
        name=f"{schema.name}_passed_rows", expectations=expectations, meta={"checked_by_parse_only": parse_only}
    )


def published_suite(
    table: str, count_columns: list[str], key_columns: list[str], threshold: int
) -> gx.ExpectationSuite:
    """A published table: keys present, no negative count and none between 1 and `threshold`
    (the largest count the agreement's method withholds; 0 when it withholds none)."""
    expectations = []
    for key in key_columns:
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=key))
    small = list(range(1, threshold + 1))
    for column in count_columns:
        if small:
            expectations.append(gxe.ExpectColumnValuesToNotBeInSet(column=column, value_set=small))
        expectations.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
    return gx.ExpectationSuite(name=f"{table}_published", expectations=expectations)


@cache
def _context():
    """One ephemeral context a process (nothing written to disk)."""
    return gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )


@cache
def _frames_of(name: str):
    """Where frames validated by the suite `name` come from, declared once a process: each
    declaration makes GX write its whole configuration out again (a tenth of a second each,
    eleven times a city month)."""
    return (
        _context()
        .data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(name=name)
        .add_batch_definition_whole_dataframe(name)
    )


def values_read(suite: gx.ExpectationSuite, names: Iterable[str]) -> list[str]:
    """Those of the columns `names` whose values some expectation of the suite reads: the ones it
    is about, and those its row condition names (more than the names of columns it expects)."""
    read: set[str] = set()
    for e in suite.expectations:
        kwargs = e.configuration.kwargs
        if e.expectation_type == "expect_column_to_exist":
            continue
        read |= {kwargs[key] for key in ("column", "column_A", "column_B") if key in kwargs}
        read |= set(kwargs.get("column_list", ()))
        condition = str(kwargs.get("row_condition") or "")
        read |= {name for name in names if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", condition)}
    return [name for name in names if name in read]


def validate(frame: pd.DataFrame, suite: gx.ExpectationSuite) -> ValidationSummary:
    """Validate in an ephemeral context. An expectation whose meta says severity "warning" is
    reported but does not stop the run."""
    batch = _frames_of(suite.name).get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format=RESULT_FORMAT)
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        kind = config.type
        outcomes.append(
            ExpectationOutcome(
                expectation=kind,
                column=config.kwargs.get("column") or config.kwargs.get("column_B"),
                success=bool(r.success),
                unexpected_count=int(r.result.get("unexpected_count") or 0),
                severity=(config.meta or {}).get("severity", "error"),
            )
        )
    return ValidationSummary(suite.name, tuple(outcomes))
