"""The governance report: per agreement version and month, what was shared, by whom, how much,
what was withheld from publication; how the fields changed between versions; agreements nearing
expiry; and the disclosure control of the agreement in force, read from its policy.

Built from the audit log alone, so it shows what happened, not what the configuration says. Its
counts are exact (rows received, quarantined, shared): it is for the governance board only, and
`istv audit report` writes it into the audit zone (IstvHome.audit_reports), never beside the
analysts' reports.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sharing_agreements.audit import Entry

EXPIRY_WARNING_DAYS = 90
TITLE = "# istv audit report: exact counts, for the governance board only"
BOARD_ONLY = (
    "> **For the governance board only: do not circulate.** This report holds exact counts of what each "
    "provider delivered (rows received, quarantined, shared, located), which have not been through "
    "disclosure control. Keep it in the audit zone; never copy it beside the analysts' reports, into the "
    "warehouse or into an e-mail. The published, disclosure-controlled figures are in the warehouse."
)


def _version_key(details: dict) -> tuple[str, int]:
    return details["agreement_id"], details["agreement_version"]


def report_markdown(
    entries: list[Entry], today: dt.date, verified: str, agreement=None, agreement_problem: str = ""
) -> str:
    """The report as Markdown. `agreement`: the agreement in force, whose disclosure policy the
    report describes (None with `agreement_problem` when it could not be read)."""
    shared: dict = defaultdict(lambda: defaultdict(list))  # (id, version) -> month -> pseudonymise entries
    published: dict = defaultdict(dict)  # (id, version) -> month -> publish details
    fields: dict = defaultdict(dict)  # (id, version) -> source -> field actions
    loaded: dict = {}
    refusals = []
    for entry in entries:
        d = entry.details
        if entry.kind == "pseudonymise":
            shared[_version_key(d)][d["month"]].append(d)
            fields[_version_key(d)][d["source"]] = d["fields"]
        elif entry.kind == "publish":
            published[_version_key(d)][d["month"]] = d
        elif entry.kind == "agreement_loaded":
            loaded[_version_key(d)] = (d, entry.time)
        elif entry.kind == "verification_failure":
            refusals.append((entry.time, d))

    lines = [TITLE, "", BOARD_ONLY, "", f"Generated {today}. Audit log: {verified}.", ""]
    lines += _expiry_section(loaded, today)
    lines += _disclosure_section(agreement, agreement_problem)
    in_force = (agreement.id, agreement.version) if agreement is not None else None
    for key in sorted(set(shared) | set(published)):
        lines += [f"## Agreement {key[0]} version {key[1]}", ""]
        if key in loaded:
            details, last = loaded[key]
            lines += [
                f"Content SHA-256 `{details['agreement_sha256'][:16]}…`, signed by {', '.join(details['signed_by'])}; "
                f"last used {last}.",
                "",
            ]
        if key == in_force:
            lines += [
                "Disclosure control: the agreement in force (above)."
                + (
                    " Its method withholds no count, so no cell is withheld."
                    if not agreement.disclosure_control.policy().largest_withheld()
                    else ""
                ),
                "",
            ]
        else:
            lines += [
                "Disclosure control: not recorded in the audit log for this version (the section above describes "
                "the agreement in force only).",
                "",
            ]
        lines += [
            "| month | source | providers | rows received | quarantined | shared | located | tables published "
            "| cells withheld |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for month in sorted(set(shared[key]) | set(published[key])):
            publish = published[key].get(month, {})
            tables = ", ".join(sorted(publish.get("tables", {}))) or "not published"
            suppressed = sum(t["cells_suppressed"] for t in publish.get("tables", {}).values())
            for d in sorted(shared[key][month], key=lambda d: d["source"]):
                lines.append(
                    f"| {month} | {d['source']} | {', '.join(d['providers']) or '—'} | {d['rows_received']} | "
                    f"{d['rows_quarantined']} | {d['rows_shared']} | {d['rows_located']} | {tables} | {suppressed} |"
                )
        lines.append("")
        lines += [
            f"- **{source}**: "
            + "; ".join(f"{action} {', '.join(names) or 'none'}" for action, names in actions.items())
            for source, actions in sorted(fields[key].items())
        ]
        lines.append("")
    lines += _changes_section(fields)
    if refusals:
        lines += ["## Refused agreements", ""] + [f"- {time}: {d['reason']}" for time, d in refusals] + [""]
    return "\n".join(lines)


def _disclosure_section(agreement, problem: str) -> list[str]:
    """The disclosure control of the agreement in force, read from its policy: the same words the
    board reads in `istv agreements show`, and the legend a reader of the published figures sees."""
    if agreement is None:
        why = f": {problem}" if problem else ""
        return ["## Disclosure control in force", "", f"The agreement in force could not be read{why}.", ""]
    from anonymise.disclosure import disclosure_legend
    from sharing_agreements.review import disclosure_lines

    policy = agreement.disclosure_control.policy()
    lines = ["## Disclosure control in force", "", f"Under {agreement.label}:", ""]
    lines += [f"- {line}" for line in disclosure_lines(agreement)]
    lines += [
        f"- What a reader of the published figures is told: {disclosure_legend(policy, agreement.public_sources())}",
        "",
    ]
    return lines


def _expiry_section(loaded: dict, today: dt.date) -> list[str]:
    lines = []
    for (agreement_id, version), (details, _) in sorted(loaded.items()):
        valid_to = dt.date.fromisoformat(details["valid_to"])
        review = dt.date.fromisoformat(details["review_date"])
        if valid_to < today:
            lines.append(f"- **{agreement_id} v{version} expired on {valid_to}.**")
        elif (valid_to - today).days <= EXPIRY_WARNING_DAYS:
            lines.append(f"- **{agreement_id} v{version} expires on {valid_to}** ({(valid_to - today).days} days).")
        if review <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS):
            lines.append(f"- {agreement_id} v{version} is due for review on {review}.")
    return (["## Attention", "", *lines, ""]) if lines else []


def _changes_section(fields: dict) -> list[str]:
    lines = []
    by_agreement: dict = defaultdict(list)
    for agreement_id, version in sorted(fields):
        by_agreement[agreement_id].append(version)
    for agreement_id, versions in by_agreement.items():
        for old, new in zip(versions, versions[1:]):
            changes = []
            for source in sorted(set(fields[(agreement_id, old)]) | set(fields[(agreement_id, new)])):
                before = _action_of(fields[(agreement_id, old)].get(source, {}))
                after = _action_of(fields[(agreement_id, new)].get(source, {}))
                for name in sorted(set(before) | set(after)):
                    if before.get(name) != after.get(name):
                        changes.append(
                            f"- {source}.{name}: {before.get(name, 'absent')} -> {after.get(name, 'absent')}"
                        )
            lines += [f"## Changes from {agreement_id} v{old} to v{new}", "", *(changes or ["- no field changes"]), ""]
    return lines


def _action_of(actions: dict) -> dict[str, str]:
    return {name: action for action, names in actions.items() for name in names}
