"""Resolving receptionists' free-text assault locations (anonymise.locate)."""

from __future__ import annotations

import csv
import dataclasses
import inspect
import random
import time

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import anonymise.locate as locate
from anonymise.gazetteer import Place
from anonymise.locate import Resolution, clean, postcode_district_in_text
from anonymise.locate_batches import LocationResolver, ResolutionMemo, _digits_as_zeros
from anonymise.reference import gazetteer
from benchmarks.locations import load_labelled, score
from tests.conftest import REPO, cut_from_a_row_group

LABELLED = REPO / "tests" / "data" / "locations_labelled.csv"


@pytest.fixture(scope="module")
def resolver() -> LocationResolver:
    return LocationResolver(gazetteer())


# ---- cleaning and abbreviations ----
@pytest.mark.parametrize(
    "text, cleaned",
    [
        ("O/S The Prince of Wales", "outside the prince of wales"),
        ("nr KAPU, St. Mary's St", "near kapu saint marys street"),
        ("o/s kapu st mary st", "outside kapu saint mary street"),  # no comma: still Saint then Street
        ("opp bus stn, Caroline St", "opposite bus station caroline street"),
        ("pts flat 3, 45 Richmond Rd", "patients flat 3 45 richmond road"),
        ("cathays tce", "cathays terrace"),
        ("Cowbridge Rd East", "cowbridge road east"),
        ("albany ave / penylan ln", "albany avenue penylan lane"),
        ("loudoun sq", "loudoun square"),
        ("pt assaulted in cc", "patient assaulted in city centre"),
        ("st fagans", "saint fagans"),
        ("Pen-Y-Lan Road", "pen y lan road"),
        ("Slug & Lettuce", "slug and lettuce"),
        ("O'Neills", "oneills"),
        ("n/k", "unknown"),
        ("  lots   of\tspace  ", "lots of space"),
    ],
)
def test_clean(text, cleaned):
    assert clean(text) == cleaned


def test_gazetteer_names_and_typed_text_normalise_alike():
    assert clean("St Mary Street") == clean("st mary st") == clean("ST. MARY ST")
    assert clean("St David'S Road") == clean("st davids rd")  # the gazetteer's odd title-casing


# ---- postcodes ----
@pytest.mark.parametrize(
    "text, expected",
    [
        ("CF24 3AS", ("CF24", True)),
        ("home cf243as", ("CF24", True)),
        ("cf105bz", ("CF10", True)),
        ("flat 2 cf5 5lq", ("CF5", True)),
        ("kapu cf10", ("CF10", False)),
        ("near cf3, by the a48", ("CF3", False)),
        ("on the m4", (None, False)),  # a motorway, not the Manchester district
        ("nq64 2am", (None, False)),  # a bar and a time: no inward code ends in M
        ("call 07700 900123", (None, False)),
        ("tel 029 2087 1234", (None, False)),
        ("queen st", (None, False)),
    ],
)
def test_postcode_district(text, expected):
    assert postcode_district_in_text(text) == expected


def test_full_postcode_is_private_and_kept_only_to_district(resolver):
    r = resolver.resolve("pts home address CF24 3AS")
    assert r == Resolution("private", None, None, None, None, "CF24")
    assert resolver.resolve("cf243as").status == "private"


def test_district_alone_keeps_the_place(resolver):
    r = resolver.resolve("kapu cf10")
    assert (r.status, r.place_id, r.postcode_district) == ("venue", "venue:102758", "CF10")


# ---- venues and streets ----
@pytest.mark.parametrize(
    "text, place_id",
    [
        ("o/s kapu st mary st", "venue:102758"),  # venue beats the street it stands on
        ("O/S THE PRINCE OF WALES", "venue:104233"),
        ("prince of whales", "venue:104233"),  # typo
        ("slug n lettuce", "venue:103763"),
        ("pop world", "venue:103485"),  # split word
        ("pryzm", "venue:103526"),  # "Pryzm and Steinbeck"
        ("yates", "venue:104569"),  # "Yates Cardiff /Loco Loco /El Rodeo /..."
        ("crwys road bar", "venue:102085"),
        ("crwys rd", "street:crwys-road"),  # ...but the street is not the bar
        ("o/s bluebell", "venue:101629"),
        ("bluebell drive", "street:bluebell-drive"),  # a name inside a longer match is dropped
        ("st marys st", "street:st-mary-street"),
        ("mary st", "street:mary-street"),
        ("cathays beer house", "venue:101854"),  # "house" in a name is not a dwelling
        ("blue house road", "street:blue-house-road"),
        ("o/s public house on city rd", "street:city-road"),
        ("walking home along queen st", "street:queen-street"),
        ("oneills st mary st", "venue:103322"),  # the street says which of two O'Neills
        ("cottage, st mary st", "venue:102055"),
    ],
)
def test_resolves_places(resolver, text, place_id):
    r = resolver.resolve(text)
    place = next(p for p in gazetteer() if p.place_id == place_id)
    assert r == Resolution(place.kind, place_id, place.name, place.latitude, place.longitude, None)


