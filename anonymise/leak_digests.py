"""The store of known identifiers a LeakScanner looks for, held only as salted digests.

A national month has millions of known identifiers: KnownForms digests arrays of them in bulk in
DuckDB (in memory), the rest one by one, and keeps the digests in sorted arrays rather than as
Python objects. What counts as a leak, and the scanning of text for these digests, is
anonymise/leaks.py.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MIN_IDENTIFIER = 5  # shorter identifiers would match ordinary words and codes
TOKEN = re.compile(r"[^\W_]+")  # letters and digits, any script


def normalise(text: str) -> str:
    """The form in which identifiers are digested and text is searched for them."""
    return unicodedata.normalize("NFKC", text).casefold()


class _Digests:
    """A set of digests held as one sorted array (8 bytes each), not as Python objects (about 100
    bytes each): what lets a scanner know a national month's identifiers in bounded memory."""

    _FLUSH = 1_000_000

    def __init__(self):
        self._pending: list[int] = []
        self._chunks: list[np.ndarray] = []
        self._sorted = np.empty(0, dtype=np.uint64)

    def add(self, digest: int) -> None:
        self._pending.append(digest)
        if len(self._pending) >= self._FLUSH:
            self.add_many(np.array(self._pending, dtype=np.uint64))
            self._pending = []

    def add_many(self, digests: np.ndarray) -> None:
        self._chunks.append(_sorted_unique(digests))  # repeats (heads shared by many) go early

    def frozen(self) -> _Digests:
        merged = np.concatenate([self._sorted, *self._chunks, np.array(self._pending, dtype=np.uint64)])
        # The parts go before the sort, which is done in place: at most two copies of a national
        # month's digests are held at once (a hundred MB each), not four.
        self._sorted, self._pending, self._chunks = merged[:0], [], []
        merged.sort()
        self._sorted = _unique_of_sorted(merged)
        return self

    def tolist(self) -> list[int]:
        return self._sorted.tolist()

    def __contains__(self, digest: int) -> bool:
        at = int(np.searchsorted(self._sorted, np.uint64(digest)))
        return at < len(self._sorted) and int(self._sorted[at]) == digest


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique by sorting: several times quicker than NumPy's hash-based unique on digests."""
    return _unique_of_sorted(np.sort(values))


def _unique_of_sorted(ordered: np.ndarray) -> np.ndarray:
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


# What _identifier_forms makes of identifiers written in ASCII (nearly all of them), in bulk:
# for ASCII text lower() is NFKC plus casefold, and [a-z0-9] runs are TOKEN's tokens, so the
# joined form is the text without anything else, and the parts worth a digest are the runs of
# five or more of a text of more than one run. Other identifiers are left to _identifier_forms.
# $salt and the digests are as LeakScanner._digest (anonymise/leaks.py): the MD5's first 8 bytes,
# md5_number_upper's value, taken from md5_number (4 times quicker in DuckDB 1.5).
_ASCII_FORMS_SQL = """
WITH identifiers AS (
    SELECT lower(value) AS text
    FROM batch
    WHERE strlen(value) = length(value)  -- one byte per character: ASCII
), forms AS (  -- each identifier's forms in one pass over it: its joined form, then its parts
    SELECT unnest(list_prepend(
        {'form': regexp_replace(text, '[^a-z0-9]+', '', 'g'), 'joined': true},
        CASE WHEN regexp_matches(text, '[a-z0-9][^a-z0-9]+[a-z0-9]')
             THEN [{'form': part, 'joined': false}
                   FOR part IN regexp_extract_all(text, '[a-z0-9]{5,}')
                   IF NOT regexp_full_match(part, '[0-9]+')]
             ELSE [] END
    ), recursive := true)
    FROM identifiers
)
SELECT (md5_number($salt || form) & 18446744073709551615::UHUGEINT)::UBIGINT AS digest,
       joined AND regexp_matches(form, '[0-9]') AS prefixable,
       length(form) AS length,
       left(form, $shortest) AS head
FROM forms
WHERE length(form) >= $shortest AND (joined OR form NOT IN (SELECT word FROM vocabulary))
"""
# For a scoped scanner: only the forms beginning with a head its text offers (KnownForms' `scope`).
_IN_SCOPE_SQL = " AND left(form, $shortest) IN (SELECT head FROM scope)"
_NOT_ASCII_SQL = "SELECT value FROM batch WHERE strlen(value) <> length(value)"
BULK_ROWS = 1_000_000  # known identifiers digested per query (a few tens of MB of text)


