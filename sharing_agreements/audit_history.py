"""The audit log read back as a board reads it: the deliveries that landed, the runs that shared
them, and what each run came to (published, a re-run of the same delivery, failed, nothing
delivered).

Runs are found in the audit log itself, which is kept for ever. A run of a month writes an
`ingest` entry for each delivery it parses, a `pseudonymise` entry for each source, then a
`publish` entry (or `dp_refused` or `release_refused`); so a month's entries are cut into runs
after a publish and where an entry repeats (the same delivery parsed again, the same source
pseudonymised again).
An entry written by a run names it (`run_id`): that decides. For entries that do not (written
before runs named themselves), Dagster's run history, while it still holds a run (it is deleted
after the agreement's `dagster` retention period), gives the run its id: an entry belongs to the
run of its month that was going when it was written. Dagster's history also says whether a run
failed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sharing_agreements.audit import Entry

RUN_KINDS = ("ingest", "pseudonymise", "publish", "dp_refused", "release_refused")
_ENDS_RUN = ("publish", "dp_refused", "release_refused")


def entry_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def when(moment: dt.datetime | None) -> str:
    """A time as the report shows it (UTC, to the minute)."""
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M}" if moment else "not recorded"


@dataclass(frozen=True)
class KnownRun:
    """A run of the monthly job as Dagster's run history holds it."""

    run_id: str
    month: str  # YYYY-MM
    status: str  # "succeeded", "failed", "cancelled" or "running"
    started: dt.datetime  # timezone-aware
    ended: dt.datetime | None = None

    def covers(self, moment: dt.datetime) -> bool:
        # Audit times are cut to the second, so a run's first entry may read earlier than its start.
        return self.started.replace(microsecond=0) <= moment and (self.ended is None or moment <= self.ended)


@dataclass
class Run:
    month: str
    entries: list[Entry] = field(default_factory=list)
    known: KnownRun | None = None
    recorded_id: str | None = None  # the run id its entries carry

    @staticmethod
    def _key(entry: Entry) -> tuple:
        d = entry.details
        return (
            (entry.kind, d.get("source"), d.get("sha256")) if entry.kind == "ingest" else (entry.kind, d.get("source"))
        )

    def repeats(self, entry: Entry) -> bool:
        return self.closed or any(self._key(e) == self._key(entry) for e in self.entries)

    @property
    def closed(self) -> bool:
        return any(e.kind in _ENDS_RUN for e in self.entries)

    @property
    def started(self) -> dt.datetime:
        return self.known.started if self.known else entry_time(self.entries[0].time)

    @property
    def run_id(self) -> str | None:
        return self.known.run_id if self.known else self.recorded_id

    def details(self, kind: str) -> dict | None:
        return next((e.details for e in reversed(self.entries) if e.kind == kind), None)

    def pseudonymised(self) -> dict[str, dict]:
        """Source -> its pseudonymise entry."""
        return {e.details["source"]: e.details for e in self.entries if e.kind == "pseudonymise"}

    def parsed(self) -> dict[str, dict]:
        """Delivery fingerprint -> its ingest entry."""
        return {e.details["sha256"]: e.details for e in self.entries if e.kind == "ingest" and "sha256" in e.details}

    @property
    def version(self) -> tuple[str, int] | None:
        for e in self.entries:
            if "agreement_id" in e.details and "agreement_version" in e.details:
                return e.details["agreement_id"], e.details["agreement_version"]
        return None

    @property
    def files(self) -> frozenset[str]:
        """The deliveries the run read, by fingerprint: what makes two runs of a month the same."""
        shared = {sha for d in self.pseudonymised().values() for sha in d.get("files", [])}
        return frozenset(shared | set(self.parsed()))

    @property
    def rows_shared(self) -> int:
        return sum(d.get("rows_shared", 0) for d in self.pseudonymised().values())


@dataclass(frozen=True)
class Outcome:
    # published, corrected, rerun, nothing_delivered, nothing_shared, budget_refused, source_missing,
    # not_published, failed, cancelled or running
    kind: str
    words: str

    @property
    def shares(self) -> bool:
        """The run shared deliveries for the first time under its agreement version."""
        return self.kind in ("published", "corrected")


@dataclass
class Delivery:
    sha256: str
    source: str
    month: str
    file: str
    providers: tuple[str, ...]  # as the file names them
    landed: dt.datetime | None  # None: landed without a delivery entry (placed by hand, or an older log)
    replaced_by: str | None = None  # the fingerprint of the delivery that superseded it


