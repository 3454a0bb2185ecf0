"""The governance report: per agreement version, one row for each delivery shared under it and one
for each run of a month, with its date, run id and what it came to (published, a re-run of the
same delivery, failed, nothing delivered); deliveries landed but not shared; every refusal by
kind; how the fields changed between versions; agreements nearing expiry; and the disclosure
control of the agreement in force, read from its policy.

Built from the audit log (sharing_agreements.audit_history), so it shows what happened, not what
the configuration says; Dagster's run history only adds the runs' ids and whether they failed.
Its counts are exact (rows received, quarantined, shared): it is for the governance board only,
and `istv audit report` writes it into the audit zone (IstvHome.audit_reports), never beside the
analysts' reports.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from sharing_agreements.audit import Entry
from sharing_agreements.audit_history import Delivery, History, KnownRun, Run, read_history, when
from sharing_agreements.audit_refusals import refusals_section

EXPIRY_WARNING_DAYS = 90
TITLE = "# istv audit report: exact counts, for the governance board only"
BOARD_ONLY = (
    "> **For the governance board only: do not circulate.** This report holds exact counts of what each "
    "provider delivered (rows received, quarantined, shared, located), which have not been through "
    "disclosure control. Keep it in the audit zone; never copy it beside the analysts' reports, into the "
    "warehouse or into an e-mail. The published, disclosure-controlled figures are in the warehouse."
)
DELIVERY_COLUMNS = (
    "| landed (UTC) | source | provider | month | file | fingerprint | rows received | quarantined | shared "
    "| located |\n|---|---|---|---|---|---|---|---|---|---|"
)
RUN_COLUMNS = (
    "| started (UTC) | run id | month | result | deliveries read | tables published | cells withheld |\n"
    "|---|---|---|---|---|---|---|"
)


def report_markdown(
    entries: list[Entry],
    today: dt.date,
    verified: str,
    agreement=None,
    agreement_problem: str = "",
    known_runs: Sequence[KnownRun] = (),
    runs_note: str = "",
) -> str:
    """The report as Markdown. `agreement`: the agreement in force, whose disclosure policy the
    report describes and whose parties name the providers (None with `agreement_problem` when it
    could not be read). `known_runs`: the monthly runs Dagster's history still holds; `runs_note`
    says where run ids come from."""
    history = read_history(entries, known_runs)
    loaded: dict = {}
    fields: dict = defaultdict(dict)  # (id, version) -> source -> field actions
    for entry in entries:
        d = entry.details
        if entry.kind == "agreement_loaded":
            loaded[(d["agreement_id"], d["agreement_version"])] = (d, entry.time)
        elif entry.kind == "pseudonymise" and (d.get("files") or d.get("rows_received")):
            fields[(d["agreement_id"], d["agreement_version"])][d["source"]] = d["fields"]

    lines = [TITLE, "", BOARD_ONLY, "", f"Generated {today}. Audit log: {verified}.", ""]
    if runs_note:
        lines += [runs_note, ""]
    lines += _expiry_section(loaded, today)
    lines += _disclosure_section(agreement, agreement_problem)
    names = _provider_names(agreement)
    versions = sorted({run.version for run, _ in history.runs if run.version is not None})
    for key in versions:
        lines += _version_section(key, history, names, loaded, agreement, fields)
    stopped = [(run, outcome) for run, outcome in history.runs if run.version is None]
    if stopped:
        lines += [
            "## Runs that stopped before any agreement was applied",
            "",
            "No delivery was pseudonymised in these runs: nothing was shared.",
            "",
            RUN_COLUMNS,
            *(_run_row(run, outcome) for run, outcome in stopped),
            "",
        ]
    lines += _unshared_section(history, names)
    lines += refusals_section(entries)
    lines += _changes_section(fields)
    return "\n".join(lines)


def _provider_names(agreement):
    """How a file's provider is shown: as the agreement in force names it (Agreement.provider_named)."""
    return agreement.provider_named if agreement is not None else (lambda source, written: written)


