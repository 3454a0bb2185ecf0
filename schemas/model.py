"""The shape of a declared extract schema and its code lists.

Schemas are YAML so that a data officer or a governance board can read what is expected
without reading Python; this module only gives them types and lookups.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

SCHEMA_DIR = Path(__file__).parent
CODELIST_DIR = SCHEMA_DIR / "codelists"

SOURCES = {"ed": "ed_extract", "police": "police_extract", "police_uk": "police_uk_street"}

FieldType = Literal["string", "code", "date", "datetime", "month", "integer", "float"]

_TEXT, _NUMBERS, _TIMES = {"string", "code"}, {"integer", "float"}, {"date", "datetime", "month"}
# The field types each constraint applies to. Parse checks text constraints on the delivered text and
# the others on typed values, and Great Expectations checks all of them on typed values: on any other
# type they would mean something else to each, or nothing.
_APPLIES_TO = {
    "codelist": _TEXT,
    "pattern": _TEXT,
    "check": _TEXT,
    "max_length": _TEXT,
    "min": _NUMBERS,
    "max": _NUMBERS,
    "not_in_future": _TIMES,
    "not_after": _TIMES,
    "within": _TIMES,
}


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    key: str
    label: str


class Codelist(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    codes: list[Code]

    def codes_set(self) -> set[str]:
        return {c.code for c in self.codes}

    def key_for(self) -> dict[str, str]:
        return {c.code: c.key for c in self.codes}


class Field(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    header: str
    type: FieldType
    required: bool = False
    description: str
    identifier: bool = False
    free_text: bool = False
    codelist: str | None = None
    pattern: str | None = None
    check: Literal["nhs_number"] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    # Share of rows expected to carry a value (0-1); below it the check warns without stopping.
    usually_present: float | None = None
    not_in_future: bool = False
    not_after: str | None = None
    within: tuple[str, str] | None = None

    @model_validator(mode="after")
    def _constraints_fit(self) -> Field:
        for constraint, types in _APPLIES_TO.items():
            if getattr(self, constraint) not in (None, False) and self.type not in types:
                raise ValueError(f"{self.name}: {constraint} does not apply to a field of type {self.type}")
        if self.required and self.usually_present is not None:
            raise ValueError(f"{self.name}: a required field is always present; usually_present says nothing")
        return self


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    source: str
    title: str
    description: str
    month_field: str
    provider_field: str
    unique: list[str] = []
    fields: list[Field]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} declares no field {name!r}")

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def headers(self) -> dict[str, str]:
        """Delivered column header -> declared field name."""
        return {f.header: f.name for f in self.fields}

    @property
    def identifier_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.identifier or f.free_text]


def _read_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@cache
def load_schema(name: str) -> Schema:
    return Schema.model_validate(_read_yaml(SCHEMA_DIR / f"{name}.yaml"))


def schema_for_source(source: str) -> Schema:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}")
    return load_schema(SOURCES[source])


@cache
def load_codelist(name: str) -> Codelist:
    return Codelist.model_validate(_read_yaml(CODELIST_DIR / f"{name}.yaml"))
