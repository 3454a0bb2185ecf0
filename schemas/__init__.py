"""Declared extract schemas and code lists, loaded from the YAML files beside this module."""

from schemas.model import (
    Codelist,
    Field,
    Schema,
    load_codelist,
    load_schema,
    schema_for_source,
)

__all__ = ["Codelist", "Field", "Schema", "load_codelist", "load_schema", "schema_for_source"]