class KnownForms:
    """The digests, heads and lengths of known identifiers' forms, as a scanner is built.

    `scope`, when given, is every head (first MIN_IDENTIFIER characters) that the text to be
    scanned offers (anonymise.leaks.heads_in): forms that begin otherwise could never be found
    there, so they are not digested (a national month's 10 million, for a release's tables)."""

    def __init__(self, salt: str, digest, vocabulary: set[str], scope: frozenset[str] | None = None):
        self._salt, self._digest, self._vocabulary, self._scope = salt, digest, vocabulary, scope
        self.whole, self.prefix, self.heads = _Digests(), _Digests(), _Digests()
        self.whole_lengths: set[int] = set()
        self.prefix_lengths: set[int] = set()
        self._duckdb: duckdb.DuckDBPyConnection | None = None
        self._pending: list[pa.Array] = []
        self._pending_rows = 0

    def add(self, raw: object) -> None:
        for normalised, prefixable in _identifier_forms(raw, self._vocabulary):
            if self._scope is not None and normalised[:MIN_IDENTIFIER] not in self._scope:
                continue
            digest = self._digest(normalised)
            self.whole.add(digest)
            self.heads.add(self._digest(normalised[:MIN_IDENTIFIER]))
            self.whole_lengths.add(len(normalised))
            if prefixable:
                self.prefix.add(digest)
                self.prefix_lengths.add(len(normalised))

    def add_array(self, values: pa.Array | pa.ChunkedArray) -> None:
        """Known identifiers in bulk. They are digested BULK_ROWS at a time: DuckDB shares a
        query's rows out to its threads by row groups of about 120,000, so a batch of 100,000
        would keep one core busy and the other idle."""
        values = pc.cast(values, pa.string())
        self._pending += values.chunks if isinstance(values, pa.ChunkedArray) else [values]
        self._pending_rows += len(values)
        if self._pending_rows >= BULK_ROWS:
            self._digest_pending()

    def _digest_pending(self) -> None:
        if not self._pending:
            return
        con = self._connection()
        con.register("batch", pa.table({"value": pa.chunked_array(self._pending, pa.string())}))
        self._pending, self._pending_rows = [], 0
        try:
            # Into a table, then read back as numbers: DuckDB builds a table on all its threads,
            # while handing a query's rows to Arrow runs on one.
            con.execute(
                "CREATE OR REPLACE TEMP TABLE forms AS "
                + _ASCII_FORMS_SQL
                + (_IN_SCOPE_SQL if self._scope is not None else ""),
                {"salt": self._salt, "shortest": MIN_IDENTIFIER},
            )
            for (raw,) in con.execute(_NOT_ASCII_SQL).fetchall():
                self.add(raw)
        finally:
            con.unregister("batch")
        forms = con.execute("SELECT digest, prefixable FROM forms").fetchnumpy()
        digests, prefixable = forms["digest"], forms["prefixable"].astype(bool)
        self.whole.add_many(digests)
        self.prefix.add_many(digests[prefixable])
        # Heads are few (most identifiers share theirs with many): each distinct one digested here.
        heads = [head for (head,) in con.execute("SELECT DISTINCT head FROM forms").fetchall()]
        self.heads.add_many(np.array([self._digest(h) for h in heads], dtype=np.uint64))
        for length, prefix in con.execute("SELECT DISTINCT length, prefixable FROM forms").fetchall():
            self.whole_lengths.add(length)
            if prefix:
                self.prefix_lengths.add(length)
        con.execute("DROP TABLE forms")

    def close(self) -> None:
        """Digest what is still pending, then let the connection go."""
        self._digest_pending()
        if self._duckdb is not None:
            self._duckdb.close()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._duckdb is None:
            # The forms table holds identifiers' heads: never spilled to disk (no temp directory).
            self._duckdb = duckdb.connect(config={"temp_directory": ""})
            self._duckdb.execute("SET enable_progress_bar = false")  # a national month's would draw one
            words = sorted(self._vocabulary)
            self._duckdb.register("vocabulary", pa.table({"word": pa.array(words, pa.string())}))
            if self._scope is not None:
                self._duckdb.register("scope", pa.table({"head": pa.array(sorted(self._scope), pa.string())}))
        return self._duckdb


def _identifier_forms(raw: object, vocabulary: set[str]) -> Iterator[tuple[str, bool]]:
    """(normalised form, may start a longer token) for one known identifier and its parts."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return
    tokens = TOKEN.findall(normalise(str(raw)))
    joined = "".join(tokens)  # "SW/888777/26" and "sw 888777 26" are the same reference
    if len(joined) < MIN_IDENTIFIER:
        return
    # References and ids also where they begin a longer token; names only as whole words.
    yield joined, any(c.isdigit() for c in joined)
    if len(tokens) > 1:
        # Parts of names ("Quartermaine" of "Zebedee Quartermaine"), unless they are public
        # words such as a street's name: those identify nobody.
        for token in tokens:
            if len(token) >= MIN_IDENTIFIER and not token.isdigit() and token not in vocabulary:
                yield token, False
