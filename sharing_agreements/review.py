"""What a board reads in `istv agreements show`: an agreement in plain words, field by field,
each term it uses explained once at the end (sharing_agreements.glossary). What changed between
two versions is sharing_agreements.review_changes's.

No Python value is ever printed as Python (a dict, a list in brackets, None, a model's repr):
everything a board reads is written out here in words.
"""

from __future__ import annotations

import datetime as dt

import h3

from schemas import schema_for_source
from sharing_agreements.glossary import with_glossary
from sharing_agreements.model import Agreement, Party

ROLES = {
    "caldicott_guardian": "Caldicott Guardian",
    "data_protection_officer": "Data Protection Officer",
    "senior_information_risk_owner": "Senior Information Risk Owner",
    "community_safety_board": "Community Safety Board",
}
# Each zone as the retention line names it, in the agreement's order.
ZONES = {
    "landing": "landing zone (the files as delivered)",
    "quarantine": "quarantine",
    "pseudonymised": "pseudonymised row-level zone",
    "dagster": "Dagster's run history (the pipeline's record of its runs)",
    "reports": "reports",
}
_GENERALISED = {
    "hour": "the hour of the week",
    "month": "the month",
    "postcode_district": "the postcode district",
    "place": "a named place",
    "cell": "an H3 cell",
}


def dataset_name(source: str) -> str:
    """The dataset as a board knows it, with the name the commands use: 'Police open data (police_uk)'."""
    return f"{schema_for_source(source).title.split(' (')[0]} ({source})"


def words(items: list[str] | tuple[str, ...], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items) or "none"
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def describe_rule(rule) -> str:
    if rule.action == "drop":
        return "dropped"
    if rule.action == "keep":
        return "kept"
    if rule.action == "pseudonymise":
        return f'pseudonymised under the key scope "{rule.key_scope}"' if rule.key_scope else "pseudonymised"
    if rule.to == "age_band":
        return f"generalised to a {rule.width}-year age band (the age on {rule.at})"
    return f"generalised to {_GENERALISED[rule.to]}"


def cell_size(resolution: int) -> str:
    return f"H3 resolution {resolution}, about {h3.average_hexagon_area(resolution, unit='km^2'):.2g} km² a cell"


def scope_words(scope: dict[str, list[str]]) -> str:
    """A dataset's scope as a condition on its rows: 'only rows whose crime_type is X'."""
    return "; ".join(f"only rows whose {field} is {words(values, 'or')}" for field, values in scope.items())


def disclosure_lines(agreement: Agreement) -> list[str]:
    """The agreement's disclosure control in words: its method with the method's own parameters,
    the sources it declares public (published exactly), and differential privacy when declared."""
    dc = agreement.disclosure_control
    if dc.method == "cell_key":
        method = (
            f"Disclosure control: cell-key perturbation: every published count is moved by at most "
            f"{dc.cell_key.max_deviation} (variance {dc.cell_key.variance:g}), the same records always giving "
            "the same figure; "
            + (
                f"a cell's, area's or venue's count whose protected part would show below {dc.cell_key.cell_minimum} "
                "is withheld"
                if dc.cell_key.cell_minimum
                else "no count of a monthly table is suppressed"
            )
            + (
                f"; coarser areas and longer windows with a combined count below {dc.cell_key.area_minimum} "
                "show police counts only"
                if dc.cell_key.area_minimum
                else ""
            )
        )
    else:
        method = (
            f"Disclosure control: suppression and rounding: counts 1 to {dc.suppression_threshold} are "
            f"withheld (suppressed), the others rounded to the nearest {dc.rounding_base}"
        )
    public = agreement.public_sources()
    lines = [
        method,
        ("Public sources, counted exactly (never perturbed or rounded): " + ", ".join(public))
        if public
        else "Public sources: none declared; every source is protected",
    ]
    if dc.differential_privacy:
        dp = dc.differential_privacy
        lines.append(
            f"Differential privacy: epsilon {dp.epsilon:g} per published count, "
            f"at most {dp.budget_per_month:g} per month over every release of it"
        )
    else:
        lines.append("Differential privacy: not declared")
    return lines


