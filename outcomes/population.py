"""Resident population of the partnership's area, from ONS mid-year estimates, when bundled.

The estimates are read from an optional CSV, open_data/population/mid_year_estimates.csv
(columns area_code, year, population, source; see open_data/population/README.md), or from the
file ISTV_POPULATION_FILE names. Nothing is estimated here: an area or year the file does not
hold has no population (None), and the mission is then measured in incidents, not per 100,000
residents. A mid-year estimate stands for its calendar year (30 June is its reference date).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import open_data

POPULATION_FILE_ENV = "ISTV_POPULATION_FILE"
BUNDLED_FILE = open_data.ROOT / "population" / "mid_year_estimates.csv"
COLUMNS = ("area_code", "year", "population", "source")


class PopulationError(ValueError):
    """The population file is there but cannot be read as mid-year estimates."""


def population_file(path: Path | str | None = None) -> Path:
    """The file read: `path`, else $ISTV_POPULATION_FILE, else the bundled one (which may be absent)."""
    if path is not None:
        return Path(path)
    named = os.environ.get(POPULATION_FILE_ENV)
    return Path(named) if named else BUNDLED_FILE


def estimates(path: Path | str | None = None) -> dict[tuple[str, int], int]:
    """(area_code, year) -> residents, empty when there is no file."""
    file = population_file(path)
    if not file.is_file():
        return {}
    stat = file.stat()
    return dict(_read(str(file.resolve()), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=8)
def _read(file: str, _mtime: int, _size: int) -> tuple[tuple[tuple[str, int], int], ...]:
    found: dict[tuple[str, int], int] = {}
    with open(file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PopulationError(f"{file} has no column {', '.join(missing)}: its columns are {', '.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            area = (row["area_code"] or "").strip()
            try:
                year, residents = int(row["year"]), int(row["population"])
            except (TypeError, ValueError):
                raise PopulationError(f"{file} line {line}: year and population must be whole numbers") from None
            if not area or residents <= 0:
                raise PopulationError(f"{file} line {line}: an area code and a positive population are needed")
            if (area, year) in found:
                raise PopulationError(f"{file} line {line}: {area} {year} is given twice")
            found[(area, year)] = residents
    return tuple(found.items())


def population(area_codes: Iterable[str], year: int, path: Path | str | None = None) -> int | None:
    """Residents of the local authorities `area_codes` together in `year`, or None when the file
    lacks any of them for that year (a partial sum would understate the population)."""
    known = estimates(path)
    codes = list(area_codes)
    if not codes or any((code, year) not in known for code in codes):
        return None
    return sum(known[(code, year)] for code in codes)
