"""Declared extract schemas and code lists, loaded from the YAML files beside this module."""

from schemas.model import (
    Codelist,
    Field,
    Schema,
    load_codelist,
    load_schema,
    schema_for_source,
)

__all__ = ["DUCKDB_MEMORY", "Codelist", "Field", "Schema", "load_codelist", "load_schema", "schema_for_source"]

# DuckDB's memory cap for work over a whole extract (uniqueness of keys): past it, DuckDB spills
# to disk, so a national month needs no more memory than a city's.
DUCKDB_MEMORY = "512MB"
