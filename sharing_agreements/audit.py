"""An append-only, hash-chained audit log with Ed25519-signed checkpoints, so governance boards can
trust what it says was shared. Details must hold no identifiable values: that is the caller's duty,
as the log cannot tell.

What verify() catches, and with what:
- Entries: each holds the SHA-256 of the one before, so an edited, deleted, inserted or reordered
  entry breaks the chain.
- Checkpoints: each append signs a checkpoint of the head (entry count and last hash) with the audit
  key, so a rewritten chain or a cut tail under a surviving checkpoint no longer matches what was
  signed. Each checkpoint also signs `prev_checkpoint`, the SHA-256 of the checkpoint before it
  (`GENESIS` for the first), so deleting, inserting or replacing a checkpoint breaks these links.
- The end: a checkpoint is written after its entries, so a crash between the two writes leaves
  entries after the newest checkpoint; they pass if they chain, reported as `unsigned_tail`, and
  the next append signs them. Deleting the last checkpoint (or the last few) leaves exactly that
  state, and cutting the newest entries together with their checkpoints leaves a shorter log just
  as consistent: nothing in the folder can tell either from an honest log. What catches them is a
  signed head kept elsewhere, as certificate-transparency monitors keep a log's signed tree heads
  (RFC 6962). write_witness() hands a board the newest checkpoint (signing the head first if
  entries follow it), and verify(witness) proves today's log extends it: the log reaches the
  witnessed entry, that entry has the witnessed hash, and the witnessed checkpoint is still in the
  linked chain. So once a board holds a head, no entry up to it can be removed or rewritten, nor
  its checkpoint or a linked one before it deleted, even by someone holding the audit key (who
  could re-sign everything else); entries after the board's newest witness rest on the folder alone.

Logs written before checkpoints were linked stay verifiable without migration, as the files are
never rewritten: checkpoints without `prev_checkpoint` are a legacy prefix, checked as before
(deleting one of them still goes unnoticed, though the entries it signed remain pinned by any
later checkpoint or witness); the first linked checkpoint links to the last of them, and an
unlinked checkpoint after a linked one fails.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from anonymise.keys import ed25519_key_id

GENESIS = "0" * 64
_LOG, _CHECKPOINTS = "log.jsonl", "checkpoints.jsonl"
_ENTRY_FIELDS = {"seq": int, "time": str, "kind": str, "details": dict, "prev_hash": str, "hash": str}
_LEGACY_CHECKPOINT_FIELDS = {"seq": int, "head_hash": str, "time": str, "key_id": str, "signature": str}
_CHECKPOINT_FIELDS = {**_LEGACY_CHECKPOINT_FIELDS, "prev_checkpoint": str}


class AuditError(RuntimeError):
    """The log failed verification, or cannot safely be appended to."""


@dataclass(frozen=True)
class Entry:
    seq: int
    time: str
    kind: str
    details: dict
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    entries: int  # entries verified (before the first bad one, if any)
    unsigned_tail: int = 0  # entries after the newest checkpoint
    bad_seq: int | None = None
    bad_line: int | None = None
    bad_file: str | None = None  # "log.jsonl" or "checkpoints.jsonl"
    message: str = "ok"
    witnessed: int = 0  # the entry a board's witness holds, when verify() was given one


class _Signed(NamedTuple):
    """What a verified checkpoint says about the entry it signed, and where it sits."""

    head_hash: str
    line: int
    digest: str  # what the next checkpoint's prev_checkpoint holds, and a witness is compared by


class _Bad(Exception):
    """The first problem verify() found, carried out to become its failing report."""

    def __init__(self, message: str, seq: int | None, line: int | None = None, file: str = _LOG, checked: int = 0):
        super().__init__(message)
        self.report = VerifyReport(False, checked, 0, seq, line, file if line else None, message)


def _canonical(obj) -> bytes:
    # allow_nan=False: NaN is not JSON, and other readers would reject it or read it differently.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _entry_hash(entry: dict) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _checkpoint_digest(checkpoint: dict) -> str:
    # Of the parsed checkpoint, signature included, so a line reformatted by hand still links.
    return hashlib.sha256(_canonical(checkpoint)).hexdigest()


def _utc_seconds(now: datetime | None) -> str:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:  # a naive time could be in any zone; an audit trail must not guess
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(raw: bytes, fields: dict, legacy: dict | None = None) -> dict:
    """One line as a dict with exactly `fields` (or exactly `legacy`, the fields of lines written
    before `fields` grew), of the right types, or ValueError saying why."""
    try:
        obj = json.loads(raw.decode())
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, or absurdly deep nesting
        raise ValueError(f"is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ValueError("is not a JSON object")
    if legacy is not None and set(obj) == set(legacy):
        fields = legacy
    if missing := sorted(set(fields) - set(obj)):
        raise ValueError(f"is missing {', '.join(missing)}")
    if extra := sorted(set(obj) - set(fields)):  # the hash would not cover them
        raise ValueError(f"has unexpected fields {', '.join(extra)}")
    for name, kind in fields.items():  # bool is an int to Python, but never a valid seq
        if not isinstance(obj[name], kind) or isinstance(obj[name], bool):
            raise ValueError(f"has a {name} that is not a {kind.__name__}")
    return obj


def _parse_checkpoint(raw: bytes) -> dict:
    return _parse(raw, _CHECKPOINT_FIELDS, _LEGACY_CHECKPOINT_FIELDS)


def _read_witness(path: Path) -> dict:
    try:
        return _parse_checkpoint(path.read_bytes())
    except OSError as exc:
        raise _Bad(f"cannot read the witness {path.name}: {exc.strerror}", None) from None
    except ValueError as exc:
        raise _Bad(
            f"the witness {path.name} {exc}: it is not a signed head from `istv audit checkpoint`", None
        ) from None


def _lines(path: Path) -> tuple[list[bytes], bool]:
    """The file's lines, and whether it ends cleanly (text after the last newline is a cut-short write)."""
    data = path.read_bytes() if path.exists() else b""
    lines = data.split(b"\n")
    tail = lines.pop()  # kept as a line if not empty, so verify reports it
    return (lines + [tail] if tail else lines), not tail


