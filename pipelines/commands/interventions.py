"""`istv interventions`: the register of what the partnership did where, and what each achieved.

The register is $ISTV_HOME/interventions.yaml (outcomes/register.py), for the board to review;
`evaluate` measures every intervention on the row-level joint zone and publishes the protected
effects as the warehouse table intervention_effects (outcomes/). Nothing here prints a count.
"""

from __future__ import annotations

import datetime as dt
import re

import click

from outcomes.register import KINDS
from pipelines.commands import (
    IstvFailure,
    IstvUsageError,
    agreement_file,
    console,
    parse_month,
    read_agreement,
    table_of,
    working_folder,
)

# The rest of outcomes/ is imported when a command runs: evaluation loads pandas and statsmodels.


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise IstvUsageError(f"{option} {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-10-01")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise IstvUsageError(f"{option} {value!r} is not a date of the calendar") from None


@click.group(help="The interventions register ($ISTV_HOME/interventions.yaml) and what each intervention achieved.")
def interventions() -> None:
    pass


@interventions.command(help="Register an intervention: its kind, places (venue, street or H3 cell ids), dates, owner.")
@click.argument("intervention_id", metavar="ID")
@click.option("--kind", required=True, type=click.Choice(KINDS), help="What was done.")
@click.option("--place", "places", required=True, multiple=True, help="venue:<id>, street:<id> or an H3 cell; repeat")
@click.option("--start", required=True, help="First day, YYYY-MM-DD")
@click.option("--end", default=None, help="Last day, YYYY-MM-DD (omit while it runs)")
@click.option("--owner", required=True, help="Who is responsible for it")
@click.option("--description", default="", help="What was done, in a sentence")
def add(intervention_id, kind, places, start, end, owner, description) -> None:
    from outcomes.register import RegisterError, add_intervention, register_path

    home = working_folder()
    resolution = read_agreement(agreement_file(None)).spatial.h3_resolution
    entry = {"id": intervention_id, "kind": kind, "places": list(places), "start": _date("--start", start)}
    entry |= {"end": _date("--end", end), "owner": owner, "description": description}
    try:
        added = add_intervention(home, entry, resolution)
    except RegisterError as exc:
        raise IstvFailure(str(exc)) from None
    console.print(f"Registered {added.id} ({added.kind}) in {register_path(home)}", highlight=False)


@interventions.command("list", help="Every registered intervention.")
def list_() -> None:
    from outcomes.places import place_label

    found = _register()
    if not found:
        console.print("No intervention registered yet: add one with `istv interventions add`.", highlight=False)
        return
    rows = [(i.id, i.kind, "; ".join(map(place_label, i.places)), i.start, i.end or "running", i.owner) for i in found]
    console.print(table_of("Interventions", ["id", "kind", "places", "start", "end", "owner"], rows))


@interventions.command(help="One intervention, with its latest published evaluation.")
@click.argument("intervention_id", metavar="ID")
def show(intervention_id: str) -> None:
    from outcomes.places import place_label
    from outcomes.publish import WarehouseBusy, latest_effect
    from outcomes.register import RegisterError, find

    try:
        found = find(_register(), intervention_id)
        latest = latest_effect(working_folder().warehouse, found.id)
    except (RegisterError, WarehouseBusy) as exc:
        raise IstvFailure(str(exc)) from None
    console.print(f"{found.id}: {found.kind}, owned by {found.owner}", highlight=False)
    console.print(f"From {found.start} to {found.end or 'now (still running)'}", highlight=False)
    for place in found.places:
        console.print(f"  place: {place_label(place)}", highlight=False)
    if found.description:
        console.print(found.description, highlight=False)
    console.print(_latest(latest), highlight=False)


def _latest(row: dict | None) -> str:
    if row is None:
        return "Not evaluated yet: run `istv interventions evaluate`."
    return (
        f"Latest evaluation, {row['month']:%Y-%m}: {_said(row, '')}; {row['months_before']} months before and "
        f"{row['months_after']} after, against {row['comparison_cells']} comparison cells. "
        f"Next door (displacement): {_said(row, 'displacement_')}."
    )


def _said(row: dict, prefix: str) -> str:
    verdict = row[f"{prefix}verdict"]
    effect = row["displacement_pct" if prefix else "effect_pct"]
    if effect is None:
        return verdict
    low, high = row[f"{prefix}ci_low_pct"], row[f"{prefix}ci_high_pct"]
    return f"{verdict} ({effect:+d}%, 95% interval {low:+d}% to {high:+d}%)"


@interventions.command(help="Evaluate every intervention on the joint zone and publish intervention_effects.")
@click.option("--month", default=None, help="YYYY-MM: the month evaluated (default: the latest the zone holds)")
def evaluate(month: str | None) -> None:
    from ingest.secrets import MissingKeyError
    from outcomes.effects import NothingToEvaluate, evaluate_and_publish
    from outcomes.publish import WarehouseBusy
    from outcomes.register import RegisterError
    from sharing_agreements import auditing
    from sharing_agreements.model import AgreementError
    from sharing_agreements.signing import load_verified

    home, path = working_folder(), agreement_file(None)
    try:
        # Published figures only under an agreement that is signed and in force, as for a month's tables.
        agreement, _ = load_verified(path)
        agreement.check_in_force(dt.date.today())
        if "intervention_effects" not in agreement.published_tables:
            raise AgreementError(
                f"{agreement.label} does not permit the table intervention_effects: nothing was evaluated or "
                "published. The board adds it to the agreement's published_tables and signs the new version."
            )
        audit = auditing.writer(home)  # a publish that cannot be audited is not made
        evaluated, rows = evaluate_and_publish(home, agreement, parse_month(month))
    except (AgreementError, MissingKeyError, NothingToEvaluate, RegisterError, WarehouseBusy) as exc:
        raise IstvFailure(str(exc)) from None
    audit.append(
        "intervention_effects",
        {**auditing.agreement_details(agreement, path), "month": f"{evaluated:%Y-%m}", "interventions": len(rows)},
    )
    shown = [(r["intervention_id"], _said(r, ""), _said(r, "displacement_")) for r in rows]
    console.print(table_of(f"Intervention effects, {evaluated:%Y-%m}", ["id", "effect", "next door"], shown))
    console.print(f"Published to {home.warehouse} as intervention_effects.", highlight=False)


def _register():
    from outcomes.register import RegisterError, load_register

    try:
        return load_register(working_folder())
    except RegisterError as exc:
        raise IstvFailure(str(exc)) from None
