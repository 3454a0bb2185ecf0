"""A board's witness: the signed head it keeps proves today's log extends it, catching what the
folder alone cannot (a deleted last checkpoint, a tail cut with its checkpoints, a log rewritten
by someone holding the audit key)."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import timedelta

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anonymise.keys import ed25519_key_id
from sharing_agreements.audit import AuditError, AuditLog
from tests.unit.sharing_agreements.test_audit import KINDS, T0, lines, rewrite


def fill(audit: AuditLog, upto: int, rows=lambda i: i * 10) -> AuditLog:
    for i in range(len(audit.entries()) + 1, upto + 1):
        audit.append(KINDS[i % len(KINDS)], {"month": "2025-02", "rows": rows(i)}, now=T0 + timedelta(minutes=i))
    return audit


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


@pytest.fixture
def log(tmp_path, key):
    return fill(AuditLog(tmp_path / "audit", key), 10)


@pytest.fixture
def witness(log, tmp_path):
    """The board's copy of the head after entry 10, kept away from the audit folder."""
    path = tmp_path / "board" / "head.json"
    log.write_witness(path)
    return path


def auditor(log: AuditLog, key) -> AuditLog:
    """What the board runs: the public key only."""
    return AuditLog(log.folder, None, [key.public_key()])


def signed(head: dict, key: Ed25519PrivateKey) -> dict:
    """`head` signed by `key`, as only its holder can."""
    head = {k: v for k, v in head.items() if k != "signature"} | {"key_id": ed25519_key_id(key.public_key())}
    body = json.dumps(head, sort_keys=True, separators=(",", ":")).encode()
    return head | {"signature": base64.b64encode(key.sign(body)).decode()}


def fails_against(log: AuditLog, witness, *fragments: str, seq=None):
    """The folder alone passes; only the witness shows the tampering."""
    assert log.verify().ok, log.verify().message
    report = log.verify(witness)
    assert not report.ok
    for fragment in fragments:
        assert fragment in report.message, report.message
    if seq is not None:
        assert report.bad_seq == seq
    return report


def test_the_witness_is_the_signed_head(log, witness, key):
    head = json.loads(witness.read_text())
    assert set(head) == {"seq", "head_hash", "time", "key_id", "prev_checkpoint", "signature"}
    assert head["seq"] == 10 and head["head_hash"] == log.entries()[-1].hash
    assert head["time"] == "2025-03-01T09:10:00Z" and head["key_id"] == ed25519_key_id(key.public_key())
    assert json.loads(lines(log.checkpoint_path)[-1]) == head  # the newest checkpoint: nothing new to sign
    assert len(lines(log.checkpoint_path)) == 10


def test_a_log_that_extends_its_witness_passes(log, witness, key):
    fill(log, 15)
    report = auditor(log, key).verify(witness)
    assert report.ok and report.entries == 15 and report.witnessed == 10, report


def test_a_witness_signs_an_unsigned_head_first(log, key, tmp_path):
    """A witness must hold the whole log, so entries after the newest checkpoint are signed once."""
    rewrite(log.checkpoint_path, lines(log.checkpoint_path)[:-2])
    assert log.verify().unsigned_tail == 2
    head = log.write_witness(tmp_path / "head.json", now=T0 + timedelta(hours=1))
    assert head["seq"] == 10 and head["time"] == "2025-03-01T10:00:00Z"
    assert log.verify().unsigned_tail == 0 and len(lines(log.checkpoint_path)) == 9
    log.write_witness(tmp_path / "again.json")
    assert len(lines(log.checkpoint_path)) == 9
    assert auditor(log, key).verify(tmp_path / "head.json").ok


def test_last_checkpoint_deleted(log, witness):
    """To the folder this is a crash between an append's two writes; the witness holds that checkpoint."""
    rewrite(log.checkpoint_path, lines(log.checkpoint_path)[:-1])
    assert log.verify().unsigned_tail == 1
    fails_against(
        log,
        witness,
        "the checkpoint for entry 10 that the board's witness holds is missing from checkpoints.jsonl",
        seq=10,
    )


def test_newest_entries_cut_with_their_checkpoints(log, witness):
    rewrite(log.log_path, lines(log.log_path)[:-3])
    rewrite(log.checkpoint_path, lines(log.checkpoint_path)[:-3])
    report = fails_against(
        log,
        witness,
        "the log ends at entry 7 but the board's witness holds entry 10",
        "entries were removed from the end",
        seq=8,
    )
    assert "\n" not in report.message


