"""A month's intervention_effects: every registered intervention evaluated on the joint zone,
protected under the agreement in force, and published."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ingest.home import IstvHome
from outcomes.counts import joint_months, monthly_cell_counts
from outcomes.evaluate import evaluate
from outcomes.places import UnknownPlace
from outcomes.protect import published_row
from outcomes.publish import INTERVENTION_EFFECTS, publish_month
from outcomes.register import RegisterError, load_register

if TYPE_CHECKING:
    from sharing_agreements.model import Agreement


class NothingToEvaluate(ValueError):
    pass


def effect_rows(home: IstvHome, agreement: Agreement, month: dt.date | None = None) -> tuple[dt.date, list[dict]]:
    """The evaluated month (the latest the joint zone holds unless given) and its protected rows."""
    interventions = load_register(home)
    if not interventions:
        raise NothingToEvaluate("the interventions register is empty: add one with `istv interventions add`")
    held = list(joint_months(home))
    if not held:
        raise NothingToEvaluate("the joint zone holds no month yet: run a month with `istv run --month YYYY-MM` first")
    if month is not None and month not in held:
        raise NothingToEvaluate(
            f"the joint zone holds no data for {month:%Y-%m} (it holds {held[0]:%Y-%m} to {held[-1]:%Y-%m})"
        )
    month = month or held[-1]
    counts = monthly_cell_counts(home, up_to=month)
    resolution = agreement.spatial.h3_resolution
    threshold = agreement.disclosure_control.policy().suppression_threshold
    try:
        cells = {i.id: i.cells(resolution) for i in interventions}
    except UnknownPlace as exc:  # the register was edited by hand, or the agreement's resolution changed
        raise RegisterError(f"the register names a place istv cannot evaluate: {exc}") from None
    rows = []
    for intervention in interventions:
        others = set().union(*(c for other, c in cells.items() if other != intervention.id))
        evaluation = evaluate(intervention, counts, month, resolution, other_cells=others)
        rows.append(published_row(evaluation, threshold, agreement.id, agreement.version))
    return month, rows


def evaluate_and_publish(home: IstvHome, agreement: Agreement, month: dt.date | None = None) -> tuple[dt.date, list]:
    month, rows = effect_rows(home, agreement, month)
    publish_month(home.warehouse, INTERVENTION_EFFECTS, month, rows)
    return month, rows