# ---- private dwellings ----
@pytest.mark.parametrize(
    "text",
    [
        "at home",
        "pts home",
        "his flat",
        "friends house",
        "friend's house",
        "at mums",
        "outside Dave's house",
        "house party nr the woodville",
        "flat above kapu",
        "her place",
        "in the kitchen",
        "back garden",
        "bedroom",
        "residence",
        "12 cathays terrace",
        "flat 3 45 richmond rd",
        "21a glenroy st",
        "8 heol hir",
        "12 St Mary Street",
    ],
)
def test_private(resolver, text):
    assert resolver.resolve(text) == Resolution("private", None, None, None, None, None)


def test_venue_outweighs_a_weak_dwelling_cue(resolver):
    # Receptionists rarely type a venue's number, so a number beside a venue is not a home address.
    assert resolver.resolve("kapu 50 st mary st").status == "venue"
    assert resolver.resolve("beer garden of the woodville").status == "venue"
    assert resolver.resolve("2 men on queen street").status == "street"  # a count, not a house number


@pytest.mark.parametrize(
    "text",
    [
        "outside Dave Pritchard's house 07700 900123 CF24 3AS",
        "o/s kapu, call Sian Evans on 07911 123456",
        "Rhodri Jones, 14 Clive St, tel 029 2087 1234",
        "Dave Smith 07700900123",
    ],
)
def test_resolution_never_carries_input_text(resolver, text):
    r = resolver.resolve(text)
    fields = " ".join(str(v) for v in dataclasses.astuple(r)).lower() + repr(r).lower()
    for word in ("dave", "pritchard", "sian", "evans", "rhodri", "jones", "smith", "clive st"):
        assert word not in fields
    for digits in ("07700", "900123", "07911", "123456", "2087", "1234", "3as"):
        assert digits not in fields
    assert r.postcode_district in (None, "CF24")


# ---- ambiguity ----
@pytest.mark.parametrize("text", ["o'neills", "the cottage", "hollybush", "lewis arms", "spoons"])
def test_ambiguous(resolver, text):
    assert resolver.resolve(text) == Resolution("ambiguous", None, None, None, None, None)


def _venue(place_id, name, lat, lon):
    return Place(place_id, "venue", name, lat, lon)


def test_same_name_same_point_is_not_ambiguous():
    places = [_venue("v:1", "The Anchor", 51.4800, -3.1800), _venue("v:2", "Anchor", 51.4802, -3.1801)]
    assert LocationResolver(places).resolve("o/s the anchor").place_id == "v:1"


@pytest.mark.parametrize("far", [(51.4900, -3.1800), (None, None)])
def test_same_name_far_apart_or_unmapped_is_ambiguous(far):
    places = [_venue("v:1", "The Anchor", 51.4800, -3.1800), _venue("v:2", "Anchor", *far)]
    assert LocationResolver(places).resolve("o/s the anchor").status == "ambiguous"


# ---- unlocated and generic words ----
@pytest.mark.parametrize(
    "text",
    [
        None,
        float("nan"),
        "",
        "   ",
        "unknown",
        "UNKNOWN",
        "n/k",
        "N/A",
        "?",
        "not stated",
        "can't remember",
        "pt unsure",
        "road",
        "street",
        "the",
        "bar",
        "club",
        "pub",
        "st",
        "in the street",
        "in town",
        "city centre",
        "on football pitch",
        "no pulse",
        "tiger tiger",
    ],
)
def test_unlocated(resolver, text):
    assert resolver.resolve(text).status == "unlocated"


