"""A month's evaluations: every registered intervention evaluated on the joint zone
(intervention_effects) and the places where violence fell significantly more than comparable ones
with no intervention registered (positive_deviants, outcomes/deviance.py), protected under the
agreement in force, and published, each only when the agreement's published_tables lists it.

An empty register evaluates no intervention but does not stop the search for positive deviants:
with nothing registered every place is a candidate, and the search is most useful then (what
works where nobody has acted yet?)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ingest.home import IstvHome
from outcomes.counts import joint_months, monthly_cell_counts
from outcomes.deviance import POSITIVE_DEVIANTS, deviant_rows, search
from outcomes.evaluate import evaluate
from outcomes.places import UnknownPlace
from outcomes.protect import published_row
from outcomes.publish import INTERVENTION_EFFECTS, publish_month
from outcomes.register import Intervention, RegisterError, load_register

if TYPE_CHECKING:
    from sharing_agreements.model import Agreement


class NothingToEvaluate(ValueError):
    pass


EMPTY_REGISTER = "the interventions register is empty: add one with `istv interventions add`"


def _zone_month(home: IstvHome, month: dt.date | None, also: str = "") -> dt.date:
    """The month evaluated: `month`, or the latest the joint zone holds; NothingToEvaluate
    saying why (and `also`, a note to add) when the zone does not hold it."""
    held = list(joint_months(home))
    if not held:
        raise NothingToEvaluate(
            f"the joint zone holds no month yet: run a month with `istv run --month YYYY-MM` first{also}"
        )
    if month is not None and month not in held:
        raise NothingToEvaluate(
            f"the joint zone holds no data for {month:%Y-%m} (it holds {held[0]:%Y-%m} to {held[-1]:%Y-%m})"
        )
    return month or held[-1]


def _cells(interventions: list[Intervention], resolution: int) -> dict[str, set[str]]:
    try:
        return {i.id: i.cells(resolution) for i in interventions}
    except UnknownPlace as exc:  # the register was edited by hand, or the agreement's resolution changed
        raise RegisterError(f"the register names a place istv cannot evaluate: {exc}") from None


def _effect_rows(interventions, cells, counts, month: dt.date, agreement: Agreement) -> list[dict]:
    resolution = agreement.spatial.h3_resolution
    threshold = agreement.disclosure_control.policy().suppression_threshold
    rows = []
    for intervention in interventions:
        others = set().union(*(c for other, c in cells.items() if other != intervention.id))
        evaluation = evaluate(intervention, counts, month, resolution, other_cells=others)
        rows.append(published_row(evaluation, threshold, agreement.id, agreement.version))
    return rows


def effect_rows(home: IstvHome, agreement: Agreement, month: dt.date | None = None) -> tuple[dt.date, list[dict]]:
    """The evaluated month (the latest the joint zone holds unless given) and its protected rows."""
    interventions = load_register(home)
    if not interventions:
        raise NothingToEvaluate(EMPTY_REGISTER)
    month = _zone_month(home, month)
    cells = _cells(interventions, agreement.spatial.h3_resolution)
    counts = monthly_cell_counts(home, up_to=month)
    return month, _effect_rows(interventions, cells, counts, month, agreement)


def evaluate_and_publish(home: IstvHome, agreement: Agreement, month: dt.date | None = None) -> tuple[dt.date, list]:
    month, rows = effect_rows(home, agreement, month)
    publish_month(home.warehouse, INTERVENTION_EFFECTS, month, rows)
    return month, rows


@dataclass
class Evaluated:
    """What one evaluation published: the rows of each table (None: not evaluated, see `notes`)."""

    month: dt.date | None
    effects: list[dict] | None = None
    deviants: list[dict] | None = None
    places_tested: int = 0  # places searched for positive deviance (not a count of incidents)
    notes: list[str] = field(default_factory=list)  # in plain words: what was not evaluated, and why

    def metadata(self) -> dict:
        """What was published, for an audit entry or a Dagster materialisation: empty when nothing was."""
        found = {}
        if self.effects is not None:
            found["interventions"] = len(self.effects)
        if self.deviants is not None:
            found |= {"positive_deviants": len(self.deviants), "places_tested": self.places_tested}
        return {"month": f"{self.month:%Y-%m}", **found} if found else {}


def evaluate_all(
    home: IstvHome,
    agreement: Agreement,
    month: dt.date | None = None,
    audit: Callable[[str, dict], None] | None = None,
) -> Evaluated:
    """Evaluate and publish, for the month given (default: the latest the joint zone holds), each
    table the agreement permits: intervention_effects when an intervention is registered,
    positive_deviants whether or not one is. `audit(kind, details)` is called after each publish."""
    interventions = load_register(home)
    resolution = agreement.spatial.h3_resolution
    cells = _cells(interventions, resolution)
    permitted = set(agreement.published_tables)
    wants_effects = INTERVENTION_EFFECTS.name in permitted and bool(interventions)
    wants_deviants = POSITIVE_DEVIANTS.name in permitted
    notes = []
    if not interventions:
        notes.append(
            EMPTY_REGISTER + ("; every place was searched for positive deviants all the same" if wants_deviants else "")
        )
    if not wants_effects and not wants_deviants:
        if interventions:
            notes.append(f"{agreement.label} permits neither intervention_effects nor positive_deviants")
        return Evaluated(month, notes=notes)
    month = _zone_month(home, month, "" if interventions else f" ({EMPTY_REGISTER})")
    counts = monthly_cell_counts(home, up_to=month)
    evaluated = Evaluated(month, notes=notes)
    details = {"agreement_id": agreement.id, "agreement_version": agreement.version, "month": f"{month:%Y-%m}"}
    if wants_effects:
        evaluated.effects = _effect_rows(interventions, cells, counts, month, agreement)
        publish_month(home.warehouse, INTERVENTION_EFFECTS, month, evaluated.effects)
        if audit is not None:
            audit(INTERVENTION_EFFECTS.name, {**details, "interventions": len(evaluated.effects)})
    if wants_deviants:
        threshold = agreement.disclosure_control.policy().suppression_threshold
        found = search(counts, month, set().union(*cells.values()), threshold)
        if found.reason:
            notes.append(f"no place was searched for positive deviants: {found.reason}")
        evaluated.deviants = deviant_rows(found, threshold, agreement.id, agreement.version)
        evaluated.places_tested = found.tested
        # Published even when empty: a month re-evaluated must not keep rows it no longer finds.
        publish_month(home.warehouse, POSITIVE_DEVIANTS, month, evaluated.deviants)
        if audit is not None:
            audit(
                POSITIVE_DEVIANTS.name,
                {**details, "positive_deviants": len(evaluated.deviants), "places_tested": found.tested},
            )
    return evaluated


def evaluate_month(
    home: IstvHome, agreement: Agreement, month: dt.date, audit: Callable[[str, dict], None] | None = None
) -> dict:
    """evaluate_all for one month, as the monthly run calls it: what was published, or {} when nothing was."""
    return evaluate_all(home, agreement, month, audit).metadata()
