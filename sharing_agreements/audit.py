"""An append-only, hash-chained audit log with Ed25519-signed checkpoints, so governance boards can
trust what it says was shared. The chain exposes edited, deleted, inserted or reordered entries; it
cannot expose a cut tail or a wholly rewritten chain, so each append also signs a checkpoint of the
head with a key the auditor trusts. Entries after the newest checkpoint (a crash between the two
writes) pass if they chain, reported as `unsigned_tail`. Details must hold no identifiable values:
that is the caller's duty, as the log cannot tell.
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

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from anonymise.keys import ed25519_key_id

GENESIS = "0" * 64
_LOG, _CHECKPOINTS = "log.jsonl", "checkpoints.jsonl"
_ENTRY_FIELDS = {"seq": int, "time": str, "kind": str, "details": dict, "prev_hash": str, "hash": str}
_CHECKPOINT_FIELDS = {"seq": int, "head_hash": str, "time": str, "key_id": str, "signature": str}


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


def _utc_seconds(now: datetime | None) -> str:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:  # a naive time could be in any zone; an audit trail must not guess
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(raw: bytes, fields: dict) -> dict:
    """One line as a dict with exactly `fields`, of the right types, or ValueError saying why."""
    try:
        obj = json.loads(raw.decode())
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, or absurdly deep nesting
        raise ValueError(f"is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ValueError("is not a JSON object")
    if missing := sorted(set(fields) - set(obj)):
        raise ValueError(f"is missing {', '.join(missing)}")
    if extra := sorted(set(obj) - set(fields)):  # the hash would not cover them
        raise ValueError(f"has unexpected fields {', '.join(extra)}")
    for name, kind in fields.items():  # bool is an int to Python, but never a valid seq
        if not isinstance(obj[name], kind) or isinstance(obj[name], bool):
            raise ValueError(f"has a {name} that is not a {kind.__name__}")
    return obj


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
            body = {"seq": seq, "head_hash": prev, "time": time, "key_id": self.key_id}
            signature = base64.b64encode(self.signing_key.sign(_canonical(body))).decode()
            _append_synced(self.checkpoint_path, _canonical({**body, "signature": signature}) + b"\n")
        return new

    def _head(self) -> tuple[int, str]:
        """The last entry's seq and hash. Extending a damaged or altered head would hide the damage."""
        lines, clean = _lines(self.log_path)
        if not lines:
            return 0, GENESIS
        where = f"line {len(lines)} of {self.log_path}"
        if not clean:
            raise AuditError(f"{where} is incomplete (a write was cut short); repair it before appending")
        try:
            e = _parse(lines[-1], _ENTRY_FIELDS)
        except ValueError as exc:
            raise AuditError(f"{where} {exc}; cannot append") from None
        if e["hash"] != _entry_hash(e):
            raise AuditError(f"entry {e['seq']} ({where}) was altered; cannot append")
        return e["seq"], e["hash"]

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

    def verify(self) -> VerifyReport:
        try:
            with self._lock(exclusive=False):  # a shared lock: never read an append half-written
                (log, _), (checkpoints, _) = _lines(self.log_path), _lines(self.checkpoint_path)
            signed = self._verify_checkpoints(checkpoints)
            self._verify_chain(log, signed)
            last = max(signed, default=0)
            if last > len(log):
                raise _Bad(
                    f"the log ends at entry {len(log)} but checkpoint line {signed[last][1]} signed entry "
                    f"{last}: entries were removed from the end",
                    len(log) + 1,
                    checked=len(log),
                )
            return VerifyReport(True, len(log), unsigned_tail=len(log) - last)
        except _Bad as bad:
            return bad.report
        except Exception as exc:  # verify must not raise: unreadable files (or a bug here) fail closed
            return VerifyReport(False, 0, message=f"could not verify the audit log: {exc!r}")

    def _verify_checkpoints(self, lines: list[bytes]) -> dict[int, tuple[str, int]]:
        """seq -> (head hash, line). Checked first: they say what the entries must hash to."""
        signed: dict[int, tuple[str, int]] = {}
        last = 0
        for n, raw in enumerate(lines, 1):
            try:
                c = _parse(raw, _CHECKPOINT_FIELDS)
            except ValueError as exc:
                raise _Bad(f"checkpoint line {n} {exc}", None, n, _CHECKPOINTS) from None
            seq, key_id, where = c["seq"], c["key_id"], f"checkpoint line {n} (entry {c['seq']})"
            if key_id not in self.trusted:
                raise _Bad(f"{where} is signed by unknown key {key_id}", seq, n, _CHECKPOINTS)
            try:
                body = _canonical({k: c[k] for k in ("seq", "head_hash", "time", "key_id")})
                self.trusted[key_id].verify(base64.b64decode(c["signature"], validate=True), body)
            except (ValueError, InvalidSignature):
                raise _Bad(
                    f"{where}: its signature does not verify against key {key_id}", seq, n, _CHECKPOINTS
                ) from None
            if seq <= last:  # appends are serialised, so each checkpoint signs a later entry than the last
                raise _Bad(
                    f"{where} follows the one for entry {last}: checkpoints were reordered", seq, n, _CHECKPOINTS
                )
            signed[seq], last = (c["head_hash"], n), seq
        return signed

    def _verify_chain(self, lines: list[bytes], signed: dict[int, tuple[str, int]]) -> None:
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
            if seq in signed and signed[seq][0] != e["hash"]:
                raise _Bad(
                    f"{at} is not the entry that checkpoint line {signed[seq][1]} signed: it was replaced or forged",
                    seq,
                    n,
                    checked=n - 1,
                )
            prev = e["hash"]