# ---- resolve_many ----
def _count_resolutions(monkeypatch) -> list:
    """Record every text the resolver really works on (cache misses)."""
    calls = []
    original = LocationResolver._resolve

    def counting(self, text, *args):
        calls.append(text)
        return original(self, text, *args)

    monkeypatch.setattr(LocationResolver, "_resolve", counting)
    return calls


def test_resolve_many_keeps_order_and_resolves_each_text_once(resolver, monkeypatch):
    texts = ["kapu", None, "at home", "kapu", float("nan"), "crwys rd", "at home", None]
    expected = [resolver.resolve(t) for t in texts]
    calls = _count_resolutions(monkeypatch)
    assert resolver.resolve_many(texts) == expected
    assert sorted(calls, key=str) == sorted(["kapu", None, "at home", "crwys rd"], key=str)


def test_a_memo_carries_resolutions_across_calls(resolver, monkeypatch):
    texts = ["kapu", "at home", "12 cathays tce", "crwys rd", "KAPU", "14 Cathays Tce", None]
    expected = resolver.resolve_many(texts)
    calls = _count_resolutions(monkeypatch)
    memo = ResolutionMemo()
    assert resolver.resolve_many(texts[:3], memo) + resolver.resolve_many(texts[3:], memo) == expected
    assert sorted(calls, key=str) == sorted(["kapu", "at home", "12 cathays tce", "crwys rd", None], key=str)


def test_a_memo_forgets_texts_beyond_its_limit_and_resolves_alike(resolver):
    texts = ["kapu", "at home", "12 cathays tce", "crwys rd", "KAPU", "14 Cathays Tce", None, "o/s kapu"]
    memo = ResolutionMemo(max_texts=3)
    got = [r for start in range(0, len(texts), 2) for r in resolver.resolve_many(texts[start : start + 2], memo)]
    assert got == resolver.resolve_many(texts)
    assert len(memo.by_text) <= 3


@pytest.mark.slow
def test_resolve_many_is_fast(resolver):
    names = [p.name.lower() for p in gazetteer()]
    distinct = [f"o/s {names[i % len(names)]} {i}" for i in range(2000)]
    rows = [distinct[(i * 7919) % len(distinct)] for i in range(40_000)]
    started = time.perf_counter()
    assert len(resolver.resolve_many(rows)) == len(rows)
    assert time.perf_counter() - started < 20


def test_module_is_pure():
    source = inspect.getsource(locate)
    for forbidden in ("import logging", "dagster", "open(", "print("):
        assert forbidden not in source


# ---- the hand-labelled set ----
def test_labelled_set(resolver):
    rows = load_labelled()
    assert len(rows) >= 300
    scores = score(resolver, rows)
    for status, (precision, recall) in scores.items():
        print(f"{status:10} precision {precision:.3f} recall {recall:.3f}")
    assert scores["venue"][0] >= 0.9 and scores["venue"][1] >= 0.8
    assert scores["private"][0] >= 0.9 and scores["private"][1] >= 0.9


# ---- resolve_many's canonical cache (texts differing only in house numbers share a result) ----
def _synthetic_texts(count: int) -> list[str]:
    from pipelines.synthetic import generate_frames

    ed, _ = generate_frames("2025-03", seed=11, ed_rows=count)
    return ed["ASSAULT LOCATION DESCRIPTION"].tolist()[:count]


def test_resolve_many_equals_resolving_each_text(resolver):
    with LABELLED.open(newline="") as fh:
        labelled = [row["text"] for row in csv.DictReader(fh)]
    tricky = [
        "a 4054",
        "a 469",
        "bar 1055",
        "12 bar 105",
        "lab 22",
        "par 59 club",
        "o/s 12 kapu",
        "14 o/s kapu",
        "flat 3, 45 richmond rd",
        "12a cathays tce",
        "14b cathays tce",
        "07700 900123 kapu",
        "cf24 3as 12 kapu",
        "nr 12 st mary st",
        "4th glamorgan home guard",
        "5th glamorgan home guard club",
        None,
        float("nan"),
        "",
        "12",
        "123 456",
    ]
    texts = labelled + _synthetic_texts(2000) + tricky
    many = resolver.resolve_many(texts)
    for text, got in zip(texts, many):
        want = resolver.resolve(text)
        for f in dataclasses.fields(Resolution):
            assert getattr(got, f.name) == getattr(want, f.name), (text, f.name)


