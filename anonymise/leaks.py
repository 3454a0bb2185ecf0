"""Detectors for identifiable values that must never leave the landing zone.

A LeakScanner looks for NHS numbers, full postcodes, UK phone numbers, e-mail addresses, full
dates, the input's own identifiers and free text in data frames, column values and text (log
lines, event-log metadata, validation results). A Finding says what kind of value was found,
where and how often, never the value itself, so findings are safe to print, log and store.

Pure: no file I/O and no logging (anonymise/scan.py walks files and warehouses). Known
identifiers are kept as digests (anonymise/leak_digests.py); postcode and phone patterns are
anonymise/identifiers.py's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anonymise.generalise import postcode_district
from anonymise.identifiers import (
    PHONE_TOKEN,
    POSTCODE_TOKEN,
    WHOLE_TOKEN_END,
    WHOLE_TOKEN_START,
    is_uk_phone_number,
)
from anonymise.leak_digests import MIN_IDENTIFIER, TOKEN, KnownForms, normalise
from anonymise.nhs_number import is_valid_nhs_number

KINDS = ("nhs_number", "postcode", "phone", "email", "date_of_birth", "known_identifier", "free_text")
WITHHELD_COLUMN = "[column name withheld]"


class OutOfScope(RuntimeError):
    """A scanner made for some frames (its scope) was shown text they do not hold: it knows only
    the identifiers that could be found in them, so it could miss others there."""


@dataclass(frozen=True)
class Finding:
    kind: str
    column: str  # column name, or where in the text ("text", "file:line")
    count: int  # values (in a column) or matches (in text); never the values themselves

    def __str__(self) -> str:
        place = "text" if self.column == "text" else f"column {self.column}"
        return f"{self.kind} in {place}: {self.count} value{'' if self.count == 1 else 's'}"


# ---- Patterns: whole tokens only (see anonymise/identifiers.py, with postcodes and phones) ----
# ISO timestamps run straight on into their time: "2026-08-15T23:10".
_DATE_END = rf"(?:(?=[Tt]\d)|{WHOLE_TOKEN_END})"

# 10 digits, or 3-3-4 with one kind of separator; ".0" is an NHS number that became a float.
_NHS = re.compile(WHOLE_TOKEN_START + r"(\d{3}([ -]?)\d{3}\2\d{4})(\.0+)?" + WHOLE_TOKEN_END)
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_ISO_DATE = re.compile(WHOLE_TOKEN_START + r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _DATE_END)
_DMY_DATE = re.compile(WHOLE_TOKEN_START + r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})" + _DATE_END)
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_NAMED_DATE = re.compile(
    WHOLE_TOKEN_START + r"(\d{1,2})(?:st|nd|rd|th)?[ -]+(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may"
    r"|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?,?[ -]+(\d{4})"
    + _DATE_END,
    re.I,
)
_TIME = re.compile(r"[Tt ](\d{1,2}):(\d{2})(?::(\d{2}))?")
_BIRTH_COLUMN = re.compile(r"birth|(?<![a-z])dob(?![a-z])", re.I)

_HEX = re.compile(r"[0-9a-fA-F]+")
# Digests and H3 cells: only ever compared whole with known identifiers, never searched inside.
_MACHINE_HEX_SHORTEST = 15
_MACHINE_HEX = re.compile(rf"(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{{{_MACHINE_HEX_SHORTEST},}}")
_LETTER_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_MEMO_VALUES = 200_000  # per column of a table scanned in batches: place names, hours, bands


@dataclass(frozen=True)
class _DateHit:
    date: dt.date
    time: tuple[int, int, int] | None  # a time of day written straight after the date
    iso: bool
    short_dotted: bool  # "3.11.24": as likely a version number as a date

    @property
    def month_key(self) -> bool:
        return self.date.day == 1 and self.time in (None, (0, 0, 0))


def _real_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _find_dates(text: str, today: dt.date) -> Iterator[_DateHit]:
    def hit(m: re.Match, date: dt.date | None, iso: bool, short_dotted: bool = False):
        if date is None:
            return None
        time = _TIME.match(text, m.end())
        parts = tuple(int(p or 0) for p in time.groups()) if time else None
        return _DateHit(date, parts, iso, short_dotted)

    found = []
    for m in _ISO_DATE.finditer(text):
        found.append(hit(m, _real_date(int(m[1]), int(m[3]), int(m[4])), iso=True))
    for m in _DMY_DATE.finditer(text):
        year = int(m[4])
        if len(m[4]) == 2:  # "87" is 1987, "24" is 2024: birthdays are in the past
            year += 2000 if 2000 + year <= today.year else 1900
        # Day first as in the UK; month first too, as US-formatted exports do.
        date = _real_date(year, int(m[3]), int(m[1])) or _real_date(year, int(m[1]), int(m[3]))
        found.append(hit(m, date, iso=False, short_dotted=m[2] == "." and len(m[4]) == 2))
    for m in _NAMED_DATE.finditer(text):
        month = _MONTHS.index(m[2][:3].lower()) + 1
        found.append(hit(m, _real_date(int(m[3]), month, int(m[1])), iso=False))
    return (h for h in found if h is not None)


def _collapse(text: str) -> str:
    return " ".join(normalise(text).split())


class LeakScanner:
    """Finds identifiable values. Known identifiers are kept only as salted digests."""

    def __init__(
        self,
        known_identifiers: Iterable[str | pa.Array | pa.ChunkedArray] = (),
        max_code_length: int = 40,
        allowed_text: Iterable[str] = (),
        date_columns_allowed: Iterable[str] = ("month",),
        scope: Iterable[str] | None = None,
    ):
        """known_identifiers: texts, or Arrow string arrays of them (a national month has
        millions: arrays are digested in bulk). scope: `heads_in` of the frames this scanner is
        made for; it then knows only the identifiers that could be found in them, and finds
        there what a scanner knowing all of them finds, but may miss them anywhere else."""
        self.max_code_length = max_code_length
        self._allowed = frozenset(_collapse(str(t)) for t in allowed_text)
        vocabulary = {t for text in self._allowed for t in TOKEN.findall(text)}
        self._date_columns = frozenset(c.casefold() for c in date_columns_allowed)
        # Dates still to come are deadlines (an agreement's review date), not birthdays; public
        # dates given in allowed_text (when an agreement came into force) are allowed too.
        self._today = dt.date.today()
        self._public_dates = frozenset(h.date for text in self._allowed for h in _find_dates(text, self._today))
        # A fresh salt per scanner: digests cannot be looked up in precomputed tables or linked
        # between scanners. (Short or guessable identifiers such as NHS numbers could still be
        # brute-forced from a pickled scanner, so scanners are not persisted.)
        self._salt = secrets.token_hex(16)
        self._scope = None if scope is None else frozenset(scope)
        known = KnownForms(self._salt, self._digest, vocabulary, self._scope)
        for item in known_identifiers:
            if isinstance(item, (pa.Array, pa.ChunkedArray)):
                known.add_array(item)
            else:
                known.add(item)
        known.close()
        self._whole = known.whole.frozen()  # must start and end on token boundaries
        self._prefix = known.prefix.frozen()  # may also start a longer token ("EDPLANT7731B")
        # Every identifier's first five characters: one digest per token start rules out almost
        # every place in a text before each identifier length is tried there. Few distinct heads:
        # a plain set is quicker to ask.
        self._heads = set(known.heads.frozen().tolist())
        self._whole_lengths = frozenset(known.whole_lengths)
        self._prefix_lengths = frozenset(known.prefix_lengths)
        self._lengths = sorted(self._whole_lengths, reverse=True)  # longest match first

    def _digest(self, normalised: str) -> int:
        """The first 8 bytes of the salted MD5, as DuckDB's md5_number_upper gives them (known
        identifiers are digested there in bulk): 12 million identifiers (a national month) in
        100 MB. MD5 is not relied on for secrecy, only to tell texts apart: two texts share a
        digest by chance about once in 10^19 comparisons (a false alarm that stops a run for a
        look, never a leak let through)."""
        return int.from_bytes(hashlib.md5((self._salt + normalised).encode()).digest()[:8], "little")

    def _in_scope(self, text: str) -> None:
        """A text about to be compared with known identifiers: a scoped scanner refuses one whose
        head its frames do not hold rather than miss an identifier it never digested (the
        message names no text). Nothing to do for a scanner that knows every identifier."""
        if self._scope is None:
            return
        head = text[:MIN_IDENTIFIER]
        if len(head) == MIN_IDENTIFIER and head not in self._scope:
            raise OutOfScope("a leak scanner made for other tables was shown this text: make one for it")

    def _known(self, normalised: str) -> bool:
        """Whether a whole normalised text is a known identifier; lengths no identifier has are
        ruled out first (pseudonyms and H3 cells are longer than any identifier)."""
        self._in_scope(normalised)
        return len(normalised) in self._whole_lengths and self._digest(normalised) in self._whole

    # ---- Public API ----
    def scan_values(self, column: str, values: Iterable[object]) -> list[Finding]:
        distinct: Counter[object] = Counter()
        unhashable = []  # lists and dicts from nested columns
        for value in values:
            try:
                distinct[value] += 1
            except TypeError:
                unhashable.append((value, 1))
        return self._scan_distinct(str(column), [*distinct.items(), *unhashable])

    def scan_frame(self, frame: pd.DataFrame) -> list[Finding]:
        return self.scan_frames([frame])

    def scan_frames(self, frames: Iterable[pd.DataFrame]) -> list[Finding]:
        """The findings of scan_frame on the frames put together (the batches of one table, with
        the same columns): each column's values are counted over every batch."""
        return self._scan_columns(
            [(str(name), self._worth_examining(frame.iloc[:, at])) for at, name in enumerate(frame.columns)]
            for frame in frames
        )

    def scan_batches(self, batches: Iterable[pa.RecordBatch]) -> list[Finding]:
        """scan_frames of the batches as pandas frames, without making them: text columns are
        counted in Arrow (a dictionary-encoded one from its indices, its values examined once),
        the others as pandas types them."""
        return self._scan_columns(
            [(name, self._arrow_worth_examining(column)) for name, column in zip(batch.schema.names, batch.columns)]
            for batch in batches
        )

    def _scan_columns(self, batches: Iterable[list[tuple[str, Iterable[tuple[object, int]]]]]) -> list[Finding]:
        """Findings of batches given as (column, its (value, occurrences) worth examining)."""
        columns: list[str] = []
        counts: list[Counter[str]] = []
        memos: list[dict] = []  # per column, what its values were found to be: batches share most
        for batch in batches:
            for position, (name, counted) in enumerate(batch):
                if position == len(columns):
                    columns.append(name)
                    counts.append(Counter())
                    memos.append({})
                counts[position] += self._kind_counts(columns[position], counted, memos[position])
        return [finding for column, counted in zip(columns, counts) for finding in self._findings(column, counted)]

    def _worth_examining(self, series: pd.Series) -> Iterable[tuple[object, int]]:
        """As _distinct, but a text column's pseudonyms and H3 cells of lengths no identifier has,
        which _string_kinds would pass one by one, are passed over all at once (a national
        month's pseudonyms are millions of distinct values)."""
        if not isinstance(series.dtype, pd.StringDtype):
            return _distinct(series)
        return self._arrow_worth_examining(pa.array(series, from_pandas=True))

    def _arrow_worth_examining(self, column: pa.Array) -> Iterable[tuple[object, int]]:
        if pa.types.is_dictionary(column.type) and is_text(column.type.value_type):
            indices = column.indices.drop_null().to_numpy(zero_copy_only=False)
            occurrences = np.bincount(indices, minlength=len(column.dictionary))
            met = occurrences > 0  # a dictionary may hold values of other batches
            values, counts = column.dictionary.filter(pa.array(met)), occurrences[met]
            examined = pc.invert(self._passed_over(values)).to_numpy(zero_copy_only=False)
            return zip(values.filter(pa.array(examined)).to_pylist(), counts[examined].tolist())
        if is_text(column.type):
            # Passed over row by row before counting: pseudonyms are nearly all distinct.
            column = column.drop_null()
            counted = pc.value_counts(column.filter(pc.invert(self._passed_over(column))))
            return zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist())
        return _distinct(column.to_pandas())

    def _passed_over(self, texts: pa.Array) -> pa.Array:
        """Where a text is what _string_kinds would pass over: a pseudonym or H3 cell (machine
        hexadecimal) of a length no known identifier has. A scoped scanner passes over nothing:
        every text it is shown must be in its scope."""
        lengths = pc.utf8_length(texts)
        if self._scope is not None:
            return pc.equal(lengths, -1)  # false, or null for a missing text
        unknowable = pc.invert(pc.is_in(lengths, pa.array(sorted(self._whole_lengths), lengths.type)))
        return pc.and_kleene(_machine_hex(texts, lengths), unknowable)

    def scan_text(self, text: str, where: str = "text") -> list[Finding]:
        hits = self._text_hits(text, column=None)
        return [Finding(k, where, hits[k]) for k in KINDS if hits[k]]

    # ---- Values ----
    def _scan_distinct(self, column: str, counted: Iterable[tuple[object, int]]) -> list[Finding]:
        return self._findings(column, self._kind_counts(column, counted))

    def _findings(self, column: str, counts: Counter[str]) -> list[Finding]:
        label, findings = self._column_label(column)
        return findings + [Finding(k, label, counts[k]) for k in KINDS if counts[k]]

    def _kind_counts(
        self, column: str, counted: Iterable[tuple[object, int]], memo: dict | None = None
    ) -> Counter[str]:
        """Each distinct value is examined once and counted as often as it occurs; `memo` (value ->
        kinds, up to _MEMO_VALUES of them) carries what was examined over to later calls."""
        counts: Counter[str] = Counter()
        memo = {} if memo is None else memo
        for value, n in counted:
            try:
                kinds = memo.get(value)
            except TypeError:  # unhashable values (lists, dicts) are examined every time
                kinds = self._value_kinds(column, value)
            if kinds is None:
                kinds = self._value_kinds(column, value)
                if len(memo) < _MEMO_VALUES:
                    memo[value] = kinds
            for kind in kinds:
                counts[kind] += n
        return counts

    def _column_label(self, column: str) -> tuple[str, list[Finding]]:
        """A column named with a value (a headerless extract, a pivot) must not be reported by name."""
        hits = self._text_hits(column, column=None)
        if not hits:
            return column, []
        return WITHHELD_COLUMN, [Finding(k, WITHHELD_COLUMN, 1) for k in KINDS if hits[k]]

    def _value_kinds(self, column: str, value: object) -> set[str]:
        if isinstance(value, str):
            return self._string_kinds(column, value)
        if value is None or value is pd.NA or value is pd.NaT or isinstance(value, (bool, np.bool_)):
            return set()
        if isinstance(value, (int, np.integer)):
            return self._number_kinds(int(value))
        if isinstance(value, (float, np.floating)):
            whole = math.isfinite(value) and float(value).is_integer()
            return self._number_kinds(int(value)) if whole else set()
        if isinstance(value, np.datetime64):
            value = pd.Timestamp(value)
            if value is pd.NaT:
                return set()
        if isinstance(value, dt.date):  # datetimes and Timestamps too
            return {"date_of_birth"} if self._date_value_leaks(column, value) else set()
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self._string_kinds(column, bytes(value).decode("utf-8", errors="ignore"))
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
            return set().union(*(self._value_kinds(column, v) for v in value))
        if isinstance(value, (dt.time, dt.timedelta)):
            return set()
        return self._string_kinds(column, str(value))  # Decimal, UUID and the like

    def _number_kinds(self, number: int) -> set[str]:
        kinds = set()
        if 10**9 <= number < 10**10 and is_valid_nhs_number(str(number)):
            kinds.add("nhs_number")
        if number >= 10**4 and self._known(str(number)):
            kinds.add("known_identifier")
        return kinds

    def _date_value_leaks(self, column: str, when: dt.date) -> bool:
        """Typed dates (not text) are checked where a birth date could be: in a column named for
        one, or in a month column, where anything but a month key means a day slipped through."""
        if _BIRTH_COLUMN.search(column):
            return True
        if column.casefold() not in self._date_columns:
            return False  # an event's hour, a load time: generalised by the agreement
        midnight = not isinstance(when, dt.datetime) or when.time() == dt.time()
        return not (when.day == 1 and midnight)

    def _string_kinds(self, column: str, value: str) -> set[str]:
        text = value.strip()
        if not text or _collapse(text) in self._allowed:  # public text, e.g. a venue's name
            return set()
        if _MACHINE_HEX.fullmatch(text.lower()):  # a pseudonym or H3 cell: nothing to search in
            return {"known_identifier"} if self._known(text.lower()) else set()
        kinds = set(self._text_hits(text, column))
        if self._is_free_text(text):
            kinds.add("free_text")
        return kinds

    def _is_free_text(self, text: str) -> bool:
        if _HEX.fullmatch(text):  # pseudonyms are long but not text
            return False
        if len(text) > self.max_code_length:
            return True
        words = [w for w in text.split() if _LETTER_WORD.fullmatch(w.strip(".,;:!?()[]\"'"))]
        return len(words) >= 4

    # ---- Text ----
    def _text_hits(self, text: str, column: str | None) -> Counter[str]:
        """Matches per kind; `column` None means text such as a log line, not a column value."""
        hits: Counter[str] = Counter()
        if any(c.isdigit() for c in text):  # every pattern but e-mail needs a digit
            # In text "1785542400.0" is far likelier a Unix time (Dagster's partition windows).
            hits["nhs_number"] = sum(
                is_valid_nhs_number(m[1]) and not (column is None and m[3]) for m in _NHS.finditer(text)
            )
            # postcode_district is the project's definition of a full postcode.
            hits["postcode"] = sum(postcode_district(m[0]) is not None for m in POSTCODE_TOKEN.finditer(text))
            hits["phone"] = sum(is_uk_phone_number(m[0]) for m in PHONE_TOKEN.finditer(text))
            hits["date_of_birth"] = self._date_hits(text, column)
        if "@" in text:
            hits["email"] = len(_EMAIL.findall(text))
        if self._lengths or self._scope is not None:  # a scoped scanner looks even knowing none, to refuse
            hits["known_identifier"] = self._known_hits(text)
        return +hits

    def _date_hits(self, text: str, column: str | None) -> int:
        found = [
            h for h in _find_dates(text, self._today) if h.date <= self._today and h.date not in self._public_dates
        ]
        if column is None:
            # Text is full of machine dates: timestamps with a time of day, ISO month keys
            # (Dagster's monthly partitions) and version numbers. A date at midnight is kept:
            # that is how a parsed date of birth is printed.
            return sum(
                1
                for h in found
                if not (h.time is not None and h.time != (0, 0, 0))
                and not (h.iso and h.month_key)
                and not h.short_dotted
            )
        if _BIRTH_COLUMN.search(column) or column.casefold() not in self._date_columns:
            return len(found)
        return sum(1 for h in found if not h.month_key)

    def _known_hits(self, text: str) -> int:
        """Known identifiers starting where a token starts: whole tokens, runs of tokens however
        separated ("SW/888777/26", "Zebedee Quartermaine's") and references that begin a longer
        token ("EDPLANT7731B"). Each match is counted once, by its longest form."""
        hits = 0
        segment: list[str] = []
        for token in TOKEN.findall(normalise(text)) + [""]:
            if token and not _MACHINE_HEX.fullmatch(token):
                segment.append(token)
                continue
            hits += self._segment_hits(segment)  # a digest or the end breaks the run
            segment = []
            if token and self._known(token):
                hits += 1
        return hits

    def _segment_hits(self, tokens: list[str]) -> int:
        joined = "".join(tokens)
        starts, ends, offset = [], set(), 0
        for token in tokens:
            starts.append(offset)
            offset += len(token)
            ends.add(offset)
        hits, covered = 0, 0
        for start in starts:
            head = joined[start : start + MIN_IDENTIFIER]
            self._in_scope(head)
            if start < covered or self._digest(head) not in self._heads:
                continue
            for length in self._lengths:
                end = start + length
                if end > len(joined):
                    continue
                # Ending on a token boundary: any identifier; inside a token: references only.
                if end in ends:
                    pool, lengths = self._whole, self._whole_lengths
                else:
                    pool, lengths = self._prefix, self._prefix_lengths
                if length in lengths and self._digest(joined[start:end]) in pool:
                    hits, covered = hits + 1, end
                    break
        return hits


