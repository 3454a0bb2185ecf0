"""What a board reads: an agreement summarised, and what changed between two versions."""

from __future__ import annotations

from sharing_agreements.model import Agreement

_RULE_WORDS = {"drop": "dropped", "keep": "kept", "pseudonymise": "pseudonymised", "generalise": "generalised"}


def describe_rule(rule) -> str:
    text = _RULE_WORDS[rule.action]
    if rule.action == "generalise":
        text += f" to {rule.to.replace('_', ' ')}"
        if rule.to == "age_band":
            text += f" ({rule.width} years, at {rule.at})"
    if rule.key_scope:
        text += f" (key scope {rule.key_scope})"
    return text


def disclosure_lines(agreement: Agreement) -> list[str]:
    """The agreement's disclosure control in words: its method with the method's own parameters,
    the sources it declares public (published exactly), and differential privacy when declared."""
    dc = agreement.disclosure_control
    if dc.method == "cell_key":
        method = (
            f"Disclosure control: cell-key perturbation: every published count is moved by at most "
            f"{dc.cell_key.max_deviation} (variance {dc.cell_key.variance:g}), the same records always giving "
            "the same figure; no count of a monthly table is suppressed"
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


def summary_lines(agreement: Agreement) -> list[str]:
    lines = [
        f"{agreement.title}",
        f"{agreement.label}, {agreement.status}; valid {agreement.valid_from} to {agreement.valid_to}; "
        f"review by {agreement.review_date}",
        "Providers: " + "; ".join(f"{p.name} ({p.code}): {', '.join(p.datasets)}" for p in agreement.parties.providers),
        "Recipients: " + "; ".join(f"{p.name} ({p.code})" for p in agreement.parties.recipients),
        f"Purpose: {' '.join(agreement.purpose.split())}",
        "Lawful basis: " + "; ".join(agreement.lawful_basis),
        f"Area: {agreement.area.name}; spatial cells: H3 resolution {agreement.spatial.h3_resolution}",
        *disclosure_lines(agreement),
        "Retention (days): " + ", ".join(f"{zone} {days}" for zone, days in agreement.retention.model_dump().items()),
        "Published tables: " + ", ".join(agreement.published_tables),
        "Approvals: " + "; ".join(f"{a.board} ({a.role.replace('_', ' ')}, {a.date})" for a in agreement.approvals),
    ]
    for source, rules in agreement.datasets.items():
        lines.append(f"Dataset {source}" + (f" (only {rules.scope})" if rules.scope else "") + ":")
        lines += [f"  {name}: {describe_rule(rule)}" for name, rule in rules.fields.items()]
    return lines


def differences(old: Agreement, new: Agreement) -> list[str]:
    """Plain sentences, one per change, in the order a board would review them."""
    changes = []
    for name in (
        "version",
        "title",
        "status",
        "valid_from",
        "valid_to",
        "review_date",
        "purpose",
        "lawful_basis",
        "published_tables",
    ):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes.append(f"{name.replace('_', ' ')}: {before} -> {after}")
    for name in ("parties", "area", "spatial", "disclosure_control", "retention", "approvals"):
        before, after = getattr(old, name).__repr__(), getattr(new, name).__repr__()
        if before != after:
            changes.append(f"{name.replace('_', ' ')} changed: {getattr(old, name)} -> {getattr(new, name)}")
    for source in sorted(set(old.datasets) | set(new.datasets)):
        if source not in new.datasets:
            changes.append(f"dataset {source} no longer shared")
            continue
        if source not in old.datasets:
            changes.append(f"dataset {source} newly shared")
            continue
        before, after = old.datasets[source], new.datasets[source]
        if before.scope != after.scope:
            changes.append(f"{source} scope: {before.scope} -> {after.scope}")
        for field in sorted(set(before.fields) | set(after.fields)):
            b, a = before.fields.get(field), after.fields.get(field)
            if b != a:
                was = describe_rule(b) if b else "not declared"
                now = describe_rule(a) if a else "not declared (dropped)"
                changes.append(f"{source}.{field}: {was} -> {now}")
    return changes