def _with_other_digits(text: str, rng: random.Random) -> str:
    return "".join(str(rng.randrange(10)) if c.isdigit() else c for c in text)


def test_texts_of_one_shape_resolve_as_each_would_alone(resolver):
    # A shape (digits written 0) is resolved once for all its texts: digits put back at random,
    # in police and ED texts and in near misses of names with digits, phones and postcodes.
    from pipelines.synthetic import generate_frames

    ed, police = generate_frames("2025-03", seed=5, ed_rows=200)
    rng = random.Random(7)
    tricky = [
        "bar 1055",
        "near bar 1234",
        "a 4054 nr kapu",
        "lab 22 flat 3",
        "o/s 4th glamorgan",
        "0770 090 0123 kapu",
        "+44 7700 900123 o/s kapu",
        "cf24 kapu",
        "cf99 kapu",
        "sa1 5aa",
        "flat 6, 178 seager drive, cardiff",
        "near 86 castle street",
        "12-34 st mary st",
        "m4 j32",
    ]
    seeds = [
        t
        for t in [*police["LOCATION"], *ed["ASSAULT LOCATION DESCRIPTION"], *tricky]
        if isinstance(t, str) and any(c.isdigit() for c in t)
    ]
    texts = [variant for t in seeds for variant in [t] + [_with_other_digits(t, rng) for _ in range(3)]]
    memo = ResolutionMemo()
    many = [r for start in range(0, len(texts), 500) for r in resolver.resolve_many(texts[start : start + 500], memo)]
    assert many == [resolver.resolve(t) for t in texts]
    assert sum(r is not None for r in memo.by_shape.values()) > 100  # shapes were shared


def test_a_shape_is_resolved_once_unless_its_digits_could_matter(resolver, monkeypatch):
    calls = _count_resolutions(monkeypatch)
    alike = ["near 12 castle street", "NEAR 86 CASTLE STREET", "near 40 castle street"]
    differ = ["bar 1055", "bar 1234", "cf24 kapu", "cf99 kapu"]
    results = resolver.resolve_many(alike + differ)
    assert len(calls) == 1 + len(differ)
    assert len(set(results[:3])) == 1
    assert results[3:] == [resolver.resolve(t) for t in differ]
    assert results[5].postcode_district == "CF24" and results[6].postcode_district == "CF99"


def test_a_slice_of_a_column_resolves_as_its_texts(resolver):
    texts = ["skip me", "near 12 castle street", "KAPU, CAROLINE STREET", "o/s 14 kapu"]
    memo = ResolutionMemo()
    found, rows = resolver.resolve_rows(cut_from_a_row_group(texts), memo)
    assert [found[r] for r in rows] == [resolver.resolve(t) for t in texts[1:]]
    assert sorted(memo.by_shape) == ["kapu, caroline street", "near 00 castle street", "o/s 00 kapu"]


def test_digits_are_written_zero_byte_by_byte_as_a_regular_expression_would():
    rng = random.Random(7)
    alphabet = "0123456789 abc/,É€٣\u00e9"  # non-ASCII letters and a non-ASCII digit (٣) stay as they are
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(12))) for _ in range(500)]
    with_missing = pa.array([None if n % 7 == 0 else t for n, t in enumerate(texts)], pa.string())
    columns = [
        with_missing,
        with_missing.slice(3, 400),
        with_missing.cast(pa.large_string()).slice(5),
        cut_from_a_row_group(texts),
        pa.array([None, None], pa.string()),
        pa.array([""], pa.string()),
        pa.array([], pa.string()),
    ]
    for texts in columns:
        assert _digits_as_zeros(texts).equals(pc.replace_substring_regex(texts, "[1-9]", "0"))


def test_house_numbers_share_one_resolution(resolver, monkeypatch):
    calls = _count_resolutions(monkeypatch)
    texts = ["12 cathays tce", "14 cathays tce", "98 cathays tce", "12a cathays tce", "14b cathays tce"]
    results = resolver.resolve_many(texts)
    assert len(calls) == 3  # "12"/"14"/"98" once, "12a" and "14b" (letters are kept)
    assert len(set(results)) == 1


