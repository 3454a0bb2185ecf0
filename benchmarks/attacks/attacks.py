"""The four attacks on the published tables (see the package's docstring)."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import h3
import numpy as np
import pandas as pd

from anonymise.disclosure import DisclosurePolicy

from .data import NOISE_KEY, Month, PoliceMonth, default_policy, joint_frame, public_sources, synthetic_ed
from .release import (
    Release,
    as_day,
    content_sha256,
    first_release,
    key_strings,
    publish_copies,
    publish_corrected,
    publish_release,
    release_month,
    table_bytes,
)
from .scoring import ATTACKED, TOLERANCE, Law, Score, criterion_failures, guessing_baseline, score


def _attacked(truth) -> np.ndarray:
    truth = np.asarray(truth)
    return (truth >= ATTACKED[0]) & (truth <= ATTACKED[-1])


# --------------------------------------------------------------------------------------------
# Attack 1: subtracting the public police counts
# --------------------------------------------------------------------------------------------


def open_data_counts(police: PoliceMonth) -> pd.Series:
    """What the intruder counts from data.police.uk: violence records per cell."""
    return police.rows["cell_id"].dropna().value_counts()


def public_subtraction(
    releases: Sequence[Release], police: Sequence[PoliceMonth], setting: str, public_split: bool = True
) -> Score:
    """Each cell's ED count estimated as its published combined count minus the exact public
    police count, beside the published ED column. With the police counted apart (the agreement's
    public source, `public_split`), the combined figure's protected records are the ED records,
    so it is the ED figure again (same records, same perturbation) and is used once; without
    (the code before c23185c), combined is an independent figure of ED + police."""
    truth, liks, estimates, agree = [], [], [], []
    for release, month in zip(releases, police):
        law = Law(release.policy)
        ed = release.figure("hotspot_cells", "ed_assaults", month.month)
        combined = release.figure("hotspot_cells", "combined", month.month).reindex(ed.index)
        police_count = open_data_counts(month).reindex(ed.index).fillna(0).astype(int).to_numpy()
        attacked = _attacked(ed["protected"])
        subtracted = combined["published"].to_numpy() - police_count
        same = (subtracted == ed["published"].to_numpy()) | (np.isnan(subtracted) & ed["published"].isna().to_numpy())
        agree.extend(same[attacked])
        for p_ed, p_combined, n_police in zip(
            ed["published"][attacked], combined["published"][attacked], police_count[attacked]
        ):
            candidates = np.asarray(ATTACKED)
            lik = law.lik(p_ed, candidates)
            if not public_split:
                lik = lik * law.lik(p_combined, candidates + n_police)
            liks.append(lik)
        truth.extend(ed["protected"][attacked])
        estimates.extend(subtracted[attacked])
    return score(
        "1 public-data subtraction",
        setting,
        np.array(truth),
        np.array(liks).reshape(-1, len(ATTACKED)),
        np.array(estimates),
        note=f"combined - open-data police; ED column agrees in {np.mean(agree):.1%}" if agree else "",
        agree=float(np.mean(agree)) if agree else float("nan"),
    )


# --------------------------------------------------------------------------------------------
# Attack 2: one-row corrections
# --------------------------------------------------------------------------------------------

ATTRIBUTES = {  # what a changed ED figure tells of the changed row: table, key columns
    "cell": ("hotspot_cells", ["cell_id"]),
    "hour_of_week": ("hour_of_week", ["weekday", "hour"]),
    "method": ("assault_methods", ["method"]),
}


@dataclass
class CorrectionResult:
    pin: Score  # the corrected cell's count, from the two releases
    first_only: Score  # the same intruder with the first release alone: what the correction adds is pin - this
    learned: dict[str, float]  # attribute -> share of corrections where the intruder names it
    baseline: dict[str, float]  # attribute -> share of the changed rows with its most common value (in the population)
    all_three: float  # share where cell, hour of week and method are all named
    visible: float  # share of corrections where some published figure changed
    trials: int

    def attribute_failures(self) -> list[str]:
        """Each attribute named more often than by guessing + TOLERANCE."""
        return [
            f"{name} named {self.learned[name]:.1%} > guess {self.baseline[name]:.1%} + {100 * TOLERANCE:g} pt"
            for name in ATTRIBUTES
            if self.learned[name] - self.baseline[name] > TOLERANCE
        ]

    def failures(self) -> list[str]:
        """Why the attack fails the requirement: the count's (criterion_failures), the attributes'."""
        return criterion_failures(self.pin) + self.attribute_failures()


def _ed_figures(release: Release, table: str) -> pd.Series:
    f = release.figure(table, "ed_assaults")
    return f["published"]


def _changed(before: pd.Series, after: pd.Series) -> pd.Series:
    """|after - before| of the figures that differ (a figure absent from a release reads as 0:
    no row shows nothing), NaN (withheld) counted as differing from any number."""
    keys = before.index.union(after.index)
    a, b = before.reindex(keys), after.reindex(keys)
    a = a.where(a.index.isin(before.index), 0.0)
    b = b.where(b.index.isin(after.index), 0.0)
    differs = ~((a == b) | (a.isna() & b.isna()))
    return (b - a).abs().fillna(np.inf)[differs]


def _attribute(row: pd.Series, columns: list[str]) -> str:
    """A row's value of an attribute, spelt as the table's key."""
    return "|".join(str(row[c]) for c in columns)


def _seen(figures: pd.DataFrame, key: str) -> float | None:
    """What a release shows of a figure: its published value (NaN: withheld), None: no row."""
    return float(figures["published"][key]) if key in figures.index else None


def _same(a: float | None, b: float | None) -> bool:
    """The same thing shown: both no row, both withheld, or the same value."""
    if a is None or b is None:
        return a is None and b is None
    return a == b or (math.isnan(a) and math.isnan(b))


def _figure_lik(law: Law, seen: float | None, counts: np.ndarray) -> np.ndarray:
    """P(what a release shows of a figure | its count). No row reads as a row of zeros, or of
    counts withheld under a cell minimum: a sparse table leaves such rows out, whether they hold
    records or none (a suppressed count keeps its row: under suppress_and_round no row is still a
    true zero)."""
    if seen is None:
        seen = np.nan if law.policy.method == "cell_key" and law.policy.cell_minimum else 0.0
    return law.lik(seen, counts)


def _corrected_lik(
    law: Law, seen_first: float | None, seen_corrected: float | None, counts: np.ndarray, ledger: bool
) -> np.ndarray:
    """P(what the corrected release shows of a figure | its corrected count, what the first
    release showed). Without the ledger the figure is published afresh. With it
    (warehouse.corrections), a one-row correction moves the figure by one record, fewer than the
    threshold: a figure of the first release shows its released value again, and a new one stays
    unpublished while it holds fewer records than the threshold."""
    threshold = law.policy.suppression_threshold
    if not ledger or threshold <= 1:
        return _figure_lik(law, seen_corrected, counts)
    if seen_first is not None:
        return np.full(len(counts), float(_same(seen_corrected, seen_first)))
    if seen_corrected is None:
        return (counts < threshold).astype(float)
    return (counts >= threshold) * law.lik(seen_corrected, counts)


def draw_corrections(
    month: Month, trials: int, mode: str, seed: int
) -> tuple[pd.DataFrame, list[pd.DataFrame], pd.DataFrame]:
    """The corrections of the month: the changed rows, the corrected versions and the population
    they are drawn from, with `n`, each row's cell count with the row. The population: the ED rows
    whose cell holds 1 to 7 protected records with the row (the counts attacked; drawn among
    those, they are distributed as the attacked ones of uniform draws), rows of the month to
    remove, or new synthetic rows to add (at least 2000 drawn). `trials` of them are drawn at
    random, without replacement (all of them when trials is larger), each corrected on its own."""
    rng = np.random.default_rng(seed)
    joint = month.joint
    population = correction_population(month, mode, seed, max(4 * trials, 2000))
    chosen = (
        population
        if trials >= len(population)
        else population.iloc[np.sort(rng.choice(len(population), trials, replace=False))]
    )
    if mode == "remove":
        versions = [joint.drop(index=i).reset_index(drop=True) for i in chosen.index]
    else:
        versions = [pd.concat([joint, chosen.loc[[i], joint.columns]], ignore_index=True) for i in chosen.index]
    return chosen, versions, population


def correction_population(
    month: Month, mode: str, seed: int = 0, new_rows: int = 2000, key: Sequence[str] = ("cell_id",)
) -> pd.DataFrame:
    """The rows a one-row correction changes, with `n`, the count of the row's figure (by default
    its cell; `key`: the columns naming the figure) with the row: the ED rows whose figure holds
    1 to 7 protected records with the row, rows of the month ("remove") or new synthetic rows
    ("add", `new_rows` drawn)."""
    joint, key = month.joint, list(key)
    named = joint[key].notna().all(axis=1).to_numpy()
    figure = pd.Series(key_strings(joint[named], key), index=joint.index[named])
    protected = ~joint.loc[named, "source"].isin(public_sources()).to_numpy()
    counts = figure[protected].value_counts()
    if mode == "remove":
        candidates = joint[(joint["source"] == "ed").to_numpy() & named].copy()
        candidates["n"] = figure.map(counts)
    elif mode == "add":
        drawn = joint_frame([synthetic_ed(month.police, new_rows, seed=seed + 7_919)])
        candidates = drawn[drawn[key].notna().all(axis=1)].copy()
        candidates["n"] = pd.Series(key_strings(candidates, key), index=candidates.index).map(counts).fillna(0) + 1
    else:
        raise ValueError(f"mode is remove or add, not {mode}")
    return candidates[candidates["n"].between(ATTACKED[0], ATTACKED[-1])].astype({"n": np.int64})


KNOWN = {"cell": ("hotspot_cells", ["cell_id"]), "hour of week": ("hour_of_week", ["weekday", "hour"])}  # what is known


def known_incident(
    months: Sequence[Month],
    policy: DisclosurePolicy,
    modes: Sequence[str] = ("remove", "add"),
    seed: int = 0,
    setting: str = "",
) -> dict[tuple[str, str], Score]:
    """What each month's first release alone tells an intruder who knows one incident's cell, or
    its hour of the week: over every row of each month's correction population
    (correction_population), that figure's count with the row, attacked from the figure's
    published ED value (or its having no row). With the Corrections ledger a one-row correction
    publishes the first release again (one_row_corrections), so this is all that comparing the two
    releases tells; no release is rebuilt per row, so every row is attacked. Keyed (what is
    known, mode)."""
    law = Law(policy)
    with_row = np.asarray(ATTACKED)
    truth: dict[tuple[str, str], list] = {(k, m): [] for k in KNOWN for m in modes}
    liks: dict[tuple[str, str], list] = {(k, m): [] for k in KNOWN for m in modes}
    for month in months:
        first, _ = first_release(month.joint, policy, [month.police])
        for known, (table, key) in KNOWN.items():
            figures = first.figure(table, "ed_assaults")
            for mode in modes:
                population = correction_population(month, mode, seed, key=key)
                before = with_row if mode == "remove" else with_row - 1  # the figure's count in the first release
                truth[known, mode].extend(population["n"])
                liks[known, mode].extend(
                    _figure_lik(law, _seen(figures, figure), before) for figure in key_strings(population, key)
                )
    return {
        (known, mode): score(
            f"2 known {known} ({mode})",
            setting or policy.method,
            np.array(truth[known, mode]),
            np.array(liks[known, mode]).reshape(-1, len(ATTACKED)),
            note=f"first release alone, every one of {len(truth[known, mode])} rows, {len(months)} months",
        )
        for known in KNOWN
        for mode in modes
    }


def one_row_corrections(
    month: Month,
    policy: DisclosurePolicy,
    trials: int,
    modes: Sequence[str] = ("remove", "add"),
    seed: int = 0,
    ledger: bool = True,
    setting: str | None = None,
    batch: int = 40,
) -> dict[str, CorrectionResult]:
    """For each mode, `trials` corrections of the month, each on its own: one ED row removed
    ("remove") or one new ED row added ("add"), in a cell holding 1 to 7 records with the row
    (draw_corrections). Each corrected month is published and compared with the month's first
    release. `ledger`: as production publishes a re-delivered month, built against the first
    release's ledger (Corrections; one build_tables call per correction); without it, each
    version published afresh (the rule before the ledger; built together by publish_copies,
    `batch` at a time).

    (a) The corrected cell's count (with the row; 1..7 attacked): the intruder knows the cell
    (targeted: the figure that changed, or what they know of the incident), the direction of the
    correction and the publication rule, and combines the two releases: P(first release | n)
    P(corrected release | n, first release), the counts with and without the row.
    (b) The changed row's cell, hour of week and method: the intruder names, in each table, the
    figure that changed (the largest change), or, if none did, the largest published figure."""
    drawn = {mode: draw_corrections(month, trials, mode, seed) for mode in modes}
    versions = [version for mode in modes for version in drawn[mode][1]]
    if ledger:
        first, released = first_release(month.joint, policy, [month.police])
        corrected = publish_corrected(versions, policy, released, police=[month.police])
    else:
        first, corrected = None, []
        for start in range(0, len(versions), batch):
            built = publish_copies([month.joint, *versions[start : start + batch]], policy, police=[month.police])
            first = first or built[0]
            corrected.extend(built[1:])
    results, start = {}, 0
    for mode in modes:
        changed_rows, mine, population = drawn[mode]
        results[mode] = _score_corrections(
            mode,
            first,
            corrected[start : start + len(mine)],
            changed_rows,
            population,
            ledger,
            setting or policy.method,
        )
        start += len(mine)
    return results


def _score_corrections(
    mode: str,
    first: Release,
    corrected: Sequence[Release],
    changed_rows: pd.DataFrame,
    population: pd.DataFrame,
    ledger: bool,
    setting: str,
) -> CorrectionResult:
    law = Law(first.policy)
    first_figures = {name: _ed_figures(first, table) for name, (table, _) in ATTRIBUTES.items()}
    first_cells = first.figure("hotspot_cells", "ed_assaults")
    named = {name: [] for name in ATTRIBUTES}
    true_values = {name: [] for name in ATTRIBUTES}
    truth, liks, first_liks, visible = [], [], [], []
    with_row = np.asarray(ATTACKED)
    n_first, n_corrected = (with_row, with_row - 1) if mode == "remove" else (with_row - 1, with_row)
    for (_, row), release in zip(changed_rows.iterrows(), corrected):
        visible.append(release.differs_from(first))
        for name, (table, columns) in ATTRIBUTES.items():
            change = _changed(first_figures[name], _ed_figures(release, table))
            guess = change.idxmax() if len(change) else first_figures[name].fillna(0).idxmax()
            true_values[name].append(_attribute(row, columns))
            named[name].append(guess == true_values[name][-1])
        cell = row["cell_id"]
        truth.append(int(first_cells["protected"].get(cell, 0)) + (mode == "add"))  # the cell's count with the row
        seen_first = _seen(first_cells, cell)
        seen_corrected = _seen(release.figure("hotspot_cells", "ed_assaults"), cell)
        first_liks.append(_figure_lik(law, seen_first, n_first))
        liks.append(first_liks[-1] * _corrected_lik(law, seen_first, seen_corrected, n_corrected, ledger))
    assert truth == changed_rows["n"].tolist(), "the release's counts are not the corrections' counts"
    rule = "the Corrections ledger" if ledger else "no ledger (each version published afresh)"
    attack, counts = f"2 one-row corrections ({mode})", population["n"].to_numpy()
    pin = score(
        attack,
        setting,
        np.array(truth),
        np.array(liks).reshape(-1, len(ATTACKED)),
        note=f"{rule}; two releases, direction known",
        population=counts,
    )
    first_only = score(
        attack,
        f"{setting}, first release alone",
        np.array(truth),
        np.array(first_liks).reshape(-1, len(ATTACKED)),
        population=counts,
    )
    known = {
        name: [_attribute(row, columns) for _, row in population.iterrows()]
        for name, (_, columns) in ATTRIBUTES.items()
    }
    return CorrectionResult(
        pin,
        first_only,
        {k: float(np.mean(v)) for k, v in named.items()},
        {k: guessing_baseline(np.array(v), np.array(known[k])) for k, v in true_values.items()},
        float(np.mean(np.all([named[k] for k in ATTRIBUTES], axis=0))),
        float(np.mean(visible)),
        len(corrected),
    )


# --------------------------------------------------------------------------------------------
# Attack 3: linear bounds over every table of a release (cells, areas, windows, totals)
# --------------------------------------------------------------------------------------------

EXACT_MEMBERS = 60  # sums of up to this many cells are convolved exactly; larger ones by a normal law


@dataclass
class _Sum:
    members: np.ndarray  # atom indices
    published: float  # the sum's published protected value
    same_records: bool  # a figure of the members' records (cell key = sum of theirs), not a hashed label
    kind: str
    # A quiet hotspot_areas row withheld by the policy's area minimum (published NaN): its
    # protected value is below this (the minimum less the row's public count).
    below: int | None = None


def _atoms(releases: Sequence[Release]) -> pd.DataFrame:
    """The unknowns: each month's ED count per cell, from that month's release."""
    parts = []
    for release in releases:
        month = release_month(release)
        cells = release.figure("hotspot_cells", "ed_assaults", month)
        parts.append(
            pd.DataFrame(
                {
                    "month": np.full(len(cells), month),
                    "cell_id": cells.index,
                    "protected": cells["protected"].to_numpy(),
                    "published": cells["published"].to_numpy(),
                }
            )
        )
    atoms = pd.concat(parts, ignore_index=True)
    atoms["month"] = atoms["month"].to_numpy().astype("datetime64[D]")
    return atoms


def _sums(releases: Sequence[Release], atoms: pd.DataFrame) -> list[_Sum]:
    """Every published figure that is a sum of several atoms: the month's located ED (coverage)
    and compared ED (hidden_violence), and each hotspot_areas figure (coarser areas, windows of
    months; only when the production build publishes the table). A figure with the same
    records as another (an area with one cell holding records) is the same figure again, and
    is kept once."""
    atom_months = atoms["month"].to_numpy()
    by_month = {m: np.flatnonzero(atom_months == m) for m in np.unique(atom_months)}
    months = np.array(sorted(by_month))
    protected = atoms["protected"].to_numpy()
    groups: dict[tuple[np.datetime64, int, str], list[int]] = {}
    found, seen = [], set()

    def area_members(month, resolution: int, area: str) -> list[int]:
        if not any(key[1] == resolution for key in groups):
            for i, (m, cell) in enumerate(zip(atom_months, atoms["cell_id"])):
                groups.setdefault((m, resolution, h3.cell_to_parent(cell, resolution)), []).append(i)
        return groups.get((month, resolution, area), [])

    def add(members, published, same, kind, truth, below=None):
        members = np.unique(np.asarray(members, dtype=np.int64))
        if len(members) < 2:
            return
        if kind.startswith("hotspot_areas"):
            assert truth == protected[members].sum(), f"{kind}: the atoms do not add up to the figure"
        signature = (tuple(members), same)
        if signature not in seen:
            seen.add(signature)
            found.append(_Sum(members, published, same, kind, below))

    for release in releases:
        month = release_month(release)
        members = by_month[month]
        located = release.figure("coverage", "rows_located", month)
        for _, row in located[located.index.str.startswith("ed|")].iterrows():
            add(members, row["published"] - row["public"], False, "coverage located ED", row["protected"])
        for _, row in release.figure("hidden_violence", "ed_assaults_compared", month).iterrows():
            add(members, row["published"] - row["public"], True, "hidden_violence compared ED", row["protected"])
        police = release.figure("hotspot_areas", "combined", month)["public"]
        policy = release.policy
        withholds = policy.method == "cell_key" and (policy.area_minimum or policy.cell_minimum)
        for key, row in release.figure("hotspot_areas", "ed_assaults", month).iterrows():
            window, resolution, area = key.split("|")
            window, resolution = int(window), int(resolution)
            first = as_day(pd.Timestamp(month) - pd.DateOffset(months=window - 1))
            chosen = [
                i for m in months[(months >= first) & (months <= month)] for i in area_members(m, resolution, area)
            ]
            # Withheld as quiet (the published combined below the area minimum) or small (the
            # protected part below the cell minimum): the protected part was below the larger bound.
            below = (
                max(policy.cell_minimum, int(policy.area_minimum - police[key]))
                if withholds and np.isnan(row["published"])
                else None
            )
            add(
                chosen,
                row["published"] - row["public"],
                True,
                f"hotspot_areas {window}-month res {resolution}",
                row["protected"],
                below,
            )
    return found


def _belief(law: Law, published: float, prior: np.ndarray) -> tuple[int, np.ndarray]:
    """Where an atom's count lies and how likely, from its own figure: (lowest value, weights)."""
    weights = prior * law.lik(published, np.arange(len(prior)))
    nonzero = np.flatnonzero(weights > 0)
    if not len(nonzero):
        return 0, np.array([1.0])
    part = weights[nonzero[0] : nonzero[-1] + 1]
    return int(nonzero[0]), part / part.sum()


