"""Resolve ED receptionists' free-text assault locations to a gazetteer place, or classify them.

Receptionists type things like "o/s kapu st mary st", "pts flat cf24 3as" or "n/k". A location
becomes a venue or street from the gazetteer, or "private" (a dwelling: never published below
postcode district), "ambiguous" (names several far-apart places) or "unlocated".

This module matches one text to a place; anonymise/locate_batches.py resolves whole columns of
texts (a national month's) by working out each distinct text, shape or form once.

Pure: no I/O, no logging, and a Resolution is built only from gazetteer fields and the postcode
district, so no input text (names, phone numbers, house numbers) can leak through it. An
Explanation (`PlaceMatcher.explain`) does quote the text's words: it is for the person who typed it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from math import cos, hypot, radians
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from anonymise.gazetteer import Place
from anonymise.identifiers import PHONE_IN_TEXT, POSTCODE_IN_TEXT, SOUTH_WALES_DISTRICT


@dataclass(frozen=True)
class Resolution:
    status: str  # "venue" | "street" | "private" | "ambiguous" | "unlocated"
    place_id: str | None
    place_name: str | None
    latitude: float | None
    longitude: float | None
    postcode_district: str | None  # outward code found in the text, e.g. "CF24"


def _unplaced(status: str, district: str | None) -> Resolution:
    return Resolution(status, None, None, None, None, district)


@dataclass(frozen=True)
class Explanation:
    """What `resolve` gives for a text and why, for a data officer asking at the terminal. Unlike a
    Resolution it quotes the text's own words, so it is shown to whoever typed them and is never
    logged, audited or stored."""

    status: str
    place_id: str | None
    place_name: str | None
    postcode_district: str | None
    words: str | None  # the words that decided, as cleaned: a place name matched, a dwelling cue, a chain
    score: float | None  # how closely `words` match the place name (fuzz.ratio, 100: exactly)
    # What decided, in the order resolving tries: "no text", "full postcode", "nothing about where",
    # "dwelling", "chain", "best match", "street tells apart", "district tells apart",
    # "several places", "no match".
    rule: str
    reason: str  # the rule in plain words, quoting `words`
    candidates: tuple[str, ...] = ()  # the place ids an ambiguous text may mean


# ---- Cleaning. The same function normalises input and gazetteer names, so both sides agree. ----
_PHRASES = [  # on lower-cased raw text, before tokenising
    (re.compile(r"\bo/s\b"), " outside "),
    (re.compile(r"\bn/[ka]\b"), " unknown "),
    (re.compile(r"&"), " and "),
    (re.compile(r"['’`]"), ""),  # "o'neills" -> "oneills", "mary's" -> "marys"
]
_ABBREVIATIONS = {
    "nr": "near",
    "opp": "opposite",
    "opps": "opposite",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "sq": "square",
    "tce": "terrace",
    "terr": "terrace",
    "cres": "crescent",
    "pl": "place",
    "cl": "close",
    "ct": "court",
    "dr": "drive",
    "gdns": "gardens",
    "pde": "parade",
    "stn": "station",
    "hse": "house",
    "ph": "public house",
    "pt": "patient",
    "pts": "patients",
    "frnds": "friends",
    "cc": "city centre",
}
_EXPANSIONS = {word: expansion.split() for word, expansion in _ABBREVIATIONS.items()}
# Punctuation that separates clauses: a place name never spans it ("kapu, st mary st").
_BOUNDARY = re.compile(r"[,;:/()\[\]|+\n]+")
_WORD = re.compile(r"[a-z0-9]+")

FILLERS = frozenset(
    "outside near opposite in at on the by behind inside front of and a an to from off "
    "top end back side next past into onto patient patients was were assaulted attacked hit "
    "punched kicked stabbed glassed fight".split()
)
_LOCATIVES = frozenset("outside inside in at near opposite by behind of on past into from".split())
# Words that say the word before them is a premises: "kapu toilets", "pulse club".
_VENUE_WORDS = frozenset(
    "bar pub club nightclub hotel inn public tavern toilets toilet entrance door doors doorway queue smoking".split()
)
STREET_TYPES = frozenset(
    "street road avenue lane close crescent terrace place drive way court gardens grove square "
    "walk mews rise row parade view heol clos ffordd lon stryd cwrt plas rhodfa".split()
)
_AREAS = frozenset(
    "cardiff canton roath splott cathays grangetown riverside llandaff ely rumney whitchurch "
    "pontcanna adamsdown butetown penylan cyncoed llanishen rhiwbina fairwater caerau radyr heath "
    "birchgrove gabalfa tremorfa pentwyn llanedeyrn llanrumney trowbridge thornhill lisvane "
    "tongwynlais pentyrch creigiau leckwith bay docks town city centre central".split()
)
# Words that identify nothing on their own: a venue name is never shortened to one of them.
_GENERIC = _AREAS | _VENUE_WORDS | frozenset("arms house social venue church".split())
# Nouns that, after a word, make it part of another kind of place's name: "railway station".
_PLACE_NOUNS = STREET_TYPES | frozenset("station park hospital centre school church stadium".split())
_UNKNOWN = frozenset(
    "unknown unk nk na none nil unsure not stated known sure given cant cannot remember dont know "
    "declined refused location blank".split()
)


def word_segments(text: str) -> list[list[str]]:
    text = text.lower()
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    segments = []
    for part in _BOUNDARY.split(text):
        tokens: list[str] = []
        words = _WORD.findall(part)
        for n, word in enumerate(words):
            if word == "st":  # "caroline st" is Street; "st mary st", "o/s st davids" are Saint
                after_name = tokens and tokens[-1].isalpha() and tokens[-1] not in FILLERS
                saint = not after_name or _street_follows(words[n + 1 : n + 4])
                word = "saint" if saint else "street"
            expansion = _EXPANSIONS.get(word)
            if expansion:
                tokens.extend(expansion)
            else:
                tokens.append(word)
        if tokens:
            segments.append(tokens)
    return segments


def _street_follows(ahead: list[str]) -> bool:
    """ "st" is Saint when a name then a street type follow it: "kapu st mary st"."""
    return (
        len(ahead) > 1
        and ahead[0].isalpha()
        and ahead[0] not in FILLERS
        and any(_ABBREVIATIONS.get(a, a) in STREET_TYPES or a == "st" for a in ahead[1:])
    )


def clean(text: str) -> str:
    """Lower-cased, punctuation-free, abbreviations expanded.
    "O/S St. Mary's St" -> "outside saint marys street"."""
    return " ".join(t for segment in word_segments(text) for t in segment)


# ---- Postcodes and phone numbers (patterns: anonymise/identifiers.py) ----
DIGIT = re.compile(r"\d")  # phone numbers and postcodes all hold one


def postcode_district_in_text(text: str) -> tuple[str | None, bool]:
    """(outward code, whether a full unit postcode was given) for the first postcode in free
    text, phone numbers cut out first; a South Wales district alone counts too."""
    text = PHONE_IN_TEXT.sub(" ", text.lower())
    full = POSTCODE_IN_TEXT.search(text)
    district = full or SOUTH_WALES_DISTRICT.search(text)
    return (district.group(1).upper() if district else None), full is not None


# ---- Private dwellings ----
_DWELLING = frozenset("home house flat flats apartment residence address bedroom bathroom bedsit".split())
_KIN = frozenset(
    "mums mams moms nans nanas dads parents friends friend mates boyfriends girlfriends partners "
    "brothers sisters cousins aunties uncles neighbours grandparents exs".split()
)
_POSSESSIVE = _KIN | frozenset("my his her their our own".split())
# "on way home" is not at home; a "public house" is not a dwelling.
_NOT_HOME_BEFORE = frozenset("way walking walk walked going went heading travelling".split())
_NOT_DWELLING_BEFORE = frozenset("public beer ale custom coach boat opera guest".split())
_DOMESTIC = frozenset("kitchen garden driveway doorstep hallway".split())
_HOUSE_NUMBER = re.compile(r"^\d{1,4}[a-z]?$")


class _Cue(NamedTuple):
    """A sign of a dwelling: the words segments[segment][start:end], and what they say."""

    segment: int
    start: int
    end: int
    says: str  # in plain words, after the quoted words: "names a dwelling"


def _private_cues(segments: list[list[str]], covered: set, street_ends: dict) -> tuple[_Cue | None, _Cue | None]:
    """The first strong and the first weak sign of a dwelling among words that are not part of a
    matched place name (street_ends: where each street matched ends, by where it starts). Strong
    signs win over a venue; weak ones (kitchen, a house number) only when no venue matched."""
    strong = weak = None
    for s, seg in enumerate(segments):
        for i, t in enumerate(seg):
            if (s, i) in covered:
                continue
            prev = seg[i - 1] if i else None
            nxt = seg[i + 1] if i + 1 < len(seg) else None
            if t == "home":
                if prev not in _NOT_HOME_BEFORE:
                    strong = strong or _Cue(s, i, i + 1, "says it happened at a home")
            elif t in _DWELLING:
                if prev not in _NOT_DWELLING_BEFORE:
                    strong = strong or _Cue(s, i, i + 1, "names a dwelling")
            elif t == "place" and prev in _POSSESSIVE:  # "her place", "mates place"
                strong = strong or _Cue(s, i - 1, i + 1, "says it happened at someone's home")
            elif t in _KIN:  # "at mums", "his mums"; "friends house" is caught by "house"
                if nxt is None and (prev in _POSSESSIVE or prev in ("at", "in", "to")):
                    strong = strong or _Cue(s, i - 1, i + 1, "says it happened at someone's home")
            elif t in _DOMESTIC:
                if not (t == "garden" and (prev == "beer" or nxt == "centre")):
                    weak = weak or _Cue(s, i, i + 1, "is part of a home, and no venue is named")
            elif _HOUSE_NUMBER.match(t):  # "12 cathays terrace", "21a heol y coed"
                for k in range(i + 1, min(len(seg), i + 5)):
                    if seg[k] in STREET_TYPES or (s, k) in street_ends:
                        end = street_ends.get((s, k), k + 1)  # to the end of the street's name, if matched
                        weak = weak or _Cue(s, i, end, "is a house number and street, and no venue is named")
                        break
                    if seg[k] in FILLERS or not seg[k].isalpha():
                        break
    return strong, weak


# ---- Matching ----
class _Hit(NamedTuple):
    place: int  # index into the resolver's places
    segment: int  # the words segments[segment][start:end] matched, with this score
    start: int
    end: int
    score: float
    single: bool  # the matched name is one word, so needs context to count


# A chain's name cannot say which branch was meant: such "venues" are not matched, and a text
# naming only the chain is ambiguous.
_CHAIN_WORDS = frozenset("wetherspoon wetherspoons weatherspoons spoons".split())
_NAME_TAILS = [
    t.split()
    for t in (
        "public house",
        "hotel",
        "inn",
        "pub",
        "bar",
        "tavern",
        "pub and carvery",
        "bar and kitchen",
        "bar and grill",
        "cafe bar",
    )
]
_NOISE_TAIL = _AREAS | frozenset("ltd limited co company plc".split())
TIE_MARGIN = 3  # scores this close count as equal
FAR_METRES = 300  # same-named candidates further apart than this are different places
EXACT_BELOW = 5  # names/windows shorter than this (in letters) must match exactly
SCORE_CUTOFF = 88  # fuzz.ratio a run of words needs against a name to match it


class _Context(NamedTuple):
    """What a text says about where, besides place names: its postcode district and its words."""

    district: str | None  # e.g. "CF5"
    words: frozenset[str]

    def names(self, district: str | None) -> bool:
        """Whether the text names this district: its postcode district, or every word of a
        locality ("llandaff", "st mellons")."""
        if not district:
            return False
        if district == self.district:
            return True
        words = clean(district).split()
        return bool(words) and self.words.issuperset(words)


class _Choice(NamedTuple):
    """What `_pick` made of some hits: the one that locates the text (None: no hits, or a tie no
    rule broke), the near-equal far-apart hits it was chosen from, and the rule that chose it."""

    hit: _Hit | None
    tied: tuple[_Hit, ...]  # the best hit and its rivals; empty when it had none
    rule: str  # "best match", "street tells apart", "district tells apart"; "" when hit is None


_NO_CHOICE = _Choice(None, (), "")


class _Decision(NamedTuple):
    """A Resolution and what decided it: resolving keeps the Resolution, `explain` puts the rest
    into words."""

    resolution: Resolution
    rule: str  # as Explanation.rule
    segments: Sequence[Sequence[str]] = ()
    hits: Sequence[_Hit] = ()
    cue: _Cue | None = None  # the sign of a dwelling, for rule "dwelling"
    venue: _Choice = _NO_CHOICE  # the choice among the venues matched
    street: _Choice = _NO_CHOICE  # ...and among the streets, when no venue was chosen


def _name_variants(place: Place, street_keys: set[str]) -> list[list[str]]:
    """Token lists a place may be called by: its name, and for venues the name without "The",
    "Cardiff"/"Ltd" tails and "Hotel"/"Bar" suffixes, and each part of "A / B" composite names."""
    if place.kind == "street":  # "The Parade" alone would match any parade
        tokens = [w for seg in word_segments(place.name) for w in seg]
        return [tokens] if any(t not in FILLERS and t not in STREET_TYPES for t in tokens) else []
    variants = []
    for part in re.split(r"[/()]", place.name):
        variants.append(tokens := [w for seg in word_segments(part) for w in seg])
        if tokens[:1] == ["the"] and len("".join(tokens[1:])) >= EXACT_BELOW:
            tokens = tokens[1:]
        while len(tokens) > 1 and tokens[-1] in _NOISE_TAIL:
            tokens = tokens[:-1]
        derived = [tokens] + [tokens[: -len(t)] for t in _NAME_TAILS if tokens[-len(t) :] == t]
        if "and" in tokens[1:]:  # "Pryzm and Steinbeck" -> "pryzm"
            derived.append(tokens[: tokens.index("and", 1)])
        for base in list(derived):  # "Great Western (Lloyds Bar)", "Mad Dog (Brewery Co)"
            if len(base) > 2 and base[-2] not in FILLERS:
                derived.append(base[:-1])
        # A shortened name of one generic word ("Heath" Hotel, "Canton" Hotel) names nothing.
        variants += [d for d in derived if len(d) > 1 or (d and d[0] not in _GENERIC)]
    # A venue called like a street ("Crwys Road" Bar) must not claim every mention of the street.
    return [v for v in variants if len("".join(v)) >= 4 and "".join(v) not in street_keys]


def _metres(a: Place, b: Place) -> float:
    dy = (a.latitude - b.latitude) * 111_195
    dx = (a.longitude - b.longitude) * 111_195 * cos(radians(a.latitude))
    return hypot(dx, dy)


class PlaceMatcher:
    """Matches one text at a time against the gazetteer's place names (LocationResolver, in
    anonymise/locate_batches.py, resolves many at once)."""

    def __init__(self, places: Sequence[Place], score_cutoff: float = SCORE_CUTOFF):
        self._places = tuple(places)
        self._cutoff = score_cutoff
        street_keys = {"".join(clean(p.name).split()) for p in self._places if p.kind == "street"}
        # Names are compared without spaces ("princeofwales") so typos and split words still match.
        self._keys: list[str] = []
        self._names: list[str] = []  # the same without street types: "parker", not "parkerplace"
        self._owner: list[tuple[int, bool]] = []  # (place index, name is one word)
        seen, longest = set(), 1
        self._first_words: set[str] = set()  # a run of words starting "outside" can't be a name...
        for i, place in enumerate(self._places):
            if _CHAIN_WORDS & set(clean(place.name).split()):
                continue
            for tokens in _name_variants(place, street_keys):
                key = "".join(tokens)
                if (key, i) not in seen:
                    seen.add((key, i))
                    self._keys.append(key)
                    self._names.append("".join(t for t in tokens if t not in STREET_TYPES))
                    self._owner.append((i, len(tokens) == 1))
                    longest = max(longest, len(tokens))
                    self._first_words.add(tokens[0])
        self._max_window = longest + 1  # +1: "o neills" typed as two words for "oneills"
        self._key_lengths = np.array([len(k) for k in self._keys])

    def resolve(self, text: str | None) -> Resolution:
        return self._resolve(text, {})

    def explain(self, text: str | None) -> Explanation:
        """What `resolve` gives for the text, and why: the words that decided, their score and the
        rule, in plain words. For a person asking about a few texts: nothing is cached."""
        decision = self._decide(text, {})
        resolution, segments, cue = decision.resolution, decision.segments, decision.cue
        chosen = decision.venue.hit or decision.street.hit
        tied = () if chosen else decision.venue.tied + decision.street.tied
        shown = chosen or (tied[0] if tied else None)  # the match the words and score are of
        if cue:
            words = " ".join(segments[cue.segment][cue.start : cue.end])
        elif shown:
            words = " ".join(segments[shown.segment][shown.start : shown.end])
        elif decision.rule == "chain":
            words = next(t for seg in segments for t in seg if t in _CHAIN_WORDS)
        else:
            words = None
        return Explanation(
            resolution.status,
            resolution.place_id,
            resolution.place_name,
            resolution.postcode_district,
            words,
            shown.score if shown else None,
            decision.rule,
            self._reason(decision, words),
            tuple(self._places[h.place].place_id for h in tied),
        )

    def _reason(self, decision: _Decision, words: str | None) -> str:
        """The rule that decided, in plain words, quoting the words that decided it."""
        rule = decision.rule
        if rule == "no text":
            return "there is no text"
        if rule == "full postcode":
            district = decision.resolution.postcode_district
            return f"a full postcode is how a home address is written: only its district, {district}, is kept"
        if rule == "nothing about where":
            cleaned = " ".join(t for seg in decision.segments for t in seg)
            return f"{cleaned!r} says nothing about where" if cleaned else "the text holds no words"
        if rule == "chain":
            return f"{words!r} is a chain's name: it cannot say which branch was meant"
        if rule == "no match":
            return (
                f"no words match a place name closely enough (score {self._cutoff:g} or more; "
                "a one-word name only where the text is about it)"
            )
        venues = [h for h in decision.hits if self._places[h.place].kind == "venue"]
        streets = [h for h in decision.hits if self._places[h.place].kind == "street"]
        if rule == "dwelling":
            outweighs = f"; that outweighs the venue also named, {self._named(venues)}" if venues else ""
            return f"{words!r} {decision.cue.says}{outweighs}"
        if rule == "several places":
            tied = "; ".join(self._named(c.tied) for c in (decision.venue, decision.street) if c.tied)
            return (
                f"{words!r} fits far-apart places ({tied}) that neither a street nor a district in the text tells apart"
            )
        choice = decision.venue if decision.venue.hit else decision.street
        place = self._places[choice.hit.place]
        reason = f"{words!r} matches the {place.kind} {place.name}"
        if choice.tied:  # a street or the district told the far-apart places called that apart
            if rule == "street tells apart":
                which = f"beside {self._named(self._beside(choice.hit.place, streets))}"
            else:
                which = f"in {place.district}, which the text names"
            reason += f"; of the far-apart places called that ({self._named(choice.tied)}), it is the one {which}"
        if place.kind == "venue" and streets and rule != "street tells apart":
            reason += f"; a venue wins over the street also named, {self._named(streets)}"
        if place.kind == "street" and decision.venue.tied:
            tied = self._named(decision.venue.tied)
            reason += f"; the venue name fits far-apart places ({tied}), so the street locates it"
        return reason

    def _named(self, hits: Iterable[_Hit]) -> str:
        """The hits' places, by name and id (two places may share a name)."""
        return ", ".join(f"{self._places[h.place].name} ({self._places[h.place].place_id})" for h in hits)

    @staticmethod
    def _prepare(text: str) -> tuple[list[list[str]], str | None, bool]:
        """The text's segments of words (phone numbers and postcodes removed), its postcode
        district and whether a full postcode was given: all that a Resolution depends on."""
        lowered = text.lower()
        if not DIGIT.search(lowered):
            return word_segments(lowered), None, False
        district, full_postcode = postcode_district_in_text(text)
        raw = PHONE_IN_TEXT.sub(" , ", lowered)
        raw = SOUTH_WALES_DISTRICT.sub(" , ", POSTCODE_IN_TEXT.sub(" , ", raw))
        return word_segments(raw), district, full_postcode

    @staticmethod
    def _without_matching(segments: list[list[str]], district: str | None, full_postcode: bool) -> Resolution | None:
        """The resolution of a text that needs no matching against place names, else None."""
        if full_postcode:  # a full postcode is how a home address is written
            return _unplaced("private", district)
        if all(t in _UNKNOWN or t in FILLERS for seg in segments for t in seg):
            return _unplaced("unlocated", district)
        return None

    def _resolve(
        self, text: str | None, cache: dict[str, list], prepared: tuple | None = None, windows: tuple | None = None
    ) -> Resolution:
        """cache: runs of words already scored; prepared: `_prepare(text)` and windows: its
        `_windows`, with every run in the cache, if already done."""
        return self._decide(text, cache, prepared, windows).resolution

    def _decide(
        self, text: str | None, cache: dict[str, list], prepared: tuple | None = None, windows: tuple | None = None
    ) -> _Decision:
        """The text's Resolution and what decided it (arguments as for `_resolve`). Resolving and
        explaining both come here, so an explanation is always of the resolution given."""
        if not isinstance(text, str):
            return _Decision(_unplaced("unlocated", None), "no text")
        segments, district, full_postcode = prepared or self._prepare(text)
        unmatched = self._without_matching(segments, district, full_postcode)
        if unmatched is not None:
            return _Decision(unmatched, "full postcode" if full_postcode else "nothing about where", segments)

        hits = self._match(segments, cache, windows)
        venues = [h for h in hits if self._places[h.place].kind == "venue"]
        streets = [h for h in hits if self._places[h.place].kind == "street"]
        # Words inside a matched name are not dwelling cues ("Cathays Beer House", "Blue House Road"),
        # but a street matched only fuzzily must not hide them ("her place" is not Herne Place).
        covered = {(h.segment, k) for h in hits for k in range(h.start, h.end) if h in venues or h.score == 100}
        strong, weak = _private_cues(segments, covered, {(h.segment, h.start): h.end for h in streets})
        cue = strong or (None if venues else weak)
        if cue:
            return _Decision(_unplaced("private", district), "dwelling", segments, hits, cue)

        if not hits and _CHAIN_WORDS.intersection(t for seg in segments for t in seg):
            return _Decision(_unplaced("ambiguous", district), "chain", segments)  # "spoons": which one?
        # A venue and a street together usually means "venue X on street Y": the venue wins, but
        # if the venue name is ambiguous the street still locates the assault.
        context = _Context(district, frozenset(t for seg in segments for t in seg))
        venue = self._pick(venues, streets, context)
        street = _NO_CHOICE if venue.hit else self._pick(streets, [], context)
        best = venue.hit or street.hit
        if best is None:
            status, rule = ("ambiguous", "several places") if hits else ("unlocated", "no match")
            return _Decision(_unplaced(status, district), rule, segments, hits, None, venue, street)
        place = self._places[best.place]
        resolution = Resolution(place.kind, place.place_id, place.name, place.latitude, place.longitude, district)
        return _Decision(resolution, venue.rule or street.rule, segments, hits, None, venue, street)

    def _score_runs(self, runs: Iterable[str], cache: dict[str, list]) -> None:
        """Score the runs of words not yet in the cache against every name, in vectorised
        calls: cache[run] = [(name index, score)] for scores at the cutoff or above, in name
        order. Runs are compared by length, each only with names of a length that could reach the
        cutoff."""
        by_length: dict[int, list[str]] = {}
        for run in runs:
            if run not in cache:
                by_length.setdefault(len(run), []).append(run)
                cache[run] = []
        for length, same_length in by_length.items():
            candidates = np.flatnonzero(may_reach_cutoff(length, self._key_lengths, self._cutoff))
            if not len(candidates):
                continue
            scores = process.cdist(
                same_length,
                [self._keys[k] for k in candidates],
                scorer=fuzz.ratio,
                score_cutoff=self._cutoff,
                dtype=np.uint8,
                workers=-1,
            )  # uint8 keeps nonzero() cheap
            for row, column in zip(*scores.nonzero()):
                cache[same_length[row]].append((int(candidates[column]), float(scores[row, column])))

    def _match(self, segments: list[list[str]], cache: dict[str, list], scored: tuple | None = None) -> list[_Hit]:
        """Every place whose name matches a run of words, minus those whose run lies inside a longer
        match ("bluebell" inside "Bluebell Drive", "mary street" inside "St Mary Street").
        `scored`: the segments' `_windows`, already in the cache (texts resolved together)."""
        if scored is None:
            scored = self._windows(segments)
            self._score_runs(scored[1], cache)
        spans, windows = scored
        raw: list[_Hit] = []
        for window, (s, i, j) in zip(windows, spans):
            # "the anchor" is no longer a match than "anchor": a leading "the" does not count.
            start = i + (segments[s][i] == "the" and j - i > 1)
            for k, score in cache[window]:
                if score == 100 or self._close_enough(segments[s][i:j], k):
                    raw.append(_Hit(self._owner[k][0], s, start, j, score, self._owner[k][1]))
        raw = [h for h in raw if not h.single or _in_context(segments[h.segment], h)]
        best: dict[int, _Hit] = {}  # each place's best match
        for h in sorted(raw, key=lambda h: (h.score, h.end - h.start)):
            best[h.place] = h
        hits = list(best.values())
        return [
            h
            for h in hits
            if not any(
                g.segment == h.segment and g.start <= h.start and h.end <= g.end and g.end - g.start > h.end - h.start
                for g in hits
            )
        ]

    def _windows(self, segments: list[list[str]]) -> tuple[list[tuple[int, int, int]], list[str]]:
        """Every run of words that may be a place name: its (segment, start, end) and its letters."""
        windows, spans = [], []
        for s, seg in enumerate(segments):
            for i, j, run in self._segment_runs(seg):
                windows.append(run)
                spans.append((s, i, j))
        return spans, windows

    def _segment_runs(self, seg: Sequence[str]) -> Iterator[tuple[int, int, str]]:
        """(start, end, letters) of each run of words in one segment that may be a place name."""
        for i, first in enumerate(seg):
            if first in FILLERS and first not in self._first_words:
                continue  # ...unless some name starts that way ("Corner House")
            run, plain = "", True
            for j in range(i, min(len(seg), i + self._max_window)):
                run += seg[j]
                plain = plain and (seg[j] in FILLERS or seg[j] in STREET_TYPES)
                if len(run) >= 4 and not plain:  # "in the street" must not match "Ethel Street"
                    yield i, j + 1, run

    def _close_enough(self, tokens: list[str], k: int) -> bool:
        """An inexact match must be long enough to tolerate a typo, and must hold without the street
        type: "park place" is not Parker Place, however alike the whole strings are."""
        window, key, name = "".join(tokens), self._keys[k], self._names[k]
        if min(len(window), len(key)) < EXACT_BELOW:
            return False
        typed = "".join(t for t in tokens if t not in STREET_TYPES)
        return name == key or fuzz.ratio(typed, name) >= self._cutoff

    def _pick(self, hits: list[_Hit], streets: list[_Hit], context: _Context) -> _Choice:
        """The best hit, or none when near-equal hits are far-apart (or unmapped) places that
        neither a street nor the district or locality in the text tells apart."""
        if not hits:
            return _NO_CHOICE
        best = max(hits, key=lambda h: (h.score, h.end - h.start, -h.place))
        rivals = [
            h
            for h in hits
            if h.place != best.place and h.score >= best.score - TIE_MARGIN and self._far(h.place, best.place)
        ]
        if not rivals:
            return _Choice(best, (), "best match")
        tied = (best, *rivals)
        if streets:  # "o'neills st mary st": the street says which O'Neills
            near = [h for h in tied if self._beside(h.place, streets)]
            if len(near) == 1:
                return _Choice(near[0], tied, "street tells apart")
        # "high st cf5", "high street llandaff": the district says which High Street
        named = [h for h in tied if context.names(self._places[h.place].district)]
        return _Choice(named[0], tied, "district tells apart") if len(named) == 1 else _Choice(None, tied, "")

    def _beside(self, place: int, streets: list[_Hit]) -> list[_Hit]:
        """The streets matched that pass close to a place (within half of FAR_METRES)."""
        return [s for s in streets if not self._far(place, s.place, FAR_METRES / 2)]

    def _far(self, a: int, b: int, metres: float = FAR_METRES) -> bool:
        pa, pb = self._places[a], self._places[b]
        if None in (pa.latitude, pa.longitude, pb.latitude, pb.longitude):
            return True
        return _metres(pa, pb) > metres