def party_line(party: Party, provider: bool) -> str:
    role = f", {party.role}" if party.role else ""
    line = f"{party.name}, code {party.code}{role}"
    if provider:
        line += f": provides {words([dataset_name(s) for s in party.datasets])}"
        if party.identifiers:
            line += f"; its files may also name it {words(party.identifiers, 'or')}"
    return line


def retention_words(agreement: Agreement) -> str:
    periods = [f"{ZONES.get(zone, zone)} {days} days" for zone, days in agreement.retention.model_dump().items()]
    return "; ".join(periods) + "; published tables while the agreement stands; the audit log always"


def month_words(text: str) -> str:
    """A YYYY-MM month as people write it: 'October 2018'."""
    return f"{dt.date.fromisoformat(f'{text}-01'):%B %Y}"


def mission_words(agreement: Agreement) -> str:
    """The partnership's mission in one sentence, or that the agreement sets none."""
    mission = agreement.mission
    if mission is None:
        return "Mission: none set; nothing is measured against a target."
    return (
        f"Mission: {' '.join(mission.goal.split())}: violence-related emergency department attendances and "
        f"police-recorded violence down by {mission.reduction_pct:g}% from their level over "
        f"{month_words(mission.baseline_from)} to {month_words(mission.baseline_to)}, by "
        f"{month_words(mission.target_month)}; progress is published every month as mission_progress."
    )


# What each section of the public page (`istv publish-public`) tells residents.
PUBLIC_SECTIONS = {
    "agreement": "the agreement in force (who shares what, why, and how it is protected)",
    "deliveries": "what each provider shared each month (protected row counts)",
    "mission": "progress against the mission, as published",
}


def public_account_words(agreement: Agreement) -> str:
    sections = agreement.public_account.sections
    if not sections:
        return "Public page for residents: none approved; `istv publish-public` writes nothing."
    return (
        "Public page for residents (`istv publish-public`): "
        + words([PUBLIC_SECTIONS[s] for s in sections])
        + "; nothing else is written on it, and only published figures."
    )


def summary_lines(agreement: Agreement) -> list[str]:
    spatial, risk = agreement.spatial, agreement.risk
    lines = [
        agreement.title,
        f"Agreement {agreement.id}, version {agreement.version}: {agreement.status}, in force from "
        f"{agreement.valid_from} to {agreement.valid_to}; the board reviews it by {agreement.review_date}.",
        "",
        "Providers:",
        *(f"  {party_line(p, provider=True)}" for p in agreement.parties.providers),
        "Recipients:",
        *(f"  {party_line(p, provider=False)}" for p in agreement.parties.recipients),
        f"Purpose: {' '.join(agreement.purpose.split())}",
        f"Lawful basis: {'; '.join(agreement.lawful_basis)}",
        f"Area: {agreement.area.name} (local authority {words(agreement.area.local_authorities)}); "
        "rows outside it, or placed nowhere, are never shared.",
        f"Places: each incident is placed in a cell of {cell_size(spatial.h3_resolution)}; hotspots are "
        f"counted at resolutions {words(spatial.hotspot_resolutions)}, over windows of "
        f"{words(spatial.hotspot_windows_months)} months.",
        *disclosure_lines(agreement),
        f"Re-identification risk: k-anonymity threshold {risk.k}, over {words(risk.quasi_identifiers)}.",
        f"Retention: {retention_words(agreement)}.",
        f"Published tables: {words(agreement.published_tables)}.",
        mission_words(agreement),
        public_account_words(agreement),
        "Approved by: "
        + "; ".join(f"{a.board} ({ROLES.get(a.role, a.role)}, {a.date})" for a in agreement.approvals)
        + ".",
        "",
        "What each dataset shares, field by field:",
    ]
    for source, rules in agreement.datasets.items():
        notes = [scope_words(rules.scope)] if rules.scope else []
        if rules.public:
            notes.append("a public source")
        lines.append(f"{dataset_name(source)}{': ' + ', '.join(notes) if notes else ''}")
        lines += [f"  {name}: {describe_rule(rule)}" for name, rule in rules.fields.items()]
    return with_glossary(lines)
