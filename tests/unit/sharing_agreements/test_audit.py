"""The audit log: an untouched log verifies, and each kind of tampering is caught and located."""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anonymise.keys import ed25519_key_id
from sharing_agreements.audit import AuditError, AuditLog, Entry

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
KINDS = ["agreement_loaded", "ingest", "pseudonymise", "publish", "key_event"]


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture
def log(tmp_path, key):
    audit = AuditLog(tmp_path / "audit", key)
    for i in range(1, 11):
        audit.append(KINDS[i % len(KINDS)], {"month": "2025-02", "rows": i * 10}, now=T0 + timedelta(minutes=i))
    return audit


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def rewrite(path: Path, new: list[str]) -> None:
    path.write_text("".join(new))


def edit(audit: AuditLog, line: int, change) -> None:
    """Apply `change` to the entry dict on `line` (1-based), leaving its hash as it was."""
    all_lines = lines(audit.log_path)
    entry = json.loads(all_lines[line - 1])
    change(entry)
    all_lines[line - 1] = json.dumps(entry) + "\n"
    rewrite(audit.log_path, all_lines)


def rehash(entry: dict) -> dict:
    """What a forger who knows the hashing rule would do; no key is needed for this part."""
    body = {k: entry[k] for k in ("seq", "time", "kind", "details", "prev_hash")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**body, "hash": hashlib.sha256(canonical.encode()).hexdigest()}


def assert_fails(audit: AuditLog, *fragments: str, seq=None, line=None):
    report = audit.verify()
    assert not report.ok
    for fragment in fragments:
        assert fragment in report.message, report.message
    if seq is not None:
        assert report.bad_seq == seq
    if line is not None:
        assert report.bad_line == line
    with pytest.raises(AuditError) as exc:
        audit.verify_or_raise()
    assert str(exc.value) == report.message
    return report


