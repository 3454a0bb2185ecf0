"""The landing zone: delivered extracts, one current file per source, provider and month.

A month of a source has as many deliveries as it has providers (several EDs, several forces):
`landing/<source>/<YYYY-MM>/<provider>/<file>`. A re-delivery from the same provider moves its
earlier file to that provider's `superseded/`, so the month is re-run on the corrected extract and
the earlier one is kept for the audit trail; other providers' files stay as they are.

`place` is all or nothing: it writes the file under a temporary name and renames it, writes its
manifest last (a file with a manifest is complete, which is what the landing sensor waits for),
and undoes every step if a later one fails. `withdraw` undoes a placement when what follows it
(the audit entry) fails, so a failed ingest leaves nothing landed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ingest.home import IstvHome
from ingest.parse import safe_file_name, survey
from schemas import schema_for_source

MANIFEST_SUFFIX = ".manifest.json"
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Delivery:
    path: Path
    source: str
    month: dt.date
    providers: tuple[str, ...]  # as the file's provider column names them
    sha256: str
    size: int
    superseded: tuple[Delivery, ...] = ()
    # (from, to) of every file `place` moved, in order: what `withdraw` puts back.
    moves: tuple[tuple[Path, Path], ...] = ()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DuplicateDelivery(ValueError):
    """The same bytes were delivered before; landing them again would double-count nothing but
    hide a provider's mistake (a correction sent as the old file)."""


def already_ingested(home: IstvHome, source: str, sha256: str) -> dict | None:
    """The manifest of an earlier delivery (current or superseded) with these exact bytes."""
    for manifest in (home.landing / source).glob(f"**/*{MANIFEST_SUFFIX}"):
        info = json.loads(manifest.read_text())
        if info["sha256"] == sha256:
            return info
    return None


def provider_folder(providers: Iterable[str]) -> str:
    """The folder of a provider's deliveries (a file naming several providers: all of them)."""
    return "+".join(safe_file_name(p) for p in sorted(providers)) or "unknown"


def place(home: IstvHome, source: str, month: dt.date, file: Path, providers: Iterable[str] | None = None) -> Delivery:
    """Land `file` as the current extract of each of its providers for the month (read from the
    file when not given), superseding their earlier deliveries and no one else's."""
    providers = tuple(sorted(set(_providers_of(file, source) if providers is None else providers)))
    sha256 = sha256_of(file)
    earlier = already_ingested(home, source, sha256)
    if earlier:
        raise DuplicateDelivery(
            f"{file.name} is byte-for-byte the {source} extract already ingested for {earlier['month']} "
            f"as {earlier['file']} (sha256 {earlier['sha256'][:16]}…); nothing to do. To correct a month, "
            "ingest the corrected file"
        )
    folder = home.landing_dir(source, month) / provider_folder(providers)
    target = folder / safe_file_name(file.name)
    replaced = tuple(d for d in current_deliveries(home, source, month) if set(d.providers) & set(providers))
    made: list[Path] = []
    moves: list[tuple[Path, Path]] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        made.append(partial)
        shutil.copyfile(file, partial)
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        for old in replaced:
            kept = old.path.parent / SUPERSEDED
            kept.mkdir(exist_ok=True)
            for path in (old.path, _manifest(old.path)):
                moves.append((path, kept / f"{stamp}_{path.name}"))
                path.rename(moves[-1][1])
        made.append(target)
        partial.rename(target)
        delivery = Delivery(target, source, month, providers, sha256, target.stat().st_size, replaced, tuple(moves))
        manifest = {
            "source": source,
            "month": f"{month:%Y-%m}",
            "providers": list(providers),
            "file": target.name,
            "sha256": sha256,
            "size": delivery.size,
        }
        made.append(_manifest(target))
        _manifest(target).write_text(json.dumps(manifest, indent=2))
    except BaseException:
        _undo(made, moves)
        raise
    return delivery


def withdraw(delivery: Delivery) -> None:
    """Undo `place`: the file and its manifest go, the deliveries it superseded come back."""
    _undo([delivery.path, _manifest(delivery.path)], list(delivery.moves))


def _undo(made: list[Path], moves: list[tuple[Path, Path]]) -> None:
    for path in reversed(made):
        path.unlink(missing_ok=True)
    for original, moved in reversed(moves):
        if moved.exists():
            moved.rename(original)


def _manifest(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _manifests(month_folder: Path) -> list[Path]:
    """The current deliveries' manifests of a source's month: in provider folders, or (landed by
    an earlier version of istv) in the month's folder itself."""
    found = [*month_folder.glob(f"*/*{MANIFEST_SUFFIX}"), *month_folder.glob(f"*{MANIFEST_SUFFIX}")]
    return sorted(m for m in found if m.parent.name != SUPERSEDED)


def current_deliveries(home: IstvHome, source: str, month: dt.date) -> list[Delivery]:
    """Complete files (their manifest written) for a source and month, one per provider."""
    deliveries = []
    for manifest in _manifests(home.landing_dir(source, month)):
        info = json.loads(manifest.read_text())
        path = manifest.parent / info["file"]
        if path.exists():
            providers = tuple(info["providers"]) if "providers" in info else _providers_of(path, source)
            deliveries.append(Delivery(path, source, month, providers, info["sha256"], info["size"]))
    return deliveries


def _providers_of(path: Path, source: str) -> tuple[str, ...]:
    """A file landed before manifests named providers: read them from the file."""
    return tuple(sorted(survey(path, schema_for_source(source)).providers))


def landed_months(home: IstvHome) -> dict[str, list[str]]:
    """Partition key -> fingerprints of its complete deliveries, for the landing sensor."""
    months: dict[str, list[str]] = {}
    for month_folder in sorted(home.landing.glob("*/*")):
        for manifest in _manifests(month_folder):
            info = json.loads(manifest.read_text())
            key = dt.datetime.strptime(info["month"], "%Y-%m").date().isoformat()
            months.setdefault(key, []).append(delivery_fingerprint(info["source"], info["sha256"]))
    return months


def delivery_fingerprint(source: str, sha256: str) -> str:
    """How the landing sensor names a delivery (`landed_months` names each landed file so): its
    source and the first 16 hex digits of its SHA-256, which the audit log also records."""
    return f"{source}:{sha256[:16]}"