def may_reach_cutoff(length: int, lengths: np.ndarray, cutoff: float) -> np.ndarray:
    """Whether a string of `length` could reach `cutoff` in fuzz.ratio with strings of these
    lengths: the ratio is at most 200 * shorter / (sum of lengths). One point of margin for the
    rounding of scores."""
    return 200 * np.minimum(lengths, length) / (lengths + length) >= cutoff - 1


def _in_context(seg: list[str], hit: _Hit) -> bool:
    """A one-word name ("pitch", "pulse", "cottage") counts only when the text is about it:
    alone in its clause, after "outside"/"in"/..., before "bar"/"club", or before a street."""
    after = seg[hit.end] if hit.end < len(seg) else None
    if after in _PLACE_NOUNS:  # "church st", "railway station": the word names something else
        return False
    rest = [
        t
        for k, t in enumerate(seg)
        if not hit.start <= k < hit.end and t not in FILLERS and t not in _AREAS and t.isalpha()
    ]  # "henrys 2am", "broadway cardiff" are alone
    if not rest:
        return True
    before = [t for t in seg[: hit.start] if t != "the"]
    return (
        (bool(before) and before[-1] in _LOCATIVES)
        or after in _VENUE_WORDS
        or any(t in STREET_TYPES for t in seg[hit.end :])
    )