def _message(law: Law, total: _Sum, own_published: float, others: tuple[int, np.ndarray]) -> np.ndarray:
    """P(the sum's published value | the atom's count n) for n = 1..7, over the other atoms'
    counts. When the others hold no record, the sum is the atom's own records: the same cell key,
    the same perturbation, so the sum must show what the atom's figure shows."""
    offset, dist = others
    k = len(ATTACKED)
    totals = np.arange(offset + ATTACKED[0], offset + len(dist) + ATTACKED[-1])
    if total.below is None:
        lik = law.lik(total.published, totals)
        own_shows_the_same = _same(total.published, own_published)
    else:  # withheld as quiet: whatever it would have shown was below `below`
        lik = sum((law.lik(float(v), totals) for v in range(total.below)), np.zeros(len(totals)))
        own_shows_the_same = own_published < total.below
    out = np.array([np.dot(dist, lik[j : j + len(dist)]) for j in range(k)])
    if total.same_records and offset == 0:
        out += dist[0] * (float(own_shows_the_same) - lik[:k])
    return out


def _normal(mean: float, var: float) -> tuple[int, np.ndarray]:
    sd = max(math.sqrt(var), 0.5)
    lo, hi = max(0, int(mean - 8 * sd)), int(mean + 8 * sd) + 1
    s = np.arange(lo, hi + 1)
    weights = np.exp(-0.5 * ((s - mean) / sd) ** 2)
    return lo, weights / weights.sum()