def test_entry_rewritten_before_the_witness_by_the_key_holder(log, witness, key, tmp_path):
    """The whole log written again with entry 3 changed, re-chained and re-signed: only the witness objects."""
    forged = fill(AuditLog(tmp_path / "forged", key), 10, rows=lambda i: 0 if i == 3 else i * 10)
    for name in ("log.jsonl", "checkpoints.jsonl"):
        shutil.copy(forged.folder / name, log.folder / name)
    fails_against(
        log,
        witness,
        "entry 10 (line 10) is not the entry the board's witness holds",
        "rewritten at or before entry 10",
        seq=10,
    )


def test_entry_rewritten_before_the_witness_without_the_key(log, witness):
    """Without the key, the log's own checks name the entry; the witness changes nothing there."""
    entries = lines(log.log_path)
    entry = json.loads(entries[2])
    entry["details"]["rows"] = 0
    entries[2] = json.dumps(entry) + "\n"
    rewrite(log.log_path, entries)
    report = log.verify(witness)
    assert not report.ok and "entry 3 (line 3) was altered" in report.message and report.bad_seq == 3


def test_checkpoint_re_signed_after_the_witness(log, witness, key):
    """Same entries, but the witnessed checkpoint re-signed at another time: the board's copy differs."""
    cps = lines(log.checkpoint_path)
    cps[-1] = json.dumps(signed({**json.loads(cps[-1]), "time": "2025-03-02T00:00:00Z"}, key)) + "\n"
    rewrite(log.checkpoint_path, cps)
    fails_against(log, witness, "checkpoint line 10 (entry 10) is not the one the board's witness holds", seq=10)


@pytest.mark.parametrize(
    "forge, message",
    [
        (lambda head: head | {"seq": 8}, "the witness: its signature does not verify against key"),
        (lambda head: signed(head | {"seq": 8}, Ed25519PrivateKey.generate()), "the witness is signed by unknown key"),
        (
            lambda head: {k: v for k, v in head.items() if k != "signature"},
            "the witness head.json is missing signature",
        ),
    ],
)
def test_forged_witness(log, witness, key, forge, message):
    witness.write_text(json.dumps(forge(json.loads(witness.read_text()))))
    report = auditor(log, key).verify(witness)
    assert not report.ok and message in report.message, report.message


def test_a_witness_that_is_not_json(log, witness):
    witness.write_text("not a head\n")
    report = log.verify(witness)
    assert not report.ok and "the witness head.json is not valid JSON" in report.message


def test_no_witness_for_a_log_that_does_not_verify(log, tmp_path):
    cps = lines(log.checkpoint_path)
    del cps[4]
    rewrite(log.checkpoint_path, cps)
    with pytest.raises(AuditError, match="does not verify, so its head cannot be witnessed: checkpoint line 5"):
        log.write_witness(tmp_path / "head.json")
    assert not (tmp_path / "head.json").exists()
    with pytest.raises(AuditError, match="empty"):
        AuditLog(tmp_path / "empty", Ed25519PrivateKey.generate()).write_witness(tmp_path / "head.json")


def test_cli_checkpoint_then_verify_with_the_witness(istv_home, tmp_path):
    from pipelines.cli import cli
    from sharing_agreements import auditing

    for rows in (5, 7, 9):
        auditing.record(istv_home, "ingest", {"rows": rows})
    runner, head = CliRunner(), tmp_path / "board" / "head.json"
    made = runner.invoke(cli, ["audit", "checkpoint", "--out", str(head)])
    assert made.exit_code == 0, made.output
    assert "entry 3" in made.output and json.loads(head.read_text())["seq"] == 3
    auditing.record(istv_home, "ingest", {"rows": 11})
    verified = runner.invoke(cli, ["audit", "verify", "--witness", str(head)])
    assert verified.exit_code == 0, verified.output
    assert "4 entries" in verified.output and "nothing up to entry 3 was removed or rewritten" in verified.output

    log = istv_home.audit / "log.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:2]))
    (istv_home.audit / "checkpoints.jsonl").write_text(
        "".join((istv_home.audit / "checkpoints.jsonl").read_text().splitlines(keepends=True)[:2])
    )
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0
    cut = runner.invoke(cli, ["audit", "verify", "--witness", str(head)])
    assert cut.exit_code == 1 and "Traceback" not in cut.output
    assert "the log ends at entry 2 but the board's witness holds entry 3" in cut.output


def test_cli_refuses_a_witness_kept_beside_the_log(istv_home):
    from pipelines.cli import cli
    from sharing_agreements import auditing

    auditing.record(istv_home, "ingest", {"rows": 5})
    result = CliRunner().invoke(cli, ["audit", "checkpoint", "--out", str(istv_home.audit / "head.json")])
    assert result.exit_code == 1 and "could be cut along with the log" in result.output
    assert not (istv_home.audit / "head.json").exists()