def test_numbers_in_place_names_are_not_shared(resolver):
    # "105" is part of "Bar 105": "bar 105" and "bar 106" must not share a resolution blindly.
    forms = resolver._forms({t: resolver._prepare(t) for t in ("bar 105", "bar 106")})
    assert forms["bar 105"] != forms["bar 106"]
    texts = ["a 4054", "a 4055", "bar 105", "bar 1055", "lab 22", "lab 23"]
    assert resolver.resolve_many(texts) == [resolver.resolve(t) for t in texts]


# ---- explanations (PlaceMatcher.explain, for `istv locate`) ----
def test_explain_agrees_with_resolve_on_the_labelled_set(resolver):
    rules = set()
    for row in load_labelled():
        explanation, resolution = resolver.explain(row["text"]), resolver.resolve(row["text"])
        explained = (explanation.status, explanation.place_id, explanation.place_name, explanation.postcode_district)
        assert explained == (
            resolution.status,
            resolution.place_id,
            resolution.place_name,
            resolution.postcode_district,
        )
        assert explanation.reason, row["text"]
        rules.add(explanation.rule)
    assert len(rules) >= 8  # the set exercises nearly every rule, not just the best match


@pytest.mark.parametrize(
    "text, status, rule, words, reason",
    [
        ("o/s kapu st mary st", "venue", "best match", "kapu", "a venue wins over the street also named, St Mary"),
        ("crwys rd", "street", "best match", "crwys road", "'crwys road' matches the street Crwys Road"),
        ("oneills st mary st", "venue", "street tells apart", "oneills", "the one beside St Mary Street"),
        ("o'neills, queen st", "street", "best match", "queen street", "so the street locates it"),
        ("at home", "private", "dwelling", "home", "'home' says it happened at a home"),
        (
            "house party nr the woodville",
            "private",
            "dwelling",
            "house",
            "outweighs the venue also named, The Woodville",
        ),
        ("12 cathays tce", "private", "dwelling", "12 cathays terrace", "is a house number and street"),
        ("in the kitchen", "private", "dwelling", "kitchen", "and no venue is named"),
        ("pts home address CF24 3AS", "private", "full postcode", None, "only its district, CF24, is kept"),
        ("o'neills", "ambiguous", "several places", "oneills", "O'Neills (venue:103321), O'Neills (venue:103322)"),
        ("spoons", "ambiguous", "chain", "spoons", "'spoons' is a chain's name"),
        ("n/k", "unlocated", "nothing about where", None, "'unknown' says nothing about where"),
        ("tiger tiger", "unlocated", "no match", None, "no words match a place name closely enough"),
        (None, "unlocated", "no text", None, "there is no text"),
    ],
)
def test_explain_says_what_decided(resolver, text, status, rule, words, reason):
    explanation = resolver.explain(text)
    assert (explanation.status, explanation.rule, explanation.words) == (status, rule, words)
    assert reason in explanation.reason
    assert (explanation.score is None) == (status in ("private", "unlocated") or rule == "chain")


def test_explain_names_the_places_an_ambiguous_text_may_mean(resolver):
    assert resolver.explain("o'neills").candidates == ("venue:103321", "venue:103322")
    assert resolver.explain("o'neills st mary st").candidates == ()  # told apart: no candidates


def test_explain_says_when_the_district_tells_places_apart():
    places = [
        Place("v:1", "venue", "The Anchor", 51.4800, -3.1800, "CF10"),
        Place("v:2", "venue", "Anchor", 51.4900, -3.1800, "CF5"),
    ]
    explanation = LocationResolver(places).explain("o/s the anchor cf5")
    assert (explanation.status, explanation.place_id, explanation.rule) == ("venue", "v:2", "district tells apart")
    assert "it is the one in CF5, which the text names" in explanation.reason


@pytest.mark.parametrize(
    "text",
    [
        "outside Dave Pritchard's house 07700 900123 CF24 3AS",
        "o/s kapu, call Sian Evans on 07911 123456",
        "Dave Smith 07700900123",
    ],
)
def test_explain_never_quotes_phone_numbers_or_postcodes(resolver, text):
    # Quoting the text back is the point of an explanation, but phone numbers and postcodes are
    # cut out before matching, so they are never among the words that decided.
    explained = repr(resolver.explain(text)).lower()
    for digits in ("07700", "900123", "07911", "123456", "3as"):
        assert digits not in explained
