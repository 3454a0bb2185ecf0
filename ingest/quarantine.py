"""The quarantine zone: rejected rows, with reasons, encrypted at rest.

Rows are stored as Fernet-encrypted Parquet (they hold identifiers); beside each file a plain
JSON summary gives reasons and counts only, for `istv quarantine list` and the audit log.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from cryptography.fernet import Fernet


def write_quarantine(
    rows: pd.DataFrame, reason_counts: dict[str, int], folder: Path, stem: str, cipher: Fernet
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    rows.astype("string").to_parquet(buffer, index=False)
    target = folder / f"{stem}.parquet.fernet"
    target.write_bytes(cipher.encrypt(buffer.getvalue()))
    summary = {"rows": len(rows), "reasons": reason_counts}
    (folder / f"{stem}.summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True))
    return target


def read_quarantine(path: Path, cipher: Fernet) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(cipher.decrypt(path.read_bytes())))


def quarantine_summaries(root: Path) -> list[tuple[Path, dict]]:
    return [(p, json.loads(p.read_text())) for p in sorted(root.rglob("*.summary.json"))]
