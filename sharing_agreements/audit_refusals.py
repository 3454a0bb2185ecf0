"""Every refusal the audit log records, by kind, for the board's report: what ingest refused
(a duplicate, the wrong kind of file, a damaged file, the wrong month, a provider that is no
party), what the runs refused (an agreement not in force or not validly signed, a privacy
budget spent, a month run again without a source it was published with) and what retention
refused.

Refusals written before they carried a kind are classified from the entry kind and, for an
agreement refused, from the words of its reason (sharing_agreements.model and .signing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sharing_agreements.audit import Entry
from sharing_agreements.audit_history import entry_time, when

# Every kind, in the order the board reads them; each is counted even when none happened, so the
# report shows it was checked.
KINDS = {  # kind -> (its name in the list, what it means)
    "duplicate": ("Duplicate delivery", "the same file, byte for byte, delivered again"),
    "wrong_kind": ("Wrong kind of file", "not the extract declared, or not a CSV file"),
    "unreadable": ("Damaged file", "empty, cut off, or with broken encoding or quoting"),
    "wrong_month": ("Wrong month", "its rows are not in the month declared, or have no readable date"),
    "not_a_party": ("Provider not a party", "the provider is not a party to the agreement for that dataset"),
    "not_in_force": ("Agreement not in force", "expired, not yet valid, or not active"),
    "signature": ("Agreement signature failed", "unsigned, signed by an unknown key, or altered since signed"),
    "invalid_agreement": ("Agreement invalid", "the agreement file could not be read or is not a valid agreement"),
    "privacy_budget": ("Privacy budget spent", "the release would pass the month's differential-privacy budget"),
    "source_missing": (
        "Source missing from a re-release",
        "a month published with a source's rows, run again without them (deleted under retention)",
    ),
}
# A run refused under an agreement fails in every step that loads it, each writing its entry at
# about the same time: entries with the same reason this close together are one refusal.
SAME_REFUSAL = dt.timedelta(minutes=2)


@dataclass
class Refusal:
    time: dt.datetime
    kind: str
    source: str = ""
    month: str = ""
    file: str = ""
    provider: str = ""
    why: str = ""
    steps: tuple[str, ...] = ()


def _agreement_kind(reason: str) -> str:
    if any(words in reason for words in (" expired on ", " is not yet valid", ", not active")):
        return "not_in_force"
    if any(words in reason for words in (" is not signed", " unknown key ", " altered since ", "signature")):
        return "signature"
    return "invalid_agreement"


def refusals(entries: list[Entry]) -> list[Refusal]:
    found: list[Refusal] = []
    for entry in entries:
        d, moment = entry.details, entry_time(entry.time)
        if entry.kind == "duplicate_refused":
            found.append(Refusal(moment, "duplicate", d.get("source", ""), d.get("month", ""), d.get("file", "")))
        elif entry.kind == "delivery_refused":
            kind = d.get("refusal") if d.get("refusal") in KINDS else "unreadable"
            found.append(
                Refusal(
                    moment, kind, d.get("source", ""), d.get("month") or "", d.get("file", ""), why=d.get("reason", "")
                )
            )
        elif entry.kind == "provider_refused":
            named = ", ".join(d.get("providers", [])) or "no provider at all"
            found.append(Refusal(moment, "not_a_party", d.get("source", ""), "", d.get("file", ""), provider=named))
        elif entry.kind == "dp_refused":
            found.append(Refusal(moment, "privacy_budget", month=d.get("month", ""), why=d.get("reason", "")))
        elif entry.kind == "release_refused":
            source = ", ".join(d.get("sources", []))
            kind = d.get("refusal") if d.get("refusal") in KINDS else "source_missing"
            found.append(Refusal(moment, kind, source, d.get("month", ""), why=d.get("reason", "")))
        elif entry.kind == "verification_failure":
            reason, step = d.get("reason", ""), d.get("step", "")
            earlier = next(
                (
                    r
                    for r in reversed(found)
                    if r.why == reason and r.file == d.get("file", "") and moment - r.time <= SAME_REFUSAL
                ),
                None,
            )
            # Only a run's steps are one refusal; each refused ingest is a refusal of its own.
            if earlier is not None and step not in earlier.steps and "ingest" not in (step, *earlier.steps):
                earlier.steps += (step,)
                continue
            found.append(
                Refusal(
                    moment,
                    _agreement_kind(reason),
                    d.get("source", ""),
                    file=d.get("file", ""),
                    why=reason,
                    steps=(step,) if step else (),
                    provider=d.get("delivery", ""),
                )
            )
    return found


def _cell(text: str, most: int = 0) -> str:
    """Text fit for a Markdown table cell; with `most`, cut to that many characters (the audit log
    keeps the whole reason)."""
    text = " ".join(text.replace("|", "/").split())
    return (text[: most - 1] + "…" if most and len(text) > most else text) or "—"


def refusals_section(entries: list[Entry]) -> list[str]:
    found = refusals(entries)
    lines = ["## Refusals", ""]
    lines += [
        "Everything ingest and the runs refused, by kind. File names only: a refused file's rows are never "
        "read into the audit log.",
        "",
        "| refusal | count |",
        "|---|---|",
    ]
    lines += [
        f"| {name}: {meaning} | {sum(r.kind == kind for r in found)} |" for kind, (name, meaning) in KINDS.items()
    ]
    lines.append("")
    if not found:
        return [*lines, "Nothing was refused.", ""]
    lines += [
        "| date (UTC) | refusal | source | month | file | provider or delivery | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in found:
        why = r.why + (f" (at {', '.join(r.steps)})" if r.steps else "")
        lines.append(
            f"| {when(r.time)} | {KINDS[r.kind][0]} | {_cell(r.source)} | {_cell(r.month)} | "
            f"{_cell(r.file)} | {_cell(r.provider)} | {_cell(why, 240)} |"
        )
    return [*lines, ""]
