"""The board's report, built from audit entries: one row per delivery and per run, re-runs and
failed runs for what they are, providers by name, every refusal counted."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sharing_agreements.audit import Entry
from sharing_agreements.audit_history import KnownRun, read_history
from sharing_agreements.audit_report import report_markdown
from tests.conftest import without_cell_minimum

TODAY = dt.date(2026, 11, 22)
A, B, C = "a" * 64, "b" * 64, "c" * 64


class Log:
    """Audit entries as the pipeline writes them, a minute apart."""

    def __init__(self, agreement_id: str = "a"):
        self.entries: list[Entry] = []
        self.agreement_id = agreement_id
        self.run_id: str | None = None  # the run whose entries are being written, when they name it

    def add(self, kind, details):
        n = len(self.entries) + 1
        time = dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
        details = {**details, "run_id": self.run_id} if self.run_id else details
        self.entries.append(Entry(n, f"{time:%Y-%m-%dT%H:%M:%SZ}", kind, details, prev_hash="0" * 64, hash=f"{n:064x}"))
        return time

    def delivery(self, sha, source="ed", month="2026-09", providers=("7A4BV",), superseded=()):
        return self.add(
            "delivery",
            {
                "source": source,
                "month": month,
                "file": f"{source}-{sha[:2]}.csv",
                "providers": list(providers),
                "size": 10,
                "sha256": sha,
                "superseded": list(superseded),
            },
        )

    def run(self, month="2026-09", files=None, publish=True, version=1, shared=115, provider="7A4BV", run_id=None):
        """A run of the month as its steps write it (by default of delivery A, an ED's); returns when it started.
        `run_id`: the Dagster run id its entries carry (none: as entries were written before they did)."""
        files = {"ed": (A,)} if files is None else files
        self.run_id = run_id
        started = None
        for source, shas in files.items():
            for sha in shas:
                when = self.add(
                    "ingest",
                    {
                        "source": source,
                        "month": month,
                        "file": f"{source}-{sha[:2]}.csv",
                        "sha256": sha,
                        "provider": provider,
                        "rows_received": 120,
                        "rows_passed": 117,
                        "rows_quarantined": 3,
                    },
                )
                started = started or when
        for source in ("ed", "police", "police_uk"):
            shas = files.get(source, ())
            details = _pseudonymised(source, month, list(shas), version, shared if shas else 0)
            when = self.add("pseudonymise", {**details, "agreement_id": self.agreement_id})
            started = started or when
        if publish:
            self.add("publish", {**_published(month, version), "agreement_id": self.agreement_id})
        self.run_id = None
        return started


def _pseudonymised(source, month, files, version=1, shared=115):
    return {
        "agreement_id": "a",
        "agreement_version": version,
        "source": source,
        "month": month,
        "key_id": "k",
        "providers": ["7A4BV"] if files else [],
        "files": files,
        "rows_received": 120 * len(files),
        "rows_quarantined": 3 * len(files),
        "rows_shared": shared,
        "rows_located": 90 if files else 0,
        "fields": {"kept": ["sex"], "pseudonymised": ["nhs_number"], "generalised": [], "dropped": []},
    }


def _published(month, version=1):
    return {
        "agreement_id": "a",
        "agreement_version": version,
        "month": month,
        "agreement_sha256": "x",
        "withheld": [],
        "tables": {"hotspot_cells": {"rows": 40, "cells_suppressed": 12}},
        "content_sha256": "c",
    }


def _rows(text: str, heading: str, nth: int = 0) -> list[list[str]]:
    """The body rows of the `nth` table after `heading`, as cells."""
    tables: list[list[list[str]]] = [[]]
    for line in text.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            if not line.startswith("|---"):
                tables[-1].append([cell.strip() for cell in line.strip("|").split("|")])
        elif tables[-1]:
            if len(tables) > nth:
                break
            tables.append([])
    return tables[nth][1:]  # without the header


def _report(log, known_runs=(), agreement=None):
    return report_markdown(log.entries, TODAY, "verified", agreement, known_runs=list(known_runs))


def test_a_rerun_of_the_same_delivery_is_marked_as_a_rerun_not_a_second_sharing():
    log = Log()
    log.delivery(A)
    for _ in range(3):
        log.run()
    text = _report(log)
    runs = _rows(text, "### Runs")
    assert [r[3].split(" (")[0].split(":")[0] for r in runs] == [
        "published",
        "re-run of the same delivery",
        "re-run of the same delivery",
    ]
    assert all("nothing new shared" in r[3] for r in runs[1:])
    deliveries = _rows(text, "### Deliveries shared")
    assert len(deliveries) == 1 and deliveries[0][5] == f"`{A[:12]}`"
    assert deliveries[0][6:] == ["120", "3", "115", "90"]


def test_a_corrected_delivery_is_a_new_release_and_the_replaced_one_is_listed():
    log = Log()
    log.delivery(A)
    log.run()
    log.delivery(B, superseded=[A])
    log.run(files={"ed": (B,)})
    runs = _rows(_report(log), "### Runs")
    assert runs[1][3].startswith("published: a corrected release")
    assert [r[5] for r in _rows(_report(log), "### Deliveries shared")] == [f"`{A[:12]}`", f"`{B[:12]}`"]


def test_a_failed_run_is_failed_not_shared():
    log = Log()
    log.delivery(A)
    log.run(publish=False)  # stopped after pseudonymising, before publishing
    log.run()
    runs = _rows(_report(log), "### Runs")
    assert runs[0][3] == "failed: nothing published" and runs[0][5] == "—"
    assert runs[1][3] == "published"  # the first publish, not a re-run of a run that shared nothing


def test_a_run_refused_for_a_missing_source_is_refused_and_ends_its_run():
    log = Log()
    log.delivery(A)
    log.run()
    log.run(publish=False)  # the month run again after retention, with the ED extract alone
    gone = {"agreement_id": "a", "month": "2026-09", "sources": ["police"], "reason": "police rows no longer held"}
    log.add("release_refused", {"refusal": "source_missing", **gone})
    log.run()
    runs = _rows(_report(log), "### Runs")
    assert [r[3].split(" (")[0].split(":")[0] for r in runs] == ["published", "refused", "re-run of the same delivery"]
    assert runs[1][3] == "refused: a source the month was published with is missing; nothing published"


def test_with_dagster_history_runs_carry_their_ids_and_status():
    log = Log()
    log.delivery(A)
    first = log.run()
    second = log.run(publish=False)
    known = [
        KnownRun("11111111-aaaa", "2026-09", "succeeded", first, first + dt.timedelta(minutes=4)),
        KnownRun("22222222-bbbb", "2026-09", "failed", second, second + dt.timedelta(minutes=3)),
        # Failed before it wrote anything: still a run the board sees.
        KnownRun("33333333-cccc", "2026-09", "failed", second + dt.timedelta(hours=1)),
    ]
    text = _report(log, known)
    runs = _rows(text, "## Runs that stopped") + _rows(text, "### Runs")
    by_id = {r[1]: r[3] for r in runs}
    assert by_id == {
        "11111111": "published",
        "22222222": "failed: nothing published",
        "33333333": "failed: nothing published",
    }


def test_runs_named_in_the_log_keep_their_ids_when_dagster_has_forgotten_them():
    log = Log()
    log.delivery(A)
    log.run(run_id="88888888-0001", publish=False)  # failed after pseudonymising
    log.run(run_id="99999999-0002")
    log.run(run_id="aaaaaaaa-0003")
    runs = {r[1]: r[3] for r in _rows(_report(log), "### Runs")}
    assert runs == {
        "88888888": "failed: nothing published",
        "99999999": "published",
        "aaaaaaaa": runs["aaaaaaaa"],
    }
    assert runs["aaaaaaaa"].startswith("re-run of the same delivery as run 99999999")


def test_a_run_dagster_never_saw_end_does_not_swallow_later_runs():
    log = Log()
    stuck = log.run(publish=False)  # its process was killed: Dagster still has it as started
    later = log.run()
    known = [
        KnownRun("55555555-eeee", "2026-09", "running", stuck),
        KnownRun("66666666-ffff", "2026-09", "succeeded", later, later + dt.timedelta(minutes=5)),
    ]
    runs = {r[1]: r[3] for r in _rows(_report(log, known), "### Runs")}
    assert runs == {"55555555": "still running", "66666666": "published"}


def test_a_run_that_succeeded_without_publishing_is_not_called_failed():
    log = Log()
    started = log.run(publish=False)
    known = [KnownRun("77777777-abcd", "2026-09", "succeeded", started, started + dt.timedelta(minutes=5))]
    assert _rows(_report(log, known), "### Runs")[0][3] == "nothing published: the run did not include publishing"


def test_a_publish_that_failed_afterwards_says_so():
    log = Log()
    started = log.run()
    known = [KnownRun("44444444-dddd", "2026-09", "failed", started, started + dt.timedelta(minutes=5))]
    assert _rows(_report(log, known), "### Runs")[0][3] == "published; the run then failed at a later step"


def test_a_month_that_published_nothing_is_not_listed_as_published():
    log = Log()
    log.run(month="2026-06", files={})  # nothing delivered: every source pseudonymised no file
    log.delivery(A)
    log.run(files={"ed": (A,)}, shared=0)  # every row quarantined or outside the area
    text = _report(log)
    runs = _rows(text, "### Runs")
    assert runs[0][2] == "2026-06" and runs[0][3] == "nothing delivered: nothing published"
    assert runs[0][5] == "—" and runs[0][6] == "—"
    assert runs[1][3].startswith("nothing shared")
    assert not any(r[3].startswith("published") for r in runs)
    assert "None: no run under this version shared a delivery." in text


def test_the_runs_are_found_in_the_log_alone_when_dagster_has_forgotten_them():
    history = read_history(Log().entries)
    assert history.runs == []
    log = Log()
    log.delivery(A)
    log.delivery(C, source="police", providers=("SWP",))
    log.run(files={"ed": (A,), "police": (C,)})
    log.run(files={"ed": (A,), "police": (C,)})
    kinds = [outcome.kind for _, outcome in read_history(log.entries).runs]
    assert kinds == ["published", "rerun"]


def test_deliveries_shared_together_say_so():
    log = Log()
    log.delivery(A)
    log.delivery(B, providers=("7A5B1",))
    log.run(files={"ed": (A, B)})
    rows = _rows(_report(log), "### Deliveries shared")
    assert [r[8] for r in rows] == ["115 (with 1 other file)", "115 (with 1 other file)"]
    assert [r[6] for r in rows] == ["120", "120"]  # received and quarantined are each file's own


def test_deliveries_not_shared_say_why():
    log = Log()
    log.delivery(A)
    log.delivery(B, superseded=[A])
    log.delivery(C, source="police", month="2026-10", providers=("SWP",))
    rows = _rows(_report(log), "## Deliveries landed but not shared")
    assert rows[0][6].startswith(f"replaced by delivery {B[:12]}")
    assert rows[1][6] == rows[2][6] == "waiting for a run of its month"


def _bundled():
    from sharing_agreements.model import load_agreement

    return load_agreement()


def test_providers_are_named_as_the_agreement_names_its_parties():
    agreement = _bundled()
    log = Log(agreement.id)
    log.delivery(A)
    log.delivery(C, source="police", providers=("SWP",))
    log.delivery(B, source="police_uk", providers=("South Wales Police",))
    log.add("provider_refused", {"source": "police_uk", "file": "col.csv", "providers": ["City of London Police"]})
    log.run(files={"ed": (A,), "police": (C,), "police_uk": (B,)})
    text = _report(log, agreement=agreement)
    providers = [r[2] for r in _rows(text, "### Deliveries shared")]
    assert providers == [
        "Cardiff and Vale University Health Board (7A4BV)",
        "South Wales Police",
        "South Wales Police",
    ]
    for code in ("7A4BV", "SWP", "7A4"):  # never a bare code in any cell where the agreement has a name
        assert not re.search(rf"\| {code} \|", text)
    assert "| City of London Police |" in text  # not a party: shown as its file names it


def _refusal_log() -> Log:
    log = Log()
    log.add("duplicate_refused", {"source": "ed", "month": "2026-09", "file": "ed.csv"})
    log.add("duplicate_refused", {"source": "ed", "month": "2026-09", "file": "ed.csv"})
    for refusal in ("wrong_kind", "unreadable", "wrong_month"):
        log.add(
            "delivery_refused",
            {"source": "police", "file": f"{refusal}.csv", "month": None, "refusal": refusal, "reason": "x"},
        )
    log.add("provider_refused", {"source": "police_uk", "file": "col.csv", "providers": ["City of London Police"]})
    expired = "agreement a v1 expired on 2026-01-01: the board must renew it before data flows"
    for step in ("ed_pseudonymised", "police_pseudonymised", "joint_incidents"):  # one run refused: one refusal
        log.add("verification_failure", {"file": "a.yaml", "step": step, "reason": expired})
    log.add("verification_failure", {"file": "a.yaml", "step": "ingest", "delivery": "ed.csv", "reason": expired})
    log.add("verification_failure", {"file": "a.yaml", "step": "x", "reason": "agreement a v2 is not signed: sign it"})
    log.add("verification_failure", {"file": "a.yaml", "step": "x", "reason": "a.yaml is not valid YAML"})
    log.add("dp_refused", {"agreement_id": "a", "month": "2026-09", "reason": "budget spent"})
    gone = {"agreement_id": "a", "month": "2026-08", "sources": ["police"], "reason": "police rows no longer held"}
    log.add("release_refused", {"refusal": "source_missing", **gone})
    return log


@pytest.mark.parametrize(
    "name, count",
    [
        ("Duplicate delivery", 2),
        ("Wrong kind of file", 1),
        ("Damaged file", 1),
        ("Wrong month", 1),
        ("Provider not a party", 1),
        ("Agreement not in force", 2),
        ("Agreement signature failed", 1),
        ("Agreement invalid", 1),
        ("Privacy budget spent", 1),
        ("Source missing from a re-release", 1),
    ],
)
def test_every_kind_of_refusal_is_counted(name, count):
    text = _report(_refusal_log())
    counts = {row[0].split(":")[0]: int(row[1]) for row in _rows(text, "## Refusals")}
    assert counts[name] == count
    listed = [row for row in _rows(text, "## Refusals", nth=1) if row[1] == name]
    assert len(listed) == count


def test_refused_runs_name_their_steps_once():
    text = _report(_refusal_log())
    assert "(at ed_pseudonymised, police_pseudonymised, joint_incidents)" in text
    assert "| ed.csv | agreement a v1 expired on 2026-01-01" in text  # refused at ingest: the delivery named


def test_no_refusal_still_lists_every_kind():
    text = _report(Log())
    assert all(int(row[1]) == 0 for row in _rows(text, "## Refusals")) and "Nothing was refused." in text


def _loaded(version, valid_to, review):
    return {
        "agreement_id": "a",
        "agreement_version": version,
        "agreement_sha256": "ab" * 32,
        "file": "a.yaml",
        "valid_to": valid_to,
        "review_date": review,
        "step": "x",
        "signed_by": ["Board (k1)"],
    }


def _one(kind, details):
    log = Log()
    log.add(kind, details)
    return log.entries


def test_nearing_expiry_and_review_are_flagged():
    text = report_markdown(_one("agreement_loaded", _loaded(1, "2027-01-15", "2026-12-01")), TODAY, "verified")
    assert "a v1 expires on 2027-01-15** (54 days)" in text
    assert "due for review on 2026-12-01" in text
    calm = report_markdown(_one("agreement_loaded", _loaded(1, "2029-01-01", "2028-06-01")), TODAY, "verified")
    assert "## Attention" not in calm


def test_expired_agreement_is_flagged():
    text = report_markdown(_one("agreement_loaded", _loaded(1, "2026-10-01", "2026-06-01")), TODAY, "verified")
    assert "a v1 expired on 2026-10-01" in text


def test_field_changes_between_versions_are_sentences():
    log = Log()
    log.run(version=1)
    log.run(version=2)
    ed_v2 = next(e for e in reversed(log.entries) if e.kind == "pseudonymise" and e.details["source"] == "ed")
    ed_v2.details["fields"] = {"kept": [], "pseudonymised": ["nhs_number"], "dropped": ["sex"]}
    text = _report(log)
    assert "## Changes from a v1 to v2" in text and "- ed: field sex was kept, is now dropped." in text


def _agreement(**disclosure):
    from sharing_agreements.model import DisclosureControl

    bundled = _bundled()
    return (
        bundled
        if not disclosure
        else bundled.model_copy(update={"disclosure_control": DisclosureControl(**disclosure)})
    )


def test_the_heading_says_exact_counts_for_the_board_only():
    text = report_markdown([], TODAY, "verified", _agreement())
    heading = text.splitlines()[0]
    assert heading.startswith("# ") and "exact counts" in heading and "governance board only" in heading
    assert "do not circulate" in text.lower()


def test_the_disclosure_control_in_force_is_read_from_its_policy():
    cell_key = report_markdown([], TODAY, "verified", _agreement())
    assert "cell-key" in cell_key and "at most 4 (variance 2)" in cell_key and "police_uk" in cell_key
    assert _agreement().disclosure_control.policy().legend() in cell_key
    strict = report_markdown(
        [], TODAY, "verified", _agreement(method="suppress_and_round", suppression_threshold=10, rounding_base=10)
    )
    assert "1 to 10" in strict and "nearest 10" in strict
    assert "1 to 7" not in strict and "nearest 5" not in strict and "cell-key" not in strict


def test_a_version_other_than_the_one_in_force_is_not_described_by_its_rules():
    agreement = _agreement()
    log = Log(agreement.id)
    log.run()
    text = _report(log, agreement=agreement)
    assert "the agreement in force (above)" in text
    assert "withholds the counts of cells, areas and venues whose protected part would show below 5" in text
    every_cell = _report(log, agreement=without_cell_minimum(agreement))
    assert "withholds no count of a monthly table" in every_cell
    older = Log(agreement.id)
    older.run(version=agreement.version + 1)
    assert "not recorded in the audit log for this version" in _report(older, agreement=agreement)


def test_an_unreadable_agreement_is_said():
    text = report_markdown([], TODAY, "verified", None, "no sharing agreement at x.yaml")
    assert "could not be read: no sharing agreement at x.yaml" in text