def _append_synced(path: Path, data: bytes) -> None:
    new = not path.exists()
    with path.open("ab") as f:  # append mode: earlier lines are never rewritten
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if new:  # make the new file's directory entry durable too
        dir_fd = os.open(path.parent, os.O_RDONLY)
        os.fsync(dir_fd)
        os.close(dir_fd)


def _last_line(path: Path, parse) -> tuple[dict | None, str]:
    """The file's last line, parsed, and where it is. Extending a damaged line would hide the damage."""
    lines, clean = _lines(path)
    where = f"line {len(lines)} of {path}"
    if not lines:
        return None, where
    if not clean:
        raise AuditError(f"{where} is incomplete (a write was cut short); repair it before appending")
    try:
        return parse(lines[-1]), where
    except ValueError as exc:
        raise AuditError(f"{where} {exc}; cannot append") from None


class AuditLog:
    def __init__(
        self, folder: Path, signing_key: Ed25519PrivateKey | None, trusted_keys: Sequence[Ed25519PublicKey] = ()
    ):
        self.folder = Path(folder)
        self.log_path, self.checkpoint_path = self.folder / _LOG, self.folder / _CHECKPOINTS
        self.signing_key = signing_key
        self.key_id = ed25519_key_id(signing_key.public_key()) if signing_key else None
        # With no trusted keys given a writer trusts its own key; an auditor passes the board's list.
        if not trusted_keys and signing_key is not None:
            trusted_keys = [signing_key.public_key()]
        self.trusted = {ed25519_key_id(k): k for k in trusted_keys}

    @contextmanager
    def _lock(self, exclusive: bool):
        lock_path = self.folder / ".lock"
        if not exclusive and not lock_path.exists():  # a read-only copy has no writers to wait for
            yield
            return
        with lock_path.open("a" if exclusive else "r") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, kind: str, details: dict, now: datetime | None = None) -> Entry:
        return self.append_many([(kind, details)], now)[0]

    def append_many(self, items: list[tuple[str, dict]], now: datetime | None = None) -> list[Entry]:
        """Appends under one lock and signs one checkpoint, for the last of them."""
        if self.signing_key is None:
            raise AuditError("this AuditLog has no signing key, so it cannot append")
        _utc_seconds(now)  # a naive `now` fails here, before anything is written
        # Serialise and read back before writing: bad details raise TypeError having written nothing,
        # and the returned entries hold exactly what entries() will read (tuples as lists, and so on).
        normalised = []
        for kind, details in items:
            if not isinstance(kind, str) or not kind or not isinstance(details, dict):
                raise TypeError("each item needs a non-empty str kind and a dict of details")
            try:
                normalised.append((kind, json.loads(_canonical(details))))
            except ValueError as exc:  # NaN or infinity
                raise TypeError(f"details are not JSON-serialisable: {exc}") from None
        if not normalised:
            return []
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock(exclusive=True):  # without it, two processes could both extend the same head
            seq, prev = self._head()
            time = _utc_seconds(now)  # taken under the lock, so times follow seq across processes
            new = []
            for kind, details in normalised:
                seq += 1
                fields = {"seq": seq, "time": time, "kind": kind, "details": details, "prev_hash": prev}
                new.append(Entry(**fields, hash=_entry_hash(fields)))
                prev = new[-1].hash
            _append_synced(self.log_path, b"".join(_canonical(asdict(e)) + b"\n" for e in new))
            # A crash here leaves an unsigned tail, which verify accepts; the next append signs it.
            self._sign_checkpoint(seq, prev, time)
        return new

    def _head(self) -> tuple[int, str]:
        """The last entry's seq and hash."""
        e, where = _last_line(self.log_path, lambda raw: _parse(raw, _ENTRY_FIELDS))
        if e is None:
            return 0, GENESIS
        if e["hash"] != _entry_hash(e):
            raise AuditError(f"entry {e['seq']} ({where}) was altered; cannot append")
        return e["seq"], e["hash"]

    def _sign_checkpoint(self, seq: int, head_hash: str, time: str) -> dict:
        """Signs the head, linked to the newest checkpoint, and appends it. Call under the exclusive lock."""
        newest, _ = _last_line(self.checkpoint_path, _parse_checkpoint)
        link = _checkpoint_digest(newest) if newest else GENESIS
        body = {"seq": seq, "head_hash": head_hash, "time": time, "key_id": self.key_id, "prev_checkpoint": link}
        checkpoint = {**body, "signature": base64.b64encode(self.signing_key.sign(_canonical(body))).decode()}
        _append_synced(self.checkpoint_path, _canonical(checkpoint) + b"\n")
        return checkpoint

    def write_witness(self, out: Path, now: datetime | None = None) -> dict:
        """Writes the signed head a board keeps as its witness to `out`, and returns it: the newest
        checkpoint, or a new one if entries follow it, as a witness must hold the whole log. Refuses
        a log that does not verify: its head would vouch for the damage."""
        if self.signing_key is None:
            raise AuditError("this AuditLog has no signing key, so it cannot sign the head")
        _utc_seconds(now)  # a naive `now` fails here, before anything is written
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock(exclusive=True):  # the head must not move between verifying and signing it
            (log, _), (checkpoints, _) = _lines(self.log_path), _lines(self.checkpoint_path)
            try:
                report = self._verify(log, checkpoints, None)
            except _Bad as bad:
                raise AuditError(f"the audit log does not verify, so its head cannot be witnessed: {bad}") from None
            if not report.entries:
                raise AuditError("the audit log is empty: there is no head to witness yet")
            if report.unsigned_tail:
                head = self._sign_checkpoint(report.entries, json.loads(log[-1])["hash"], _utc_seconds(now))
            else:
                head = json.loads(checkpoints[-1])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(head, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return head

    def entries(self) -> list[Entry]:
        """The entries as stored, unverified; raises AuditError on a malformed line."""
        with self._lock(exclusive=False):
            lines, _ = _lines(self.log_path)
        out = []
        for n, raw in enumerate(lines, 1):
            try:
                out.append(Entry(**_parse(raw, _ENTRY_FIELDS)))
            except ValueError as exc:
                raise AuditError(f"line {n} of {self.log_path} {exc}") from None
        return out

    def verify_or_raise(self) -> int:
        report = self.verify()
        if not report.ok:
            raise AuditError(report.message)
        return report.entries

    def verify(self, witness: Path | None = None) -> VerifyReport:
        """Checks the log; given a board's witness (see write_witness), also that the log extends it."""
        try:
            held = _read_witness(witness) if witness else None
            with self._lock(exclusive=False):  # a shared lock: never read an append half-written
                (log, _), (checkpoints, _) = _lines(self.log_path), _lines(self.checkpoint_path)
            return self._verify(log, checkpoints, held)
        except _Bad as bad:
            return bad.report
        except Exception as exc:  # verify must not raise: unreadable files (or a bug here) fail closed
            return VerifyReport(False, 0, message=f"could not verify the audit log: {exc!r}")

    def _verify(self, log: list[bytes], checkpoints: list[bytes], witness: dict | None) -> VerifyReport:
        if witness is not None:  # first: a head that is not the audit key's proves nothing either way
            if problem := self._signature_problem(witness):
                raise _Bad(f"the witness{problem}, so it is not a head this log's audit key signed", witness["seq"])
        signed = self._verify_checkpoints(checkpoints)
        hashes = self._verify_chain(log, signed)
        last = max(signed, default=0)
        if last > len(log):
            raise _Bad(
                f"the log ends at entry {len(log)} but checkpoint line {signed[last].line} signed entry "
                f"{last}: entries were removed from the end",
                len(log) + 1,
                checked=len(log),
            )
        if witness is not None:
            self._verify_extends(witness, hashes, signed)
        return VerifyReport(
            True, len(log), unsigned_tail=len(log) - last, witnessed=witness["seq"] if witness is not None else 0
        )

    def _signature_problem(self, checkpoint: dict) -> str | None:
        """Why `checkpoint` is not signed by a trusted key, worded to follow its name; None if it is."""
        key_id = checkpoint["key_id"]
        if key_id not in self.trusted:
            return f" is signed by unknown key {key_id}"
        try:
            body = _canonical({k: v for k, v in checkpoint.items() if k != "signature"})
            self.trusted[key_id].verify(base64.b64decode(checkpoint["signature"], validate=True), body)
        except (ValueError, InvalidSignature):
            return f": its signature does not verify against key {key_id}"
        return None

    def _verify_checkpoints(self, lines: list[bytes]) -> dict[int, _Signed]:
        """seq -> what its checkpoint signed. Checked first: they say what the entries must hash to."""
        signed: dict[int, _Signed] = {}
        last, link, linked = 0, GENESIS, False
        broken_link = None  # reported only if every line is sound, so a swap is named a swap, not a deletion
        for n, raw in enumerate(lines, 1):
            try:
                c = _parse_checkpoint(raw)
            except ValueError as exc:
                raise _Bad(f"checkpoint line {n} {exc}", None, n, _CHECKPOINTS) from None
            seq, where = c["seq"], f"checkpoint line {n} (entry {c['seq']})"
            if problem := self._signature_problem(c):
                raise _Bad(f"{where}{problem}", seq, n, _CHECKPOINTS)
            if seq <= last:  # appends are serialised, so each checkpoint signs a later entry than the last
                raise _Bad(
                    f"{where} follows the one for entry {last}: checkpoints were reordered", seq, n, _CHECKPOINTS
                )
            if "prev_checkpoint" in c:
                if c["prev_checkpoint"] != link and broken_link is None:
                    before = f"checkpoint line {n - 1} (entry {last})" if n > 1 else "the start of the file"
                    broken_link = _Bad(
                        f"{where} does not link to {before}: a checkpoint between them was deleted or replaced",
                        seq,
                        n,
                        _CHECKPOINTS,
                    )
                linked = True
            elif linked:  # only an older version's append writes unlinked checkpoints, and it comes first
                raise _Bad(f"{where} is unlinked but follows linked checkpoints", seq, n, _CHECKPOINTS)
            link = _checkpoint_digest(c)
            signed[seq], last = _Signed(c["head_hash"], n, link), seq
        if broken_link is not None:
            raise broken_link
        return signed

    def _verify_extends(self, witness: dict, hashes: list[str], signed: dict[int, _Signed]) -> None:
        """Today's log extends the board's witness: nothing up to the witnessed entry was removed or rewritten."""
        seq = witness["seq"]
        if seq > len(hashes):
            raise _Bad(
                f"the log ends at entry {len(hashes)} but the board's witness holds entry {seq}: "
                "entries were removed from the end, with their checkpoints",
                len(hashes) + 1,
                checked=len(hashes),
            )
        if hashes[seq - 1] != witness["head_hash"]:
            raise _Bad(
                f"entry {seq} (line {seq}) is not the entry the board's witness holds: "
                f"the log was rewritten at or before entry {seq}",
                seq,
                seq,
            )
        if seq not in signed:
            raise _Bad(
                f"the checkpoint for entry {seq} that the board's witness holds is missing from {_CHECKPOINTS}: "
                "checkpoints were deleted",
                seq,
                checked=seq,
            )
        if signed[seq].digest != _checkpoint_digest(witness):
            raise _Bad(
                f"checkpoint line {signed[seq].line} (entry {seq}) is not the one the board's witness holds: "
                "checkpoints were rewritten",
                seq,
                signed[seq].line,
                _CHECKPOINTS,
                checked=seq,
            )

    def _verify_chain(self, lines: list[bytes], signed: dict[int, _Signed]) -> list[str]:
        """The entries' hashes, in order, once each is shown to be intact, in place and signed as checkpointed."""
        hashes: list[str] = []
        prev = GENESIS
        for n, raw in enumerate(lines, 1):  # line n must hold entry n
            try:
                e = _parse(raw, _ENTRY_FIELDS)
            except ValueError as exc:
                raise _Bad(f"line {n} {exc}", n, n, checked=n - 1) from None
            seq, at = e["seq"], f"entry {e['seq']} (line {n})"
            if e["hash"] != _entry_hash(e):
                raise _Bad(f"{at} was altered: its hash does not match its content", seq, n, checked=n - 1)
            if seq != n:
                why = (
                    f"entry {n} was deleted or entries were reordered" if seq > n else "an entry was inserted or moved"
                )
                raise _Bad(f"line {n} holds entry {seq} but entry {n} was expected: {why}", n, n, checked=n - 1)
            if e["prev_hash"] != prev:
                raise _Bad(f"{at} does not chain to entry {n - 1}: an entry was replaced", seq, n, checked=n - 1)
            if seq in signed and signed[seq].head_hash != e["hash"]:
                raise _Bad(
                    f"{at} is not the entry that checkpoint line {signed[seq].line} signed: it was replaced or forged",
                    seq,
                    n,
                    checked=n - 1,
                )
            prev = e["hash"]
            hashes.append(prev)
        return hashes
