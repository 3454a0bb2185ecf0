"""Resolve whole columns of location texts, as many as a national month's, with PlaceMatcher.

Most texts repeat, or differ from another only in case or house numbers ("near 12 castle st",
"near 86 Castle St"), so each distinct text shape, text and canonical form is resolved once, and
a ResolutionMemo carries what was worked out from one batch of a file to the next (and, by keyed
digest, what a shape resolves to from one month to the next: anonymise/known_shapes.py). Every
Resolution is the one PlaceMatcher.resolve gives for the text alone.

Pure, as anonymise/locate.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from anonymise.gazetteer import Place
from anonymise.identifiers import PHONE_SHAPE, POSTCODE_IN_TEXT, SOUTH_WALES_DISTRICT
from anonymise.known_shapes import KnownShapes
from anonymise.locate import DIGIT, SCORE_CUTOFF, PlaceMatcher, Resolution, may_reach_cutoff, word_segments


@dataclass
class ResolutionMemo:
    """What resolve_rows has worked out, kept between calls that pass it (one file's batches):
    each text shape's resolution (None: its texts are resolved one by one), each distinct text's
    (keyed lower-cased: resolving ignores case), each canonical form's, each run of words' scores
    against the place names, and each distinct resolution. It holds texts, so it should live no
    longer than the file being pseudonymised. Shapes and texts are forgotten beyond `max_texts`
    (house numbers make most of a national month's texts distinct); forms, runs and resolutions
    are bounded by the vocabulary. `known`, where given, holds the shapes resolved in earlier
    files (by keyed digest, never as text): those are not resolved again, and the shapes
    resolved here are added to what it has learned."""

    max_texts: int = 500_000
    by_shape: dict[str, Resolution | None] = field(default_factory=dict)
    by_text: dict[str | None, Resolution] = field(default_factory=dict)
    # One object per distinct Resolution, so that rows are spread per distinct one (by identity).
    distinct: dict[Resolution, Resolution] = field(default_factory=dict)
    by_form: dict[tuple, Resolution] = field(default_factory=dict)
    scores: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    known: KnownShapes | None = None


_NUMBER_TOKEN = re.compile(r"^[0-9]{1,4}[a-z]?$")  # a standalone number, as a word
_ZEROS = re.compile(r"[0-9]")


class LocationResolver(PlaceMatcher):
    """A PlaceMatcher that also resolves many texts at once (`resolve_rows`, `resolve_many`)."""

    def __init__(self, places: Sequence[Place], score_cutoff: float = SCORE_CUTOFF):
        super().__init__(places, score_cutoff)
        # For the canonical forms of texts (_forms): number tokens that some place name uses are kept
        # as typed; other house numbers are written as zeros of the same length. Digits never
        # match a letter, so the rewrite leaves every score against a digit-free name unchanged;
        # the few names with digits ("Bar 105", "A4054") are checked segment by segment instead.
        self._name_numbers = {
            t for p in self._places for seg in word_segments(p.name) for t in seg if _NUMBER_TOKEN.match(t)
        }
        self._name_numbers |= {t for k in self._keys for t in re.findall(r"[0-9]+[a-z]?", k)}
        self._digit_keys = [k for k in self._keys if any(c.isdigit() for c in k)]
        self._digit_key_letters = [DIGIT.sub("", k) for k in self._digit_keys]
        self._digit_key_lengths = np.array([len(k) for k in self._digit_keys])
        self._digit_key_digits = self._digit_key_lengths - np.array([len(k) for k in self._digit_key_letters])
        # Lengths of runs of words that could come near a name with digits (rewriting keeps lengths).
        self._digit_key_reach = {
            n
            for n in range(1, 2 * max(self._key_lengths, default=0) + 1)
            if may_reach_cutoff(n, self._digit_key_lengths, self._cutoff - 1).any()
        }

    def fingerprint(self) -> str:
        """SHA-256 of the places and the score cutoff: with the matching rules' code, all that a
        Resolution depends on besides its text (so the shapes known under one stay valid)."""
        places = [dataclasses.astuple(place) for place in self._places]
        return hashlib.sha256(json.dumps([self._cutoff, places]).encode()).hexdigest()

    def resolve_many(self, texts: Iterable[str | None], memo: ResolutionMemo | None = None) -> list[Resolution]:
        """Each text's Resolution, in input order (anything but a str is unlocated): see
        `resolve_rows`."""
        column = pa.array([text if isinstance(text, str) else None for text in texts], pa.string())
        found, rows = self.resolve_rows(column, memo)
        return [found[row] for row in rows.tolist()]

    def resolve_rows(self, texts: pa.Array, memo: ResolutionMemo | None = None) -> tuple[list[Resolution], np.ndarray]:
        """Each row's Resolution, as the distinct Resolutions and each row's position among
        them. A memo passed to successive calls (the batches of one file) carries over what
        earlier calls resolved.

        Most texts differ from another only in house numbers ("near 12 castle st", "near 86
        Castle St"), and a Resolution depends on a digit's value only where digits could make a
        phone number, a postcode or a district, or bring a run of words near a place name with
        digits ("Bar 105", "A4054"). So an ASCII text's shape, lower-cased with every digit
        written 0 (in Arrow, for the whole column), is resolved once for all its texts unless
        `_digit_values_matter` for it. The texts of such shapes, and non-ASCII ones, are
        resolved text by text (`_resolve_texts`).
        """
        memo = ResolutionMemo() if memo is None else memo
        texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
        encoded = text_shapes(texts)
        shapes = encoded.dictionary.to_pylist()
        rows_shape = encoded.indices.fill_null(len(shapes)).to_numpy()  # len(shapes): resolved by text
        self._learn_shapes(texts, shapes, rows_shape, memo)
        found, position = self._distinct([memo.by_shape[shape] for shape in shapes])
        rows = np.array(position + [-1])[rows_shape]  # -1: resolved by text
        by_text = rows < 0
        if by_text.any():
            distinct = texts.filter(pa.array(by_text)).dictionary_encode()
            rows[by_text] = len(found) + distinct.indices.fill_null(len(distinct.dictionary)).to_numpy()
            found += self._resolve_texts(distinct.dictionary.to_pylist() + [None] * (distinct.null_count > 0), memo)
        for memory in (memo.by_text, memo.by_shape):
            if len(memory) > memo.max_texts:
                memory.clear()
        return found, rows

    @staticmethod
    def _distinct(resolutions: list[Resolution | None]) -> tuple[list[Resolution], list[int]]:
        """The distinct Resolutions (by identity: the memo keeps one object per distinct one)
        and each one's position among them, -1 for None."""
        found: list[Resolution] = []
        at: dict[int, int] = {}
        position = []
        for resolution in resolutions:
            if resolution is None:
                position.append(-1)
                continue
            if id(resolution) not in at:
                at[id(resolution)] = len(found)
                found.append(resolution)
            position.append(at[id(resolution)])
        return found, position

    def _learn_shapes(self, texts: pa.Array, shapes: list[str], rows_shape: np.ndarray, memo: ResolutionMemo) -> None:
        """memo.by_shape for each shape not met before: the resolution known from an earlier
        file (memo.known), else that of its first text, or None (resolve by text) if the values
        of its digits could matter. Shapes resolved here with a definite resolution are learned."""
        unseen = [n for n, shape in enumerate(shapes) if shape not in memo.by_shape]
        if unseen and memo.known is not None:
            digests = memo.known.digests([shapes[n] for n in unseen])
            recalled = memo.known.recall(digests)
            for n, resolution in zip(unseen, recalled):
                if resolution is not None:
                    memo.by_shape[shapes[n]] = memo.distinct.setdefault(resolution, resolution)
            digest_row = {n: row for row, (n, resolution) in enumerate(zip(unseen, recalled)) if resolution is None}
            unseen = list(digest_row)
        if not unseen:
            return
        matter = self._digit_values_matter([shapes[n] for n in unseen])
        shared = [n for n in unseen if shapes[n] not in matter]
        _, first_row = np.unique(rows_shape, return_index=True)  # by shape number, as shapes are
        found = self._resolve_texts(texts.take(first_row[shared]).to_pylist(), memo)
        memo.by_shape.update((shape, None) for shape in matter)
        memo.by_shape.update((shapes[n], resolution) for n, resolution in zip(shared, found))
        if memo.known is not None and shared:
            memo.known.learn(digests[[digest_row[n] for n in shared]], found)

    def _resolve_texts(self, texts: list[str | None], memo: ResolutionMemo) -> list[Resolution]:
        """Each text's Resolution, each distinct one worked out once, texts that differ only in
        case or in house numbers' values through one canonical form (`_forms`)."""
        keys = [text.lower() if isinstance(text, str) else None for text in texts]  # NaN != NaN
        new: dict[str | None, str | None] = {}  # key -> the first text typed that way
        for key, text in zip(keys, texts):
            if key not in memo.by_text and key not in new:
                new[key] = text
        if new:
            self._resolve_new(new, memo)
        return [memo.by_text[key] for key in keys]

    def _digit_values_matter(self, shapes: list[str]) -> set[str]:
        """The shapes whose texts may resolve differently by the values of their digits: where
        digits could make a phone number, a postcode or a district (`_prepare`), or where a run
        of words holding digits could score near a place name with digits. Digits never match a
        letter, so a run's common subsequence with a name is at most that of their letters plus
        the fewer of their digits (`_near_digit_keys`); every other step looks at a digit only
        as a digit (tokens, house-number cues, run lengths)."""
        matter, runs_of = set(), {}
        for shape in shapes:
            if not DIGIT.search(shape):
                continue  # the shape is the text itself
            if PHONE_SHAPE.search(shape) or POSTCODE_IN_TEXT.search(shape) or SOUTH_WALES_DISTRICT.search(shape):
                matter.add(shape)
            else:
                runs_of[shape] = {
                    run for seg in word_segments(shape) for _, _, run in self._segment_runs(seg) if DIGIT.search(run)
                }
        near = self._near_digit_keys(list(set().union(*runs_of.values())))
        return matter | {shape for shape, runs in runs_of.items() if not runs.isdisjoint(near)}

    def _near_digit_keys(self, runs: list[str]) -> set[str]:
        """The runs (holding digits) that some choice of digit values could bring within a
        point of the cutoff against a place name with digits."""
        if not runs or not self._digit_keys:
            return set()
        letters = [DIGIT.sub("", run) for run in runs]
        common = process.cdist(letters, self._digit_key_letters, scorer=LCSseq.similarity, workers=-1)
        digits = np.array([len(run) - len(plain) for run, plain in zip(runs, letters)])
        lengths = np.array([len(run) for run in runs])
        best = (
            200
            * (common + np.minimum(digits[:, None], self._digit_key_digits))
            / (lengths[:, None] + self._digit_key_lengths)
        )
        return {run for run, near in zip(runs, (best >= self._cutoff - 1).any(axis=1)) if near}

    def _resolve_new(self, new: dict[str | None, str | None], memo: ResolutionMemo) -> None:
        """Resolve each new text's canonical form once. Every run of words of the forms still to
        resolve is scored first, in one vectorised pass, rather than text by text."""
        prepared = {key: self._prepare(text) for key, text in new.items() if key is not None}
        forms = self._forms(prepared)
        forms[None] = (None,)
        todo: dict[tuple, str | None] = {}  # form -> the key of the text resolved for it
        for key in new:
            if forms[key] not in memo.by_form:
                todo.setdefault(forms[key], key)
        windows = {
            key: self._windows(prepared[key][0])
            for key in todo.values()
            if key is not None and self._without_matching(*prepared[key]) is None
        }
        self._score_runs((run for _, runs in windows.values() for run in runs), memo.scores)
        for form, key in todo.items():
            resolution = self._resolve(new[key], memo.scores, prepared.get(key), windows.get(key))
            memo.by_form[form] = memo.distinct.setdefault(resolution, resolution)
        for key in new:
            memo.by_text[key] = memo.by_form[forms[key]]

    def _forms(self, prepared: dict[str, tuple]) -> dict[str, tuple]:
        """A cache key per prepared text, shared by texts that resolve alike: its postcode district
        and its segments, each house number not used by any place name written as zeros of the
        same length ("12a" -> "00a"), except in segments where that could change a score."""
        zeroed: dict[tuple[str, ...], tuple[str, ...]] = {}  # each distinct segment, rewritten
        for segments, _, full_postcode in prepared.values():
            for seg in segments if not full_postcode else ():
                typed = tuple(seg)
                if typed not in zeroed:
                    zeroed[typed] = tuple(
                        _ZEROS.sub("0", t) if _NUMBER_TOKEN.match(t) and t not in self._name_numbers else t
                        for t in typed
                    )
        kept = self._numbers_that_matter({typed: z for typed, z in zeroed.items() if z != typed})
        written = {typed: " ".join(typed if typed in kept else z) for typed, z in zeroed.items()}
        return {
            key: ("private", district)
            if full_postcode
            else ("words", district, "|".join(written[tuple(seg)] for seg in segments))
            for key, (segments, district, full_postcode) in prepared.items()
        }

    def _numbers_that_matter(self, rewritten: dict[tuple[str, ...], tuple[str, ...]]) -> set[tuple[str, ...]]:
        """The segments in which a run of words holding a rewritten number, as typed or rewritten,
        comes near a place name with digits, the only names whose scores the rewrite could
        change. (Runs never cross segments, so a segment's numbers matter only within it.)"""
        if not self._digit_keys or not rewritten:
            return set()
        runs_of: dict[tuple[str, ...], set[str]] = {}
        for typed, z in rewritten.items():
            runs_of[typed] = {
                run
                for i, j, as_typed in self._segment_runs(typed)
                if len(as_typed) in self._digit_key_reach and typed[i:j] != z[i:j]
                for run in (as_typed, "".join(z[i:j]))
            }
        distinct = list(set().union(*runs_of.values()))
        if not distinct:
            return set()
        scores = process.cdist(distinct, self._digit_keys, scorer=fuzz.ratio, score_cutoff=self._cutoff - 1, workers=-1)
        near = {run for run, close in zip(distinct, scores.any(axis=1)) if close}
        return {typed for typed, runs in runs_of.items() if not runs.isdisjoint(near)}


def text_shapes(texts: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """Each text's shape (see LocationResolver.resolve_rows), dictionary-encoded: lower-cased,
    every digit written 0; missing for a text that is missing or not ASCII."""
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    # utf8_lower lowers ASCII as ascii_lower does: pyarrow 26's ascii_lower writes a corrupt
    # array for a batch cut from a row group (string offsets not starting at zero).
    shaped = _digits_as_zeros(pc.utf8_lower(texts))
    ascii_only = pc.string_is_ascii(texts)
    if pc.any(pc.invert(ascii_only)).as_py():  # if_else copies the column: only when a value needs it
        shaped = pc.if_else(ascii_only, shaped, None)
    return shaped.dictionary_encode()


_ZERO_DIGITS = np.arange(256, dtype=np.uint8)
_ZERO_DIGITS[ord("1") : ord("9") + 1] = ord("0")


def _digits_as_zeros(texts: pa.Array) -> pa.Array:
    """The texts with every digit 1-9 written 0, byte by byte through a lookup table (a tenth of
    a regular expression's time). Safe on any UTF-8: bytes of a multi-byte character are all
    0x80 or above, never an ASCII digit."""
    validity, offsets, data = texts.buffers()
    if data is None:  # no characters at all
        return texts
    zeroed = pa.py_buffer(_ZERO_DIGITS[np.frombuffer(data, dtype=np.uint8)])
    return pa.Array.from_buffers(texts.type, len(texts), [validity, offsets, zeroed], texts.null_count, texts.offset)
