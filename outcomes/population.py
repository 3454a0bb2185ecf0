"""Resident population of the partnership's area: ONS mid-year estimates when bundled, else the
bundled Census 2011 and 2021 counts.

Mid-year estimates are read from an optional CSV, open_data/population/mid_year_estimates.csv
(columns area_code, year, population, source; see open_data/population/README.md), or from the
file ISTV_POPULATION_FILE names; a mid-year estimate stands for its calendar year (30 June is its
reference date). A year the estimates do not hold is, by default, taken from the bundled census
counts (open_data/population/census_population.csv, ONS, every local authority of England and
Wales): straight-line between the two censuses and the nearest census outside them, the usual
way to carry a census count to the years around it. A file named by ISTV_POPULATION_FILE (or
passed in) is used alone: an area or year it does not hold has no population (None), and the
mission is then measured in incidents, not per 100,000 residents.
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
CENSUS_FILE = open_data.ROOT / "population" / "census_population.csv"
COLUMNS = ("area_code", "year", "population", "source")


class PopulationError(ValueError):
    """The population file is there but cannot be read as mid-year estimates."""


def population_file(path: Path | str | None = None) -> Path | None:
    """The file named: `path`, else $ISTV_POPULATION_FILE; None for the bundled sources."""
    if path is not None:
        return Path(path)
    named = os.environ.get(POPULATION_FILE_ENV)
    return Path(named) if named else None


def estimates(path: Path | str | None = None) -> dict[tuple[str, int], int]:
    """(area_code, year) -> residents, empty when there is no file."""
    file = population_file(path) or BUNDLED_FILE
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
    """Residents of the local authorities `area_codes` together in `year`, or None when the
    sources lack any of them for that year (a partial sum would understate the population)."""
    codes = list(area_codes)
    if not codes:
        return None
    known = estimates(path)
    if all((code, year) in known for code in codes):
        return sum(known[(code, year)] for code in codes)
    if population_file(path) is not None:
        return None
    counted = [census_population(code, year) for code in codes]
    return None if None in counted else sum(counted)


def census_population(area_code: str, year: int) -> int | None:
    """The area's residents in `year` from the bundled censuses: straight-line between the census
    years around it, the nearest census's count outside them; None for an area not counted."""
    counts = sorted((y, n) for (code, y), n in estimates(CENSUS_FILE).items() if code == area_code)
    if not counts:
        return None
    if year <= counts[0][0]:
        return counts[0][1]
    for (y0, n0), (y1, n1) in zip(counts, counts[1:]):
        if year <= y1:
            return round(n0 + (n1 - n0) * (year - y0) / (y1 - y0))
    return counts[-1][1]
