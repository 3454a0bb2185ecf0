"""Statistical disclosure control for every published count: one policy, read from the agreement.

Two methods, chosen by the agreement:
- `cell_key` (the default): every figure is perturbed from its own records by the cell-key method
  (anonymise/cellkey.py). The same records give the same published value in every release and
  every table; a corrected month gives a fresh value. Noise alone is not enough in two places,
  where the agreement's minimums withhold figures: a cell's, area's or venue's count whose
  protected part would show below `cell_minimum` (withhold_small_counts), and a coarser area or
  longer window whose combined count would show below `area_minimum` (withhold_quiet_areas).
- `suppress_and_round` (the weaker choice, kept for agreements that ask for it): a count from 1 to
  the threshold is withheld (NULL, `<count>_suppressed` true), the rest rounded to the base. The
  same figure in a corrected release, or a total beside its parts, can narrow a withheld count.

Each published figure arrives with three parts: the count of its protected records, their summed
record keys, and the count of its records from sources the agreement declares public (police open
data: anyone can count those exactly). Only the protected part is perturbed; the public part is
added exactly, so subtracting public data from a published figure leaves the protected part as
noisy as it was published on its own, never bare.

Differential privacy is optional (`differential_privacy.epsilon`): discrete Laplace noise on the
protected part, seeded from the agreement's key and the month's content so that re-running an
unchanged month draws the same noise (anonymise/differential_privacy.py), before the method.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anonymise.cellkey import perturb, perturbation_table
from anonymise.differential_privacy import discrete_laplace, noise_seed

SUPPRESSION_THRESHOLD = 7
ROUNDING_BASE = 5
KEY_SUFFIX, PUBLIC_SUFFIX = "__key", "__public"
# The protected part of a figure as published before (its noise included): `protect` shows a
# value given in this column again (a corrected release, warehouse/corrections.py).
SHOWN_SUFFIX = "__shown"


@dataclass(frozen=True)
class DisclosurePolicy:
    method: str = "cell_key"  # or "suppress_and_round"
    suppression_threshold: int = SUPPRESSION_THRESHOLD
    rounding_base: int = ROUNDING_BASE
    max_deviation: int = 4
    variance: float = 2.0
    # Under the cell-key method, a coarser area or longer window (hotspot_areas) whose published
    # combined count is below this shows no protected figure: each such figure is another noisy
    # view of the small cells inside it, and enough views together narrow a small cell's count.
    area_minimum: int = 20
    # Under the cell-key method, a cell's, area's or venue's count whose published protected part
    # is below this is withheld (0: none): a small count's noise tells an intruder who knows one of
    # its incidents too much of the others'. The bundled agreement sets 5.
    cell_minimum: int = 0
    # Set when an agreement asks for differential privacy: discrete Laplace noise of this scale
    # (1 / epsilon) on each protected count, seeded by `noise_key` and the month's content digest.
    laplace_scale: float | None = None
    noise_key: bytes = field(default=b"", repr=False)
    content_sha256: str = ""

    def legend(self) -> str:
        """What a published count is, in words a reader of the report understands."""
        if self.method == "cell_key":
            return (
                f"Counts are perturbed by the cell-key method: each is moved by at most {self.max_deviation} "
                f"(variance {self.variance:g}), consistently, so the same incidents always show the same "
                "figure. Police open-data counts are public and shown exactly."
                + (
                    f" Coarser areas and longer windows with a combined count below {self.area_minimum} show "
                    "police counts only."
                    if self.area_minimum
                    else ""
                )
                + (
                    f" A count of a cell, area or venue whose protected part would show below {self.cell_minimum} "
                    "is withheld."
                    if self.cell_minimum
                    else ""
                )
            )
        return (
            f"Counts of 1 to {self.suppression_threshold} are suppressed (shown as —); "
            f"others are rounded to the nearest {self.rounding_base}."
        )

    def largest_withheld(self, with_public: bool = False) -> int:
        """Counts from 1 to this are never published (0: none). With public sources, whose counts
        are added exactly, a published count may be small whatever the method."""
        return self.suppression_threshold if self.method == "suppress_and_round" and not with_public else 0

    def smallest_shown(self) -> int:
        """The smallest positive count a reader may see published."""
        return (
            1
            if self.method == "cell_key"
            else (self.suppression_threshold // self.rounding_base + 1) * self.rounding_base
        )


def protect_count(count: int, policy: DisclosurePolicy) -> int | None:
    """Suppression and rounding of one count (the `suppress_and_round` method)."""
    if count == 0:
        return 0
    if count <= policy.suppression_threshold:
        return None
    base = policy.rounding_base
    rounded = ((count + base // 2) // base) * base
    # With some thresholds (10 with base 5, say) plain rounding would publish 11 as 10, a value
    # inside the suppressed range; never publish below the first multiple above the threshold.
    return max(rounded, policy.smallest_shown())


def _noised(counts: np.ndarray, policy: DisclosurePolicy, label: str) -> np.ndarray:
    if not policy.laplace_scale:
        return counts
    return discrete_laplace(
        counts, policy.laplace_scale, noise_seed(policy.noise_key, policy.content_sha256, label=label)
    )


def protect(table: pd.DataFrame, count_columns: list[str], policy: DisclosurePolicy, label: str = "") -> pd.DataFrame:
    """A copy with each count column published and a boolean `<count>_suppressed` flag beside it.
    A count column comes with `<count>__key` (summed record keys of its protected records) and
    `<count>__public` (its records from public sources); both are consumed here, and so is the
    optional `<count>__shown`: where set, the protected part as released before under the cell-key
    method, shown again whatever its parameters now. `label` names the table, so that
    differential-privacy noise differs between tables."""
    out = table.copy()
    for column in count_columns:
        protected = _noised(out[column].fillna(0).astype(np.int64).to_numpy(), policy, f"{label}.{column}")
        public = out.pop(column + PUBLIC_SUFFIX).fillna(0).astype(np.int64).to_numpy()
        keys = out.pop(column + KEY_SUFFIX).fillna(0).astype(np.int64).to_numpy()
        if policy.method == "cell_key":
            part = pd.array(perturb(protected, keys, perturbation_table(policy.max_deviation, policy.variance)))
        else:
            withheld = (protected >= 1) & (protected <= policy.suppression_threshold)
            part = pd.array([None if w else protect_count(int(c), policy) for c, w in zip(protected, withheld)])
        part = part.astype("Int64")
        released = out.pop(column + SHOWN_SUFFIX) if column + SHOWN_SUFFIX in out else None
        if released is not None and policy.method == "cell_key":  # figures kept at their released value
            kept = released.notna().to_numpy()
            part[kept] = released[kept].astype("int64").to_numpy()
        out[column] = part + public
        out[f"{column}_suppressed"] = part.isna()
    return out


def withhold_quiet_areas(
    table: pd.DataFrame, policy: DisclosurePolicy, protected: list[str], total: str
) -> pd.DataFrame:
    """Under the cell-key method, the protected figures of rows whose published `total` is below
    the policy's area minimum, withheld (NULL, flagged): the rows stay, with their public counts."""
    if policy.method != "cell_key" or not policy.area_minimum:
        return table
    quiet = (table[total].fillna(0) < policy.area_minimum).to_numpy()
    for column in protected:
        _withhold(table, column, quiet)
    return table


