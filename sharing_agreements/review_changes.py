"""What changed between two versions of an agreement, in sentences a board reads in the order it
would review them (`istv agreements diff`): the agreement itself, who shares, how figures are
protected, how long data is kept, the mission and the public page, and then each dataset field
by field. Every part of an agreement is compared, so no change goes unsaid; each is written out
in words, never as the Python values it is held in.
"""

from __future__ import annotations

from sharing_agreements.glossary import with_glossary
from sharing_agreements.model import Agreement
from sharing_agreements.review import (
    ROLES,
    ZONES,
    cell_size,
    dataset_name,
    describe_rule,
    mission_words,
    party_line,
    public_account_words,
    scope_words,
    words,
)


def differences(old: Agreement, new: Agreement) -> list[str]:
    """One sentence per change; empty when the two say the same."""
    return [
        *_agreement_changes(old, new),
        *_party_changes(old, new),
        *_protection_changes(old, new),
        *_retention_changes(old, new),
        *_mission_changes(old, new),
        *_dataset_changes(old, new),
    ]


def difference_lines(old: Agreement, new: Agreement) -> list[str]:
    """What `istv agreements diff` prints: the changes, then the terms they use."""
    changes = differences(old, new)
    if not changes:
        return [f"No differences: {old.label} and {new.label} say the same."]
    return with_glossary([f"- {change}" for change in changes])


def _was(name: str, before, after, then: str = "") -> str | None:
    return None if before == after else f"{name} {after} (was {before}){then}."


def _agreement_changes(old: Agreement, new: Agreement) -> list[str]:
    changes = []
    if old.id != new.id:
        changes.append(f"These are two different agreements: {old.id} and {new.id}.")
    if old.version != new.version:
        changes.append(f"Version {old.version} becomes version {new.version}.")
    changes += [
        _was("The title is now", f'"{old.title}"', f'"{new.title}"'),
        _was("Its status is now", old.status, new.status),
        _was("It now comes into force on", old.valid_from, new.valid_from),
        _was("It now ends on", old.valid_to, new.valid_to),
        _was("The board now reviews it by", old.review_date, new.review_date),
    ]
    if " ".join(old.purpose.split()) != " ".join(new.purpose.split()):
        changes.append(f'The purpose now reads: "{" ".join(new.purpose.split())}".')
    changes += [f"Lawful basis added: {b}." for b in new.lawful_basis if b not in old.lawful_basis]
    changes += [f"Lawful basis removed: {b}." for b in old.lawful_basis if b not in new.lawful_basis]
    changes += [f"Table {t} is now published." for t in new.published_tables if t not in old.published_tables]
    changes += [f"Table {t} is no longer published." for t in old.published_tables if t not in new.published_tables]
    changes += [
        f"New approval: {a.board} ({ROLES.get(a.role, a.role)}, {a.date})."
        for a in new.approvals
        if a not in old.approvals
    ]
    changes += [
        f"Approval no longer listed: {a.board} ({ROLES.get(a.role, a.role)}, {a.date})."
        for a in old.approvals
        if a not in new.approvals
    ]
    return [c for c in changes if c]


def _party_changes(old: Agreement, new: Agreement) -> list[str]:
    changes = []
    for kind, before, after in (
        ("provider", old.parties.providers, new.parties.providers),
        ("recipient", old.parties.recipients, new.parties.recipients),
    ):
        was = {p.code: p for p in before}
        now = {p.code: p for p in after}
        changes += [f"New {kind}: {party_line(now[c], kind == 'provider')}." for c in now if c not in was]
        changes += [f"{was[c].name} is no longer a {kind}." for c in was if c not in now]
        for code in [c for c in now if c in was and now[c] != was[c]]:
            b, a = was[code], now[code]
            changes.append(_was(f"The {kind} with code {code} is now named", b.name, a.name))
            changes.append(_was(f"{a.name}'s role is now", b.role or "not stated", a.role or "not stated"))
            changes += [f"{a.name} may now provide {dataset_name(s)}." for s in a.datasets if s not in b.datasets]
            changes += [f"{a.name} may no longer provide {dataset_name(s)}." for s in b.datasets if s not in a.datasets]
            changes += [f"{a.name}'s files may now name it {i}." for i in a.identifiers if i not in b.identifiers]
            changes += [f"{a.name}'s files may no longer name it {i}." for i in b.identifiers if i not in a.identifiers]
    if old.area != new.area:
        changes.append(
            f"The area is now {new.area.name} (local authority {words(new.area.local_authorities)}); "
            f"it was {old.area.name} (local authority {words(old.area.local_authorities)})."
        )
    return [c for c in changes if c]


