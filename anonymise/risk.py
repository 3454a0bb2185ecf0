"""Re-identification risk of the row-level pseudonymised zone: k-anonymity over the declared
quasi-identifiers (the ARX / sdcMicro measure). A row in a group of size k can be singled out
with probability 1/k by someone who knows those attributes of a person."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd


@dataclass(frozen=True)
class RiskReport:
    quasi_identifiers: tuple[str, ...]
    rows: int
    groups: int
    k: int  # size of the smallest group (0 when there are no rows)
    target_k: int
    rows_below_target: int
    smallest_groups: tuple[int, ...]  # sizes of the ten smallest groups

    @property
    def below_target(self) -> bool:
        return self.rows > 0 and self.k < self.target_k

    @property
    def highest_risk(self) -> float:
        """Prosecutor risk of the most exposed row, 1/k."""
        return 1 / self.k if self.k else 0.0

    def as_metadata(self) -> dict[str, int | float | str]:
        return {
            "quasi_identifiers": ", ".join(self.quasi_identifiers),
            "rows": self.rows,
            "groups": self.groups,
            "k": self.k,
            "target_k": self.target_k,
            "rows_in_groups_below_target": self.rows_below_target,
            "highest_risk": round(self.highest_risk, 3),
            "smallest_group_sizes": ", ".join(map(str, self.smallest_groups)),
        }


# The group sizes summarised in one pass: groups, rows, k, rows in groups below the target k and
# the ten smallest sizes (all 0 or empty when there are no rows).
_GROUP_SIZES_SQL = """
SELECT count(*), coalesce(sum(size), 0)::BIGINT, coalesce(min(size), 0),
       coalesce(sum(size) FILTER (WHERE size < {target_k}), 0)::BIGINT, coalesce(min(size, 10), [])
FROM (SELECT count(*) AS size FROM qi_rows GROUP BY {quasi_identifiers})
"""


def k_anonymity(
    rows: duckdb.DuckDBPyRelation | pd.DataFrame, quasi_identifiers: list[str], target_k: int
) -> RiskReport:
    """k-anonymity of `rows`: a DuckDB relation (e.g. over a month's joint Parquet file) or a
    frame, which DuckDB scans where it is; only group sizes are computed, no row is fetched.
    Missing values form their own category, as GROUP BY makes them (an attacker who knows a
    value is missing learns as much as one who knows the value)."""
    relation = rows if isinstance(rows, duckdb.DuckDBPyRelation) else duckdb.from_df(rows)
    present = [q for q in quasi_identifiers if q in relation.columns]
    if not present:
        return RiskReport((), relation.aggregate("count(*)").fetchone()[0], 0, 0, target_k, 0, ())
    grouped_by = ", ".join('"' + q.replace('"', '""') + '"' for q in present)
    sql = _GROUP_SIZES_SQL.format(quasi_identifiers=grouped_by, target_k=int(target_k))
    groups, total, k, below, smallest = relation.query("qi_rows", sql).fetchone()
    return RiskReport(
        quasi_identifiers=tuple(present),
        rows=total,
        groups=groups,
        k=k,
        target_k=target_k,
        rows_below_target=below,
        smallest_groups=tuple(smallest),
    )
