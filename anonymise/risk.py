"""Re-identification risk of the row-level pseudonymised zone: k-anonymity over the declared
quasi-identifiers (the ARX / sdcMicro measure). A row in a group of size k can be singled out
with probability 1/k by someone who knows those attributes of a person."""

from __future__ import annotations

from dataclasses import dataclass

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


def k_anonymity(rows: pd.DataFrame, quasi_identifiers: list[str], target_k: int) -> RiskReport:
    """Missing values form their own category (an attacker who knows a value is missing learns
    as much as one who knows the value)."""
    present = [q for q in quasi_identifiers if q in rows.columns]
    if rows.empty or not present:
        return RiskReport(tuple(present), len(rows), 0, 0, target_k, 0, ())
    sizes = rows[present].astype("string").fillna("<missing>").value_counts()
    return RiskReport(
        quasi_identifiers=tuple(present),
        rows=len(rows),
        groups=len(sizes),
        k=int(sizes.min()),
        target_k=target_k,
        rows_below_target=int(sizes[sizes < target_k].sum()),
        smallest_groups=tuple(int(s) for s in sizes.sort_values().head(10)),
    )