def _withhold(table: pd.DataFrame, column: str, rows: np.ndarray) -> None:
    """The column's count NULL and flagged `_suppressed` in the rows given."""
    table[column] = table[column].mask(rows)
    table[f"{column}_suppressed"] = table[f"{column}_suppressed"] | rows


def withhold_small_counts(
    table: pd.DataFrame, figures: pd.DataFrame, policy: DisclosurePolicy, counts: list[str]
) -> pd.DataFrame:
    """Under the cell-key method with a cell minimum, each of `counts` whose published protected
    part (the published count less its public records; `figures`: what `protect` was given, row
    for row) is below the minimum, withheld (NULL, flagged): a small count, zero included, then
    reads as "fewer than the minimum", so an intruder who knows one of its incidents can no longer
    read the others' number off its noise. A count column with no protected record in the month
    (its sources all public, or none delivered) is shown as it is: it holds nothing to protect."""
    if policy.method != "cell_key" or not policy.cell_minimum:
        return table
    for column in counts:
        if not figures[column].fillna(0).to_numpy().any():
            continue
        public = figures[column + PUBLIC_SUFFIX].fillna(0).astype("int64").to_numpy()
        part = table[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan) - public
        _withhold(table, column, part < policy.cell_minimum)  # NaN (withheld already) compares False
    return table


def rows_showing_something(table: pd.DataFrame, counts: list[str], policy: DisclosurePolicy) -> pd.DataFrame:
    """The rows that show something: a count above zero, or one suppressed (suppress_and_round
    withholds a count to say "a few"). A table whose rows are where records are (cells, areas,
    venues, methods) has no row where there is none, and the cell-key method moves small counts
    to 0 and withholds a quiet area's: left in, a row showing nothing would still say that it
    stands for records. Left out, it reads as no row, a true zero as much as a small count."""
    shown = (table[counts].fillna(0) != 0).to_numpy().any(axis=1)
    if policy.method != "cell_key":
        shown = shown | table[[f"{c}_suppressed" for c in counts]].fillna(False).to_numpy(dtype=bool).any(axis=1)
    return table[shown].reset_index(drop=True)


POLICE_OPEN_DATA_SENTENCE = "Police open-data counts are public and shown exactly."


def disclosure_legend(policy: DisclosurePolicy, public_sources: Iterable[str] = ("police_uk",)) -> str:
    """`policy.legend()`, kept true to the agreement: its sentence on police open data only when the
    agreement declares that source public. Plain text, for the command line (a withheld count is
    shown there as '—')."""
    text = policy.legend()
    public = tuple(public_sources)
    if POLICE_OPEN_DATA_SENTENCE in text and "police_uk" not in public:
        text = text.replace(POLICE_OPEN_DATA_SENTENCE, "").strip()
    elif POLICE_OPEN_DATA_SENTENCE not in text and "police_uk" in public:
        text += " " + POLICE_OPEN_DATA_SENTENCE
    return text