def _version_section(key, history: History, names, loaded: dict, agreement, fields: dict) -> list[str]:
    lines = [f"## Agreement {key[0]} version {key[1]}", ""]
    if key in loaded:
        details, last = loaded[key]
        lines += [
            f"Content SHA-256 `{details['agreement_sha256'][:16]}…`, signed by {', '.join(details['signed_by'])}; "
            f"last used {last}.",
            "",
        ]
    if agreement is not None and key == (agreement.id, agreement.version):
        dc = agreement.disclosure_control
        if dc.policy().largest_withheld():
            method = ""
        elif dc.method == "cell_key" and dc.cell_key.cell_minimum:
            method = (
                " Its method withholds the counts of cells, areas and venues whose protected part would show below "
                f"{dc.cell_key.cell_minimum}"
                + (
                    ", and coarser areas and longer windows below its area minimum show police counts only."
                    if dc.cell_key.area_minimum
                    else "."
                )
            )
        elif dc.method == "cell_key" and dc.cell_key.area_minimum:
            method = (
                " Its method withholds no count of a monthly table; the cells withheld are those of coarser areas "
                "and longer windows below its area minimum, which show police counts only."
            )
        else:
            method = " Its method withholds no count, so no cell is withheld."
        lines += [f"Disclosure control: the agreement in force (above).{method}", ""]
    else:
        lines += [
            "Disclosure control: not recorded in the audit log for this version (the section above describes "
            "the agreement in force only).",
            "",
        ]
    runs = [(run, outcome) for run, outcome in history.runs if run.version == key]
    shared = [(run, sha) for run, outcome in runs if outcome.shares for sha in sorted(run.files)]
    lines += ["### Deliveries shared", ""]
    if shared:
        seen = set()
        lines.append(DELIVERY_COLUMNS)
        for run, sha in shared:
            if sha not in seen:
                seen.add(sha)
                lines.append(_delivery_row(run, sha, history.deliveries.get(sha), names))
    else:
        lines.append("None: no run under this version shared a delivery.")
    lines += ["", "### Runs", "", RUN_COLUMNS, *(_run_row(run, outcome) for run, outcome in runs), ""]
    lines += ["Fields as the runs applied them:", ""] if fields[key] else []
    lines += [
        f"- **{source}**: " + "; ".join(f"{action} {', '.join(names_) or 'none'}" for action, names_ in actions.items())
        for source, actions in sorted(fields[key].items())
    ]
    return [*lines, ""]


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else "—"


def _delivery_row(run: Run, sha: str, delivery: Delivery | None, names) -> str:
    parsed = run.parsed().get(sha, {})
    source = delivery.source if delivery else parsed.get("source", "")
    written = delivery.providers if delivery else ((parsed["provider"],) if parsed.get("provider") else ())
    pseudonymised = run.pseudonymised().get(source, {})
    together = len(pseudonymised.get("files", [])) - 1

    def of_source(name: str) -> str:
        # A source's rows are counted as shared and located for all its deliveries together.
        value = _number(pseudonymised.get(name))
        return f"{value} (with {together} other file{'s' * (together > 1)})" if together > 0 else value

    return (
        f"| {when(delivery.landed) if delivery else 'not recorded'} | {source} | "
        f"{', '.join(names(source, p) for p in written) or '—'} | {run.month} | "
        f"{delivery.file if delivery else parsed.get('file', '—')} | `{sha[:12]}` | "
        f"{_number(parsed.get('rows_received'))} | {_number(parsed.get('rows_quarantined'))} | "
        f"{of_source('rows_shared')} | {of_source('rows_located')} |"
    )


def _run_row(run: Run, outcome) -> str:
    publish = run.details("publish") or {}
    tables = publish.get("tables", {}) if outcome.kind in ("published", "corrected", "rerun") else {}
    withheld = sum(t.get("cells_suppressed", 0) for t in tables.values())
    read = ", ".join(f"`{sha[:12]}`" for sha in sorted(run.files)) or "none"
    return (
        f"| {when(run.started)} | {run.run_id[:8] if run.run_id else '—'} | {run.month} | {outcome.words} | "
        f"{read} | {len(tables) or '—'} | {withheld if tables else '—'} |"
    )


def _unshared_section(history: History, names) -> list[str]:
    waiting = history.unshared()
    if not waiting:
        return []
    lines = [
        "## Deliveries landed but not shared",
        "",
        "| landed (UTC) | source | provider | month | file | fingerprint | why not shared |",
        "|---|---|---|---|---|---|---|",
    ]
    for d, why in waiting:
        lines.append(
            f"| {when(d.landed)} | {d.source} | {', '.join(names(d.source, p) for p in d.providers) or '—'} | "
            f"{d.month} | {d.file} | `{d.sha256[:12]}` | {why} |"
        )
    return [*lines, ""]


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
                        was, now = before.get(name, "not shared"), after.get(name, "not shared")
                        changes.append(f"- {source}: field {name} was {was}, is now {now}.")
            lines += [f"## Changes from {agreement_id} v{old} to v{new}", "", *(changes or ["- No field changed."]), ""]
    return lines


def _action_of(actions: dict) -> dict[str, str]:
    return {name: action for action, names in actions.items() for name in names}
