"""The landing zone: delivered extracts, one current file per source and month.

`place` writes the file under a temporary name and renames it, then writes its manifest last:
a file with a manifest is complete, which is what the landing sensor waits for. A re-delivery
for the same month moves the earlier file to `superseded/`, so the month is re-run on the
corrected extract and the earlier one is kept for the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.extract import safe_file_name
from pipelines.lib.home import IstvHome

MANIFEST_SUFFIX = ".manifest.json"


@dataclass(frozen=True)
class Delivery:
    path: Path
    source: str
    month: dt.date
    sha256: str
    size: int
    superseded: tuple[Delivery, ...] = ()


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
    for manifest in home.landing.glob(f"{source}/*/**/*{MANIFEST_SUFFIX}"):
        info = json.loads(manifest.read_text())
        if info["sha256"] == sha256:
            return info
    return None


def place(home: IstvHome, source: str, month: dt.date, file: Path) -> Delivery:
    earlier = already_ingested(home, source, sha256_of(file))
    if earlier:
        raise DuplicateDelivery(
            f"{file.name} is byte-for-byte the {source} extract already ingested for {earlier['month']} "
            f"as {earlier['file']} (sha256 {earlier['sha256'][:16]}…); nothing to do. To correct a month, "
            "ingest the corrected file"
        )
    folder = home.landing_dir(source, month)
    folder.mkdir(parents=True, exist_ok=True)
    earlier_deliveries = tuple(current_deliveries(home, source, month))
    for earlier in earlier_deliveries:
        superseded = folder / "superseded"
        superseded.mkdir(exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        earlier.path.rename(superseded / f"{stamp}_{earlier.path.name}")
        _manifest(earlier.path).rename(superseded / f"{stamp}_{_manifest(earlier.path).name}")
    target = folder / safe_file_name(file.name)
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(file, partial)
    partial.rename(target)
    delivery = Delivery(target, source, month, sha256_of(target), target.stat().st_size, earlier_deliveries)
    manifest = {"source": source, "month": f"{month:%Y-%m}", "file": target.name, "sha256": delivery.sha256, "size": delivery.size}
    _manifest(target).write_text(json.dumps(manifest, indent=2))
    return delivery


def _manifest(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def current_deliveries(home: IstvHome, source: str, month: dt.date) -> list[Delivery]:
    """Complete files (their manifest written) for a source and month."""
    folder = home.landing_dir(source, month)
    deliveries = []
    for manifest in sorted(folder.glob(f"*{MANIFEST_SUFFIX}")):
        info = json.loads(manifest.read_text())
        path = folder / info["file"]
        if path.exists():
            deliveries.append(Delivery(path, source, month, info["sha256"], info["size"]))
    return deliveries


def landed_months(home: IstvHome) -> dict[str, list[str]]:
    """Partition key -> fingerprints of its complete deliveries, for the landing sensor."""
    months: dict[str, list[str]] = {}
    for manifest in sorted(home.landing.glob(f"*/*/*{MANIFEST_SUFFIX}")):
        info = json.loads(manifest.read_text())
        key = dt.datetime.strptime(info["month"], "%Y-%m").date().isoformat()
        months.setdefault(key, []).append(f"{info['source']}:{info['sha256'][:16]}")
    return months
