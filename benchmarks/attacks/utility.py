"""Utility, measured against the unprotected truth: what the protection leaves analysts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from anonymise.disclosure import DisclosurePolicy

from .data import agreement
from .release import Release, release_month


def usable(published: np.ndarray, policy: DisclosurePolicy) -> np.ndarray:
    """A cell shows a usable count: under the cell-key method a published combined count of 1
    or more (a published 0 reads as no violence); under suppress_and_round, not suppressed."""
    published = np.asarray(published, dtype=float)
    return published >= 1 if policy.method == "cell_key" else ~np.isnan(published)


def top_recall(truth: pd.Series, published: pd.Series, k: int = 20) -> float:
    """Recall of the true top-k cells: the expected share of the k cells with the highest
    published combined counts (withheld as 0, ties at the k-th value broken at random) whose
    true count is at least the k-th highest true count (so ties in the truth all count)."""
    truth = truth.astype(float)
    published = published.reindex(truth.index).astype(float).fillna(0.0)
    if len(truth) <= k:
        return 1.0
    good = truth >= np.sort(truth.to_numpy())[::-1][k - 1]
    kth = np.sort(published.to_numpy())[::-1][k - 1]
    above = published > kth
    tied = published == kth
    slots = k - int(above.sum())
    return float((good[above].sum() + slots * good[tied].mean()) / k)


@dataclass
class Utility:
    setting: str
    usable_share: float  # of incidents in cells, those in cells showing a usable combined count
    # of incidents in cells, those counted in a usable figure of their own source (a cell's ED
    # assaults, its police violence): how the issue counted "215 of 1,218 crimes" shown
    visible_share: float
    withheld_share: float  # of published count figures, those withheld
    mae_all: float  # mean |published - true| over published figures, every table
    mae_cells: float  # the same over hotspot_cells
    recall_monthly: float  # mean over months
    recall_3_months: float  # the 3-month window of hotspot_areas ending with the last month


def _with_truth(figures: pd.DataFrame) -> pd.DataFrame:
    return figures.assign(truth=figures["protected"] + figures["public"])


def utility(monthly: Sequence[Release], setting: str) -> Utility:
    """`monthly`: each month's release, built with the earlier months as its history."""
    policy = monthly[0].policy
    shown, total, recalls = 0.0, 0.0, []
    own_shown, own_total = 0.0, 0.0
    errors_all, errors_cells, withheld, figures = [], [], 0, 0
    for release in monthly:
        month = release_month(release)
        cells = _with_truth(release.figure("hotspot_cells", "combined", month))
        ok = usable(cells["published"].to_numpy(), policy)
        shown += cells["truth"].to_numpy()[ok].sum()
        total += cells["truth"].sum()
        recalls.append(top_recall(cells["truth"], cells["published"]))
        for source in ("ed_assaults", "police_violence"):
            own = _with_truth(release.figure("hotspot_cells", source, month))
            own_shown += own["truth"].to_numpy()[usable(own["published"].to_numpy(), policy)].sum()
            own_total += own["truth"].sum()
        f = release.figures[release.figures["month"].to_numpy().astype("datetime64[D]") == month]
        truth = (f["protected"] + f["public"]).to_numpy()
        out = f["published"].to_numpy()
        present = ~np.isnan(out)
        withheld += int((~present).sum())
        figures += len(f)
        errors_all.append(np.abs(out[present] - truth[present]))
        in_cells = present & (f["table"].to_numpy() == "hotspot_cells")
        errors_cells.append(np.abs(out[in_cells] - truth[in_cells]))
    last = monthly[-1]
    areas = _with_truth(last.figure("hotspot_areas", "combined", release_month(last)))
    areas = areas[areas.index.str.startswith(f"3|{agreement().spatial.h3_resolution}|")]
    areas.index = areas.index.str.split("|").str[-1]
    return Utility(
        setting,
        shown / total if total else float("nan"),
        own_shown / own_total if own_total else float("nan"),
        withheld / figures if figures else 0.0,
        float(np.concatenate(errors_all).mean()),
        float(np.concatenate(errors_cells).mean()),
        float(np.mean(recalls)),
        top_recall(areas["truth"], areas["published"]),
    )