@dataclass
class History:
    deliveries: dict[str, Delivery]
    runs: list[tuple[Run, Outcome]]

    def first_shared(self, sha256: str) -> Run | None:
        """The run that first shared the delivery, under any agreement version."""
        return next((run for run, outcome in self.runs if outcome.shares and sha256 in run.files), None)

    def unshared(self) -> list[tuple[Delivery, str]]:
        """Deliveries no run has shared, each with why."""
        out = []
        for delivery in self.deliveries.values():
            if self.first_shared(delivery.sha256) is not None:
                continue
            tried = [run for run, _ in self.runs if delivery.sha256 in run.files]
            if delivery.replaced_by:
                why = f"replaced by delivery {delivery.replaced_by[:12]} before any run shared it"
            elif tried:
                why = f"the run of its month did not publish it ({self._outcome(tried[-1]).words})"
            else:
                why = "waiting for a run of its month"
            out.append((delivery, why))
        return out

    def _outcome(self, run: Run) -> Outcome:
        return next(outcome for r, outcome in self.runs if r is run)


def read_history(entries: list[Entry], known_runs: Sequence[KnownRun] = ()) -> History:
    return History(_deliveries(entries), _outcomes(_runs(entries, known_runs)))


def _deliveries(entries: list[Entry]) -> dict[str, Delivery]:
    found: dict[str, Delivery] = {}
    for entry in entries:
        d = entry.details
        if entry.kind == "delivery" and "sha256" in d:
            found[d["sha256"]] = Delivery(
                d["sha256"], d["source"], d["month"], d["file"], tuple(d.get("providers", ())), entry_time(entry.time)
            )
            for earlier in d.get("superseded", []):
                if earlier in found:
                    found[earlier].replaced_by = d["sha256"]
        elif entry.kind == "ingest" and "sha256" in d and d["sha256"] not in found:
            provider = (d["provider"],) if d.get("provider") else ()
            found[d["sha256"]] = Delivery(d["sha256"], d["source"], d["month"], d["file"], provider, None)
    return found


def _runs(entries: list[Entry], known_runs: Sequence[KnownRun]) -> list[Run]:
    runs: list[Run] = []
    by_id: dict[str, Run] = {}
    reading: dict[str, Run] = {}  # month -> the run its next entry may belong to, when Dagster does not say
    for entry in entries:
        month = entry.details.get("month")
        if entry.kind not in RUN_KINDS or not isinstance(month, str):
            continue
        moment = entry_time(entry.time)
        recorded = entry.details.get("run_id")
        if isinstance(recorded, str) and recorded:
            run = by_id.get(recorded)
            if run is None:
                known = next((k for k in known_runs if k.run_id == recorded), None)
                run = by_id[recorded] = Run(month, known=known, recorded_id=recorded)
                runs.append(run)
        elif going := [k for k in known_runs if k.month == month and k.covers(moment)]:
            # The latest run of the month going then: one Dagster never saw end (its process killed)
            # would otherwise take in every later run's entries.
            known = max(going, key=lambda k: k.started)
            run = by_id.get(known.run_id)
            if run is None:
                run = by_id[known.run_id] = Run(month, known=known)
                runs.append(run)
        else:
            run = reading.get(month)
            if run is None or run.repeats(entry):
                run = reading[month] = Run(month)
                runs.append(run)
        run.entries.append(entry)
    # A run that stopped before writing anything (a missing key, an agreement refused at once) is still a run.
    runs += [Run(k.month, known=k) for k in known_runs if k.run_id not in by_id]
    return sorted(runs, key=lambda run: run.started)


def _outcomes(runs: list[Run]) -> list[tuple[Run, Outcome]]:
    shared_before: dict[tuple, list[Run]] = {}  # (version, month) -> runs that published
    out = []
    for run in runs:
        outcome = _outcome(run, shared_before.get((run.version, run.month), []))
        if outcome.kind in ("published", "corrected", "rerun"):
            shared_before.setdefault((run.version, run.month), []).append(run)
        out.append((run, outcome))
    return out


def _outcome(run: Run, earlier: list[Run]) -> Outcome:
    status = run.known.status if run.known else None
    if run.details("dp_refused") is not None:
        return Outcome("budget_refused", "refused: the month's privacy budget is spent; nothing published")
    if run.details("release_refused") is not None:
        return Outcome("source_missing", "refused: a source the month was published with is missing; nothing published")
    if run.details("publish") is None:
        if status == "running":
            return Outcome("running", "still running")
        if status == "cancelled":
            return Outcome("cancelled", "cancelled: nothing published")
        if status == "succeeded":  # a run of some steps only, started from the Dagster UI
            return Outcome("not_published", "nothing published: the run did not include publishing")
        return Outcome("failed", "failed: nothing published")
    after = "; the run then failed at a later step" if status == "failed" else ""
    if not run.files:
        return Outcome("nothing_delivered", "nothing delivered: nothing published")
    if not run.rows_shared:
        return Outcome("nothing_shared", "nothing shared: every row was quarantined, out of scope or unlocated")
    same = next((r for r in earlier if r.files == run.files), None)
    if same is not None:
        by = f" as run {same.run_id[:8]}" if same.run_id else ""
        return Outcome("rerun", f"re-run of the same delivery{by} ({when(same.started)}): nothing new shared{after}")
    if earlier:
        return Outcome("corrected", f"published: a corrected release, from new or replaced deliveries{after}")
    return Outcome("published", f"published{after}")