def _protection_changes(old: Agreement, new: Agreement) -> list[str]:
    """Places, disclosure control and the re-identification risk the board accepts."""
    s0, s1 = old.spatial, new.spatial
    d0, d1 = old.disclosure_control, new.disclosure_control
    k0, k1 = d0.cell_key, d1.cell_key
    method = {"cell_key": "cell-key perturbation", "suppress_and_round": "suppression and rounding"}
    changes = [
        _was("Incidents are now placed in cells of", cell_size(s0.h3_resolution), cell_size(s1.h3_resolution)),
        _was(
            "Hotspots are now counted at resolutions",
            words(s0.hotspot_resolutions),
            words(s1.hotspot_resolutions),
        ),
        _was(
            "Hotspots are now counted over windows of",
            f"{words(s0.hotspot_windows_months)} months",
            f"{words(s1.hotspot_windows_months)} months",
        ),
        _was("Disclosure control is now", method[d0.method], method[d1.method]),
        _was("Cell-key perturbation now moves a count by at most", k0.max_deviation, k1.max_deviation),
        _was("The cell-key perturbation's variance is now", f"{k0.variance:g}", f"{k1.variance:g}"),
        _was(
            "Coarser areas and longer windows now show police counts only below a combined count of",
            k0.area_minimum,
            k1.area_minimum,
        ),
        _was(
            "Cells, areas and venues now withhold a count whose protected part would show below",
            k0.cell_minimum,
            k1.cell_minimum,
        ),
        _was("The suppression threshold is now", d0.suppression_threshold, d1.suppression_threshold),
        _was(
            "Counts are now rounded to the nearest",
            d0.rounding_base,
            d1.rounding_base,
            " under suppression and rounding",
        ),
        _dp_change(d0.differential_privacy, d1.differential_privacy),
        _was("The k-anonymity threshold is now", old.risk.k, new.risk.k),
        _was(
            "k-anonymity is now judged over",
            words(old.risk.quasi_identifiers),
            words(new.risk.quasi_identifiers),
        ),
    ]
    return [c for c in changes if c]


def _dp_change(before, after) -> str | None:
    def spelt(dp) -> str:
        return f"epsilon {dp.epsilon:g} per published count, at most {dp.budget_per_month:g} per month"

    if before == after:
        return None
    if before is None:
        return f"Differential privacy is now used: {spelt(after)}."
    if after is None:
        return f"Differential privacy is no longer used (it was {spelt(before)})."
    return f"Differential privacy now allows {spelt(after)} (was {spelt(before)})."


def _retention_changes(old: Agreement, new: Agreement) -> list[str]:
    before, after = old.retention.model_dump(), new.retention.model_dump()
    changes = []
    for zone, days in after.items():
        was = before.get(zone)
        if was is not None and was != days:
            how = "shortened" if days < was else "lengthened"
            changes.append(f"Retention of the {ZONES.get(zone, zone)} {how} from {was} to {days} days.")
    return changes


def _mission_changes(old: Agreement, new: Agreement) -> list[str]:
    """The mission and the public page, each said whole as `agreements show` says it: a target
    moved or a section added reads plainly beside what it replaces."""
    changes = []
    if old.mission != new.mission:
        changes.append(f"The mission changes. Now: {mission_words(new)} Before: {mission_words(old)}")
    if old.public_account != new.public_account:
        changes.append(f"The public page changes. Now: {public_account_words(new)} Before: {public_account_words(old)}")
    return changes


def _dataset_changes(old: Agreement, new: Agreement) -> list[str]:
    changes = []
    for source in [*old.datasets, *(s for s in new.datasets if s not in old.datasets)]:
        name = dataset_name(source)
        if source not in new.datasets:
            changes.append(f"{name} is no longer shared: none of its fields leave the provider.")
            continue
        after = new.datasets[source]
        if source not in old.datasets:
            changes.append(f"{name} is now shared.")
            changes += [f"{name} may now share field {f} ({describe_rule(r)})." for f, r in after.fields.items()]
            continue
        before = old.datasets[source]
        if before.scope != after.scope:
            changes.append(
                f"{name} now takes {scope_words(after.scope) or 'every row'} "
                f"(was {scope_words(before.scope) or 'every row'})."
            )
        if before.public != after.public:
            changes.append(
                f"{name} is now a public source: its counts are published exactly."
                if after.public
                else f"{name} is no longer a public source: its counts are now protected."
            )
        for field in [*before.fields, *(f for f in after.fields if f not in before.fields)]:
            changes += _field_change(name, field, before.fields.get(field), after.fields.get(field))
    return changes


def _field_change(name: str, field: str, before, after) -> list[str]:
    if before == after:
        return []
    if after is None:  # undeclared: deny by default, so it never passes
        if before.action == "drop":
            return [f"{name} no longer declares field {field}, which was dropped: it is still never shared."]
        return [f"{name} may no longer share field {field}: it is no longer declared (it was {describe_rule(before)})."]
    now = describe_rule(after)
    if before is None:
        return [f"{name} now declares field {field}: {now}."]
    if after.action == "drop":
        return [f"{name} may no longer share field {field}: it is now dropped (it was {describe_rule(before)})."]
    if before.action == "drop":
        return [f"{name} may now share field {field} ({now}); it was dropped."]
    return [f"{name} now shares field {field} {now} (it was {describe_rule(before)})."]