def heads_in(frames: Iterable[pd.DataFrame]) -> frozenset[str]:
    """Everything in the frames that a scanner could compare with a known identifier's first
    MIN_IDENTIFIER characters: from each token of each value's text and of each column's name,
    normalised, that many characters, the tokens run together (as _known_hits and _known read
    them; more places than they look at, never fewer). A scanner given these as its scope
    digests only the identifiers that begin so: for a release's tables, a few thousand of a
    national month's 10 million."""
    heads: set[str] = set()
    for frame in frames:
        for at, name in enumerate(frame.columns):
            # The values the scanner examines (_distinct): a categorical's unused categories too.
            for text in [str(name), *_texts(value for value, _ in _distinct(frame.iloc[:, at]))]:
                tokens = TOKEN.findall(normalise(text))
                joined, start = "".join(tokens), 0
                for token in tokens:
                    heads.add(joined[start : start + MIN_IDENTIFIER])
                    start += len(token)
    return frozenset(h for h in heads if len(h) == MIN_IDENTIFIER)


def _texts(values: Iterable[object]) -> Iterator[str]:
    """The texts LeakScanner._value_kinds reads in values: strings, whole numbers as integers,
    what lists and dicts hold, anything else as printed."""
    for value in values:
        if isinstance(value, dict):
            yield from _texts(value.values())
        elif isinstance(value, (list, tuple, set, frozenset, np.ndarray)):
            yield from _texts(value)
        elif isinstance(value, (bytes, bytearray, memoryview)):
            yield bytes(value).decode("utf-8", errors="ignore")
        elif isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
            yield str(int(value))
        else:
            yield str(value)


