"""Location text shapes resolved in earlier months, remembered without their text.

LocationResolver.resolve_rows resolves a text shape (lower-cased, every digit written 0) once for
all its texts when the values of its digits cannot change the result (ResolutionMemo.by_shape
holds a Resolution for it, not None). That Resolution holds for the shape next month too, as long
as the places and the matching rules are the same, so it is kept from one file to the next. The
shape itself is not kept: it is free text with its digits hidden, and may still name a person
("outside john smiths house"). A shape is kept as a keyed digest, the first 16 bytes of
HMAC-SHA256 under a key derived from the pseudonym master key for this purpose only
(anonymise.keys.derive_known_shapes_key), which no one without the key can test a guessed text
against; its Resolution is kept as gazetteer fields and the postcode district, as the
pseudonymised rows hold them.

Pure: ingest/known_shapes.py reads and writes them, in the pseudonymised zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from anonymise import keyed_hash
from anonymise.locate import Resolution

DIGEST_BYTES = 16
# Shapes learned and not yet handed over (a worker hands them over with each part of the file it
# has done, which has fewer): a bound on memory only; what is not kept is learned again next time.
MAX_LEARNED = 500_000


def shape_digests(key: bytes, shapes: Sequence[str]) -> np.ndarray:
    """Each shape's keyed digest, HMAC-SHA256 cut to 16 bytes, as two unsigned 64-bit numbers (its
    first 8 bytes read big-endian, then the next 8): an array of len(shapes) rows and 2 columns.

    HMAC as RFC 2104 defines it (anonymise/keyed_hash.py)."""
    digests = np.frombuffer(keyed_hash.hmac_sha256(key, [shape.encode() for shape in shapes]), dtype=">u8")
    return digests.reshape(-1, keyed_hash.DIGEST_BYTES // 8)[:, : DIGEST_BYTES // 8].astype(np.uint64)


@dataclass
class KnownShapes:
    """The Resolutions of shapes met in earlier files, by digest, and of those learned since
    `take_learned` last handed them over (at most `max_learned`).

    Known digests are `high` and `low` (the two halves, sorted by `high` then `low`), each with
    its Resolution as a position in `resolutions` (`codes`): 20 bytes a shape, so that every
    worker process can hold a few million."""

    key: bytes = field(repr=False)
    high: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    low: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    codes: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    resolutions: list[Resolution] = field(default_factory=list)
    learned: dict[tuple[int, int], Resolution] = field(default_factory=dict)
    max_learned: int = MAX_LEARNED

    def __len__(self) -> int:
        return len(self.high)

    def digests(self, shapes: Sequence[str]) -> np.ndarray:
        return shape_digests(self.key, shapes)

    def recall(self, digests: np.ndarray) -> list[Resolution | None]:
        """The Resolution known for each digest (as `digests` gives them), None where there is
        none. Of two known digests with the same first half only the first is found: the other
        shape is resolved again, as a new one would be (a file of two million shapes holds such a
        pair about once in ten million)."""
        if not len(self.high) or not len(digests):
            return [None] * len(digests)
        at = np.minimum(np.searchsorted(self.high, digests[:, 0]), len(self.high) - 1)
        found = (self.high[at] == digests[:, 0]) & (self.low[at] == digests[:, 1])
        return [self.resolutions[code] if hit else None for hit, code in zip(found.tolist(), self.codes[at].tolist())]

    def learn(self, digests: np.ndarray, resolutions: Sequence[Resolution]) -> None:
        """Remember newly resolved shapes, by digest, until they are handed over."""
        room = max(self.max_learned - len(self.learned), 0)
        for (high, low), resolution in zip(digests[:room].tolist(), resolutions[:room]):
            self.learned[high, low] = resolution

    def take_learned(self) -> dict[tuple[int, int], Resolution]:
        """What was learned since the last call, forgotten here."""
        learned, self.learned = self.learned, {}
        return learned
