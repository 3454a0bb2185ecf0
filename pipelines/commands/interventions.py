"""`istv interventions`: the register of what the partnership did where, and what each achieved.

The register is $ISTV_HOME/interventions.yaml (outcomes/register.py), for the board to review;
`evaluate` measures every intervention on the row-level joint zone and publishes the protected
effects as the warehouse table intervention_effects (outcomes/), and searches the places where
nothing is registered for violence that fell significantly more than at comparable places (the
table positive_deviants, outcomes/deviance.py); `deviants` shows the latest of those. Nothing
here prints a count.
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
    agreement_in_force,
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
    from outcomes.protect import effect_text

    if row is None:
        return "Not evaluated yet: run `istv interventions evaluate`."
    return (
        f"Latest evaluation, {row['month']:%Y-%m}: {effect_text(row, '')}; {row['months_before']} months before and "
        f"{row['months_after']} after, against {row['comparison_cells']} comparison cells. "
        f"Next door (displacement): {effect_text(row, 'displacement_')}."
    )


@interventions.command(
    help="Evaluate every intervention on the joint zone and publish intervention_effects; search the places "
    "where nothing is registered for falls beyond comparable places and publish positive_deviants."
)
@click.option("--month", default=None, help="YYYY-MM: the month evaluated (default: the latest the zone holds)")
def evaluate(month: str | None) -> None:
    from ingest.secrets import MissingKeyError
    from outcomes.effects import NothingToEvaluate, evaluate_all
    from outcomes.protect import effect_text
    from outcomes.publish import WarehouseBusy
    from outcomes.register import RegisterError
    from sharing_agreements import auditing
    from sharing_agreements.model import AgreementError

    home, path = working_folder(), agreement_file(None)
    try:
        # Published figures only under an agreement that is signed and in force, as for a month's tables.
        agreement, _ = agreement_in_force(path)
        if "intervention_effects" not in agreement.published_tables:
            raise AgreementError(
                f"{agreement.label} does not permit the table intervention_effects: nothing was evaluated or "
                "published. The board adds it to the agreement's published_tables and signs the new version."
            )
        log = auditing.writer(home)  # a publish that cannot be audited is not made
        details = auditing.agreement_details(agreement, path)
        evaluated = evaluate_all(
            home, agreement, parse_month(month), audit=lambda kind, said: log.append(kind, {**details, **said})
        )
        if evaluated.effects is None and evaluated.deviants is None:
            raise NothingToEvaluate("; ".join(evaluated.notes))
    except (AgreementError, MissingKeyError, NothingToEvaluate, RegisterError, WarehouseBusy) as exc:
        raise IstvFailure(str(exc)) from None
    for note in evaluated.notes:
        console.print(note[0].upper() + note[1:] + ".", highlight=False)
    if evaluated.effects is not None:
        shown = [(r["intervention_id"], effect_text(r, ""), effect_text(r, "displacement_")) for r in evaluated.effects]
        console.print(table_of(f"Intervention effects, {evaluated.month:%Y-%m}", ["id", "effect", "next door"], shown))
        console.print(f"Published to {home.warehouse} as intervention_effects.", highlight=False)
    if evaluated.deviants is not None:
        if evaluated.places_tested:  # else a note above said why no place was searched
            _show_deviants(evaluated.month, evaluated.deviants)
        console.print(f"Published to {home.warehouse} as positive_deviants.", highlight=False)


@interventions.command(
    help="The places where violence fell significantly more than at comparable places with no intervention "
    "registered (positive_deviants), as last published by `istv interventions evaluate`. Read-only."
)
@click.option("--month", default=None, help="YYYY-MM: the evaluation shown (default: the latest with any place)")
def deviants(month: str | None) -> None:
    from outcomes.deviance import latest_deviants
    from outcomes.publish import WarehouseBusy

    try:
        shown, rows = latest_deviants(working_folder().warehouse, parse_month(month))
    except WarehouseBusy as exc:
        raise IstvFailure(str(exc)) from None
    if shown is None:
        console.print(
            "No positive deviant published yet: no evaluation found a place that fell more than comparable places "
            "(`istv interventions evaluate` runs one and says why when it cannot search).",
            highlight=False,
        )
        return
    _show_deviants(shown, rows, evaluated=month is None)


def _show_deviants(month: dt.date, rows: list[dict], evaluated: bool = True) -> None:
    from outcomes.protect import deviant_text

    if not rows:
        why = "" if evaluated else " (or the month was not evaluated: see `istv interventions evaluate --month`)"
        console.print(
            f"Positive deviants, {month:%Y-%m}: no place where nothing is registered fell significantly more "
            f"than comparable places{why}.",
            highlight=False,
        )
        return
    shown = [(r["cell_id"], deviant_text(r)) for r in rows]
    title = f"Positive deviants, {month:%Y-%m}: places to ask what happened there"
    console.print(table_of(title, ["cell", "recent months against the year before"], shown))


def _register():
    from outcomes.register import RegisterError, load_register

    try:
        return load_register(working_folder())
    except RegisterError as exc:
        raise IstvFailure(str(exc)) from None