def test_untouched_log_verifies(log, key):
    report = log.verify()
    assert report.ok and report.entries == 10 and report.unsigned_tail == 0, report
    assert log.verify_or_raise() == 10
    entries = log.entries()
    assert [e.seq for e in entries] == list(range(1, 11))
    assert entries[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
    assert entries[0].time == "2025-03-01T09:01:00Z"
    # An auditor holding only the public key verifies it too.
    assert AuditLog(log.folder, None, [key.public_key()]).verify_or_raise() == 10
    assert len(lines(log.checkpoint_path)) == 10


def test_append_returns_what_is_stored(tmp_path, key):
    audit = AuditLog(tmp_path, key)
    entry = audit.append("ingest", {"counts": (1, 2), "site": "Caerdydd — ED"})
    assert isinstance(entry, Entry)
    assert audit.entries() == [entry]  # the tuple came back as a list in both
    assert '"Caerdydd — ED"' in audit.log_path.read_text(encoding="utf-8")  # ensure_ascii=False


def test_empty_or_missing_log_verifies(tmp_path, key):
    audit = AuditLog(tmp_path / "nothing-here", key)
    assert audit.verify().ok and audit.verify_or_raise() == 0
    assert audit.entries() == []


def test_append_many_one_checkpoint(tmp_path, key):
    audit = AuditLog(tmp_path, key)
    audit.append("agreement_loaded", {"agreement": "cardiff"})
    made = audit.append_many([("ingest", {"rows": 5}), ("pseudonymise", {"rows": 5}), ("publish", {"rows": 3})])
    assert [e.seq for e in made] == [2, 3, 4]
    assert len(lines(audit.checkpoint_path)) == 2
    assert json.loads(lines(audit.checkpoint_path)[-1])["seq"] == 4
    assert audit.append_many([]) == []
    assert audit.verify_or_raise() == 4


def test_non_serialisable_details_write_nothing(log):
    before = (log.log_path.read_bytes(), log.checkpoint_path.read_bytes())
    with pytest.raises(TypeError):
        log.append("ingest", {"when": datetime.now()})
    with pytest.raises(TypeError):
        log.append("ingest", {"rate": float("nan")})
    with pytest.raises(TypeError):
        log.append_many([("ingest", {"ok": 1}), ("ingest", {"bad": object()})])
    assert (log.log_path.read_bytes(), log.checkpoint_path.read_bytes()) == before


def test_read_only_log_cannot_append(log, key):
    with pytest.raises(AuditError):
        AuditLog(log.folder, None, [key.public_key()]).append("ingest", {})


def test_edited_detail_value(log):
    edit(log, 5, lambda e: e["details"].update(rows=9999))
    assert_fails(log, "entry 5 (line 5) was altered: its hash does not match its content", seq=5, line=5)


def test_edited_kind(log):
    edit(log, 7, lambda e: e.update(kind="publish" if e["kind"] != "publish" else "ingest"))
    assert_fails(log, "entry 7 (line 7) was altered", seq=7, line=7)


def test_deleted_entry(log):
    all_lines = lines(log.log_path)
    del all_lines[3]
    rewrite(log.log_path, all_lines)
    assert_fails(log, "line 4 holds entry 5 but entry 4 was expected", "deleted", seq=4, line=4)


def test_swapped_entries(log):
    all_lines = lines(log.log_path)
    all_lines[2], all_lines[3] = all_lines[3], all_lines[2]
    rewrite(log.log_path, all_lines)
    assert_fails(log, "line 3 holds entry 4 but entry 3 was expected", "reordered", seq=3, line=3)


def test_inserted_forged_entry(log):
    """A forged entry 4 with a correct hash and prev_hash: the checkpoint for entry 4 exposes it."""
    all_lines = lines(log.log_path)
    entry3 = json.loads(all_lines[2])
    forged = rehash(
        {"seq": 4, "time": entry3["time"], "kind": "publish", "details": {"rows": 1}, "prev_hash": entry3["hash"]}
    )
    all_lines.insert(3, json.dumps(forged) + "\n")
    rewrite(log.log_path, all_lines)
    assert_fails(log, "entry 4 (line 4) is not the entry that checkpoint line 4 signed", seq=4, line=4)


def test_inserted_entry_with_old_seq(log):
    """An extra copy of an entry: its hash is fine, but it sits where a later seq belongs."""
    all_lines = lines(log.log_path)
    all_lines.insert(6, all_lines[2])
    rewrite(log.log_path, all_lines)
    assert_fails(log, "line 7 holds entry 3 but entry 7 was expected", "inserted", seq=7, line=7)


def test_forged_rewrite_of_the_whole_chain(log):
    """Change entry 5 and re-chain everything after it: every hash is right, only the signatures object."""
    entries = [json.loads(x) for x in lines(log.log_path)]
    entries[4]["details"]["rows"] = 0
    prev = entries[3]["hash"]
    for i in range(4, len(entries)):
        entries[i] = rehash({**entries[i], "prev_hash": prev})
        prev = entries[i]["hash"]
    rewrite(log.log_path, [json.dumps(e) + "\n" for e in entries])
    assert_fails(log, "entry 5 (line 5) is not the entry that checkpoint line 5 signed", seq=5, line=5)


def test_forged_entry_without_rechaining(log, key):
    """Entry 5 replaced with a correctly hashed forgery, and no checkpoints to lean on: the chain breaks."""
    entries = [json.loads(x) for x in lines(log.log_path)]
    entries[4] = rehash({**entries[4], "kind": "quarantine_export"})
    rewrite(log.log_path, [json.dumps(e) + "\n" for e in entries])
    log.checkpoint_path.unlink()
    assert_fails(log, "entry 6 (line 6) does not chain to entry 5", seq=6, line=6)


def test_truncated_tail(log):
    rewrite(log.log_path, lines(log.log_path)[:-2])
    assert_fails(
        log,
        "the log ends at entry 8 but checkpoint line 10 signed entry 10",
        "entries were removed from the end",
        seq=9,
    )


def test_log_emptied_but_checkpoints_remain(log):
    log.log_path.write_text("")
    assert_fails(log, "the log ends at entry 0", "removed from the end")


def test_unsigned_tail_after_crash(log, key):
    """A crash between writing an entry and its checkpoint: the chain is intact, so it verifies."""
    rewrite(log.checkpoint_path, lines(log.checkpoint_path)[:-3])
    report = log.verify()
    assert report.ok and report.entries == 10 and report.unsigned_tail == 3, report
    log.append("ingest", {"rows": 1})  # the next append extends the chain and signs the new head
    report = log.verify()
    assert report.ok and report.entries == 11 and report.unsigned_tail == 0


def test_replaced_checkpoint_signature(log, key):
    cps = lines(log.checkpoint_path)
    cp = json.loads(cps[5])
    cp["signature"] = base64.b64encode(key.sign(b"something else")).decode()
    cps[5] = json.dumps(cp) + "\n"
    rewrite(log.checkpoint_path, cps)
    assert_fails(log, "checkpoint line 6 (entry 6)", "signature does not verify", seq=6, line=6)


def test_checkpoint_signed_by_an_unknown_key(log):
    """Someone re-signs a checkpoint with their own key: not a key the auditor trusts."""
    intruder = Ed25519PrivateKey.generate()
    cps = lines(log.checkpoint_path)
    cp = json.loads(cps[2])
    cp["key_id"] = ed25519_key_id(intruder.public_key())
    body = json.dumps(
        {k: cp[k] for k in ("seq", "head_hash", "time", "key_id")}, sort_keys=True, separators=(",", ":")
    ).encode()
    cp["signature"] = base64.b64encode(intruder.sign(body)).decode()
    cps[2] = json.dumps(cp) + "\n"
    rewrite(log.checkpoint_path, cps)
    assert_fails(log, "checkpoint line 3 (entry 3) is signed by unknown key", line=3)


def test_verify_with_a_different_trusted_key(log):
    other = Ed25519PrivateKey.generate().public_key()
    auditor = AuditLog(log.folder, None, [other])
    report = assert_fails(auditor, "checkpoint line 1 (entry 1) is signed by unknown key", line=1)
    assert report.bad_file == "checkpoints.jsonl"


def test_reordered_checkpoints(log):
    cps = lines(log.checkpoint_path)
    cps[3], cps[4] = cps[4], cps[3]
    rewrite(log.checkpoint_path, cps)
    assert_fails(log, "checkpoint line 5 (entry 4) follows the one for entry 5: checkpoints were reordered", line=5)


@pytest.mark.parametrize(
    "garbage, why",
    [
        ("this is not json\n", "is not valid JSON"),
        ('{"seq": 4, "kind": "ingest"}\n', "is missing"),
        ("[1, 2, 3]\n", "is not a JSON object"),
    ],
)
def test_garbage_line(log, garbage, why):
    all_lines = lines(log.log_path)
    all_lines[3] = garbage
    rewrite(log.log_path, all_lines)
    assert_fails(log, f"line 4 {why}", line=4)


def test_incomplete_last_line(log):
    """A write cut short by a crash: reported, and appending refuses to extend it."""
    with log.log_path.open("a") as f:
        f.write('{"seq": 11, "ti')
    assert_fails(log, "line 11 is not valid JSON", line=11)
    with pytest.raises(AuditError, match="line 11 .* incomplete"):
        log.append("ingest", {})


def test_append_refuses_an_altered_head(log):
    edit(log, 10, lambda e: e["details"].update(rows=0))
    with pytest.raises(AuditError, match="entry 10 .* altered"):
        log.append("ingest", {})


def test_naive_time_is_refused(tmp_path, key):
    with pytest.raises(ValueError):
        AuditLog(tmp_path, key).append("ingest", {}, now=datetime(2025, 1, 1))


def _append_25(folder: str, raw_key: bytes, worker: int) -> None:
    audit = AuditLog(Path(folder), Ed25519PrivateKey.from_private_bytes(raw_key))
    for i in range(25):
        audit.append("ingest", {"worker": worker, "i": i})


def test_concurrent_appends_from_four_processes(tmp_path, key):
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_25, args=(str(tmp_path), raw, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    audit = AuditLog(tmp_path, key)
    assert audit.verify_or_raise() == 100
    entries = audit.entries()
    assert [e.seq for e in entries] == list(range(1, 101))
    assert sorted((e.details["worker"], e.details["i"]) for e in entries) == [
        (w, i) for w in range(4) for i in range(25)
    ]
    assert audit.verify().unsigned_tail == 0


def test_each_checkpoint_links_to_the_one_before(log):
    cps = [json.loads(line) for line in lines(log.checkpoint_path)]
    assert cps[0]["prev_checkpoint"] == "0" * 64
    for before, after in zip(cps, cps[1:]):
        canonical = json.dumps(before, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert after["prev_checkpoint"] == hashlib.sha256(canonical.encode()).hexdigest()


def test_deleted_middle_checkpoint(log):
    """Its entries still chain and the checkpoints either side still verify: only the link shows the gap."""
    cps = lines(log.checkpoint_path)
    del cps[4]
    rewrite(log.checkpoint_path, cps)
    report = assert_fails(
        log,
        "checkpoint line 5 (entry 6) does not link to checkpoint line 4 (entry 4)",
        "deleted or replaced",
        seq=6,
        line=5,
    )
    assert report.bad_file == "checkpoints.jsonl"


def test_deleted_first_checkpoint(log):
    rewrite(log.checkpoint_path, lines(log.checkpoint_path)[1:])
    assert_fails(log, "checkpoint line 1 (entry 2) does not link to the start of the file", line=1)


def unlinked(checkpoint_line: str, key) -> str:
    """The checkpoint as the previous version wrote it: no link, and signed without one."""
    cp = json.loads(checkpoint_line)
    del cp["prev_checkpoint"]
    body = json.dumps({k: cp[k] for k in ("seq", "head_hash", "time", "key_id")}, sort_keys=True, separators=(",", ":"))
    cp["signature"] = base64.b64encode(key.sign(body.encode())).decode()
    return json.dumps(cp) + "\n"


def test_a_log_written_before_linking_verifies_and_links_on(log, key):
    rewrite(log.checkpoint_path, [unlinked(line, key) for line in lines(log.checkpoint_path)])
    assert log.verify_or_raise() == 10
    log.append("ingest", {"rows": 1})  # the first linked checkpoint links to the last unlinked one
    assert log.verify_or_raise() == 11
    cps = lines(log.checkpoint_path)
    del cps[9]
    rewrite(log.checkpoint_path, cps)
    assert_fails(log, "checkpoint line 10 (entry 11) does not link to checkpoint line 9 (entry 9)", line=10)


def test_an_unlinked_checkpoint_after_linked_ones(log, key):
    """Only the previous version's append writes unlinked checkpoints, so they can only come first."""
    cps = lines(log.checkpoint_path)
    cps[-1] = unlinked(cps[-1], key)
    rewrite(log.checkpoint_path, cps)
    assert_fails(log, "checkpoint line 10 (entry 10) is unlinked but follows linked checkpoints", line=10)
