"""The location text shapes resolved in earlier months (anonymise/known_shapes.py), kept in the
pseudonymised zone: one Parquet file per version of the places and the matching rules
(`IstvHome.known_shapes_file`), so that a changed gazetteer, cutoff or rule starts afresh.

Each row is a shape: its keyed digest as two unsigned 64-bit numbers (`digest_high`, `digest_low`,
sorted) and its Resolution as a position (`resolution`) in the list the file's metadata holds
(JSON: status, place id, place name, coordinates, postcode district, as the pseudonymised rows
hold them). The metadata also names the key's fingerprint (anonymise.keys.key_id): under a new
master key the file starts afresh. No location text and no month is in it, so retention has
nothing to delete there. It is read before a file is pseudonymised (by every worker process) and
written whole, under a temporary name then renamed, once the file is done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import rapidfuzz

from anonymise import identifiers, known_shapes, locate, locate_batches
from anonymise.keys import key_id
from anonymise.known_shapes import KnownShapes
from anonymise.locate import Resolution
from anonymise.locate_batches import LocationResolver
from ingest.home import IstvHome

# Shapes kept, 20 bytes each in every worker's memory: a file that would hold more starts afresh
# with the shapes of the month just resolved (about 100,000 for a national ED month).
MAX_KNOWN = 2_000_000
_METADATA = b"istv_known_shapes"
_VERSION = re.compile(r"[0-9a-f]{16}")
# The code that decides a Resolution: a change to any of it starts afresh.
_RULES = (locate, locate_batches, identifiers, known_shapes)


def matcher_version(resolver: LocationResolver) -> str:
    """16 hex digits naming the places, the cutoff and the matching rules' code."""
    digest = hashlib.sha256(resolver.fingerprint().encode())
    digest.update(rapidfuzz.__version__.encode())
    for module in _RULES:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class KnownShapesFile:
    path: Path
    key: bytes = field(repr=False)  # anonymise.keys.derive_known_shapes_key

    @classmethod
    def in_home(cls, home: IstvHome, resolver: LocationResolver, key: bytes) -> KnownShapesFile:
        return cls(home.known_shapes_file(matcher_version(resolver)), key)

    def load(self) -> KnownShapes:
        """The shapes the file knows: none if it is missing, unreadable or under another key
        (it is only ever a shortcut: what it does not know is resolved from the text)."""
        known = KnownShapes(self.key)
        try:
            table = pq.read_table(self.path)
            about = json.loads(table.schema.metadata[_METADATA])
            if about["key_id"] != key_id(self.key):
                return known
            resolutions = [Resolution(*fields) for fields in about["resolutions"]]
            high, low = (table.column(name).to_numpy().astype(np.uint64) for name in ("digest_high", "digest_low"))
            codes = table.column("resolution").to_numpy().astype(np.int32)
        except (OSError, pa.ArrowException, KeyError, TypeError, ValueError):
            return known
        if len(codes) and not 0 <= codes.min() <= codes.max() < len(resolutions):
            return known
        return dataclasses.replace(known, high=high, low=low, codes=codes, resolutions=resolutions)

    def save(self, learned: dict[tuple[int, int], Resolution]) -> int:
        """Add the shapes `learned` to those the file knows (read again: a run of another month
        may have added some meanwhile) and write it whole; the shapes it now holds. Files of
        other versions beside it are deleted: they will not be read again."""
        known = self.load()
        index = {resolution: code for code, resolution in enumerate(known.resolutions)}
        new = np.array(list(learned), dtype=np.uint64).reshape(-1, 2)
        new_codes = np.array([index.setdefault(r, len(index)) for r in learned.values()], dtype=np.int32)
        if len(known) + len(new) > MAX_KNOWN:
            known = KnownShapes(self.key)
        high, low = np.concatenate([known.high, new[:MAX_KNOWN, 0]]), np.concatenate([known.low, new[:MAX_KNOWN, 1]])
        codes = np.concatenate([known.codes, new_codes[:MAX_KNOWN]])
        order = np.lexsort((low, high))
        high, low, codes = high[order], low[order], codes[order]
        first = np.ones(len(high), dtype=bool)  # a shape learned twice (by two workers) is kept once
        first[1:] = (high[1:] != high[:-1]) | (low[1:] != low[:-1])
        used, codes = np.unique(codes[first], return_inverse=True)
        resolutions = list(index)
        about = {
            "version": self.path.stem,
            "key_id": key_id(self.key),
            "resolutions": [dataclasses.astuple(resolutions[code]) for code in used.tolist()],
        }
        table = pa.table(
            {"digest_high": high[first], "digest_low": low[first], "resolution": codes.astype(np.int32)}
        ).replace_schema_metadata({_METADATA: json.dumps(about)})
        self._write(table)
        for other in self.path.parent.glob("*.parquet"):
            if other != self.path and _VERSION.fullmatch(other.stem):
                other.unlink(missing_ok=True)
        return table.num_rows

    def _write(self, table: pa.Table) -> None:
        """Under a temporary name, then renamed: a reader finds the old file or the new, whole."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".partial", delete=False
        ) as handle:
            partial = Path(handle.name)
        try:
            pq.write_table(table, partial)
            os.replace(partial, self.path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