def linear_bounds(releases: Sequence[Release], setting: str | None = None) -> Score:
    """Each month's ED count per cell, estimated from its own figure and the sums the releases
    publish over it (`_sums`): its coarser areas and rolling windows (hotspot_areas), the month's
    located ED (coverage) and compared ED (hidden_violence). For a cell, the intruder takes
    the sums smallest first, each whose other atoms are disjoint from those already used (its
    resolution-8 area in the month and its own cell over three months, for instance; their
    likelihoods then multiply exactly), convolving the other atoms' counts, each known from its
    own figure; the month's totals, over hundreds of cells, by a normal law. The prior of every
    atom is the distribution of the true counts (an oracle: as strong as an intruder can be).
    "As published" is the classic subtraction: the month's published located ED minus every other
    cell's published count."""
    policy = releases[0].policy
    law = Law(policy)
    atoms = _atoms(releases)
    truth = atoms["protected"].to_numpy()
    top = int(max(truth.max(), np.nanmax(atoms["published"]))) + law.spread() + 2
    prior = np.bincount(truth, minlength=top + 1)[: top + 1].astype(float) + 1e-9
    prior /= prior.sum()
    published = atoms["published"].to_numpy()
    beliefs = [_belief(law, p, prior) for p in published]
    means = np.array([lo + np.dot(np.arange(len(w)), w) for lo, w in beliefs])
    variances = np.array([np.dot((np.arange(len(w)) + lo - mu) ** 2, w) for (lo, w), mu in zip(beliefs, means)])
    sums = sorted(_sums(releases, atoms), key=lambda s: len(s.members))
    containing: dict[int, list[_Sum]] = {}
    for total in sums:
        for m in total.members:
            containing.setdefault(int(m), []).append(total)
    attacked = np.flatnonzero(_attacked(truth))
    liks, used_kinds = [], set()
    for i in attacked:
        lik = law.lik(published[i], np.asarray(ATTACKED))
        used: set[int] = set()
        for total in containing.get(int(i), []):
            others = [int(m) for m in total.members if m != i]
            if len(others) > EXACT_MEMBERS:
                dist = _normal(means[others].sum(), variances[others].sum())
            elif used.isdisjoint(others):
                used.update(others)
                dist = (0, np.array([1.0]))
                for m in others:
                    lo, w = beliefs[m]
                    dist = (dist[0] + lo, np.convolve(dist[1], w))
            else:
                continue
            message = _message(law, total, published[i], dist)
            lik = lik * message / max(message.max(), 1e-300)
            used_kinds.add(total.kind)
        liks.append(lik)
    # The classic margin: the month's published located ED minus every other cell's published count.
    margin = np.full(len(atoms), np.nan)
    for release in releases:
        month = release_month(release)
        located = release.figure("coverage", "rows_located", month)
        located = located[located.index.str.startswith("ed|")]
        rows = atoms["month"].to_numpy() == month
        if len(located):
            total = located["published"].iloc[0] - located["public"].iloc[0]
            margin[rows] = total - (np.sum(published[rows]) - published[rows])
    return score(
        "3 linear bounds (all tables)",
        setting or policy.method,
        truth[attacked],
        np.array(liks).reshape(-1, len(ATTACKED)),
        margin[attacked],
        note=f"sums used: {', '.join(sorted(used_kinds)) or 'none'}",
        sums=len(sums),
        kinds=sorted(used_kinds),
    )


