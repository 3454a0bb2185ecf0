"""Saved queries, declared in queries.yaml beside this module."""

from functools import cache
from pathlib import Path

import yaml


@cache
def saved_queries() -> dict[str, dict[str, str]]:
    return yaml.safe_load((Path(__file__).parent / "queries.yaml").read_text(encoding="utf-8"))