def _distinct(series: pd.Series) -> Iterable[tuple[object, int]]:
    """(value, occurrences) worth examining; numeric columns hold identifiers only as large whole
    numbers, so only those are kept."""
    if pd.api.types.is_bool_dtype(series):
        return ()
    if pd.api.types.is_numeric_dtype(series) and not isinstance(series.dtype, pd.CategoricalDtype):
        series = series.dropna()
        if pd.api.types.is_float_dtype(series):
            series = series[(series % 1 == 0) & (series.abs() < 1e18)]
        series = series[series >= 10**4]
    try:
        return series.value_counts(dropna=True).items()
    except TypeError:  # unhashable values (lists, dicts): count them one by one
        return [(value, 1) for value in series if value is not None]


# _MACHINE_HEX for RE2, which Arrow uses and which has no lookahead: a letter then a digit, or a
# digit then a letter (the length is checked apart).
_MACHINE_HEX_RE2 = "^(?:[0-9a-f]*[a-f][0-9a-f]*[0-9]|[0-9a-f]*[0-9][0-9a-f]*[a-f])[0-9a-f]*$"


def is_text(arrow_type: pa.DataType) -> bool:
    """Whether an Arrow type is text (string or large string)."""
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def _machine_hex(values: pa.Array, lengths: pa.Array) -> pa.Array:
    """Where a text is what _MACHINE_HEX matches whole, written in lower case."""
    return pc.and_kleene(
        pc.greater_equal(lengths, _MACHINE_HEX_SHORTEST), pc.match_substring_regex(values, _MACHINE_HEX_RE2)
    )