# --------------------------------------------------------------------------------------------
# Attack 4: averaging re-runs of a month under differential privacy
# --------------------------------------------------------------------------------------------


def dp_policy(
    month: Month, seeded: bool, run: int = 0, scale: float = 1.0, base: DisclosurePolicy | None = None
) -> DisclosurePolicy:
    """The agreement's policy with differential privacy (discrete Laplace of `scale` before the
    method). Seeded: the noise key and the month's content digest, as the pipeline runs it, so
    every re-run of the unchanged month draws the same noise. Unseeded (the code before
    c23185c drew fresh noise on every run): a seed of its own for each run."""
    content = content_sha256(month.joint) if seeded else hashlib.sha256(f"fresh noise, run {run}".encode()).hexdigest()
    return dataclasses.replace(
        base or default_policy(), laplace_scale=scale, noise_key=NOISE_KEY, content_sha256=content
    )


def dp_averaging(
    month: Month, reruns: int, seeded: bool, scale: float = 1.0, base: DisclosurePolicy | None = None
) -> tuple[Score, bool]:
    """`reruns` releases of the unchanged month; the intruder averages each cell's published ED
    count over them ("as published": the mean, rounded) and, for the Bayes estimate, computes the
    exact likelihood of the distinct releases (identical releases are one draw of the noise,
    counted once; under the cell-key method the re-runs share the figure's cell key, see
    Law.joint_lik). Returns the score and whether every re-run was byte-identical."""
    releases = [
        publish_release(month.joint, dp_policy(month, seeded, run, scale, base), police=[month.police])
        for run in range(reruns)
    ]
    first = table_bytes(releases[0].tables)
    identical = all(table_bytes(r.tables) == first for r in releases[1:])
    distinct, seen = [], set()
    for release in releases:
        digest = hashlib.sha256(b"".join(table_bytes(release.tables).values())).hexdigest()
        if digest not in seen:
            seen.add(digest)
            distinct.append(release)
    law = Law(releases[0].policy)
    cells = [r.figure("hotspot_cells", "ed_assaults") for r in releases]
    truth = cells[0]["protected"].to_numpy()
    attacked = _attacked(truth)
    values = np.vstack([c["published"].to_numpy() for c in cells])[:, attacked]
    mean = np.floor(values.mean(axis=0) + 0.5)
    seen_values = np.vstack(
        [r.figure("hotspot_cells", "ed_assaults")["published"].to_numpy()[attacked] for r in distinct]
    )
    liks = np.array([law.joint_lik(seen_values[:, j]) for j in range(seen_values.shape[1])]).reshape(-1, len(ATTACKED))
    setting = f"DP scale {scale:g} + {releases[0].policy.method}, {'seeded' if seeded else 'fresh noise'}"
    result = score(
        f"4 averaging {reruns} re-runs",
        setting,
        truth[attacked],
        liks,
        mean,
        note=f"{len(distinct)} distinct release(s) of {reruns}",
        distinct=len(distinct),
    )
    return result, identical
