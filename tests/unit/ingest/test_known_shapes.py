"""Location shapes resolved in earlier months are kept (by keyed digest, in the pseudonymised
zone) and not resolved again: the rows are the same as without them, the file holds no text of
the input, and it is only ever a shortcut (another key, version or a damaged file: start afresh)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anonymise.keys import derive_known_shapes_key
from anonymise.known_shapes import KnownShapes, shape_digests
from anonymise.leaks import LeakScanner
from anonymise.locate import Resolution, clean
from anonymise.locate_batches import LocationResolver, ResolutionMemo, text_shapes
from anonymise.reference import gazetteer
from anonymise.scan import scan_path
from benchmarks.locations import load_labelled
from ingest.delivery import accept_delivery
from ingest.known_shapes import KnownShapesFile, matcher_version
from ingest.parse import parse_extract
from ingest.pseudonymise import pseudonymise_file
from ingest.steps import parse_month, pseudonymise_month
from pipelines.lib.leak_checks import public_text
from pipelines.synthetic import generate_month
from schemas import schema_for_source
from sharing_agreements.retention import plan_retention
from tests.unit.anonymise.test_apply_rules import AGREEMENT, _keys

KEY = derive_known_shapes_key(b"k" * 32)
MONTH = dt.date(2026, 10, 1)
PLACE_COLUMNS = ["place_status", "place_id", "place_name", "cell_id"]
# Planted in the free text: names and an address, with and without digits (a shape holding a
# house number is kept, one holding a phone number or postcode is resolved text by text).
PLANTED = [
    "outside Zebedee Quartermaine's house",
    "at Philippa Thistlewood's flat, 14 Quillfeather Mews",
    "near 7 Quillfeather Mews, Zebedee Quartermaine",
    "Zebedee Quartermaine 07700 900461 CF24 4HU",
]
PLANTED_WORDS = ["Zebedee", "Quartermaine", "Philippa", "Thistlewood", "Quillfeather"]


@pytest.fixture(scope="module")
def resolver() -> LocationResolver:
    return LocationResolver(gazetteer())


@pytest.fixture(scope="module")
def typed(tmp_path_factory):
    """A synthetic ED month's typed rows, a planted text in every twentieth row, in 8 row groups
    (enough for two worker processes to take one each in turn)."""
    folder = tmp_path_factory.mktemp("month")
    paths = generate_month(f"{MONTH:%Y-%m}", folder, seed=5, ed_rows=1200, police_rows=10, bad_rows=False)
    typed = folder / "ed_typed.parquet"
    parse_extract(paths["ed"], schema_for_source("ed"), MONTH, typed, now=dt.datetime(2026, 11, 5))
    rows = pq.read_table(typed)
    texts = rows.column("assault_location_description").to_pylist()
    texts[::20] = [PLANTED[n % len(PLANTED)] for n in range(len(texts[::20]))]
    column = rows.schema.get_field_index("assault_location_description")
    rows = rows.set_column(column, "assault_location_description", pa.array(texts, pa.string()))
    pq.write_table(rows, typed, row_group_size=150)
    return typed


def _pseudonymised(typed, out, resolver, batch_rows=400, **options):
    keys = _keys(AGREEMENT.rules_for("ed"))
    result = pseudonymise_file(typed, out, "ed", AGREEMENT, keys, resolver, batch_rows=batch_rows, **options)
    return result, pd.read_parquet(out)


@pytest.fixture(scope="module")
def alone(typed, resolver, tmp_path_factory) -> pd.DataFrame:
    """The month's rows pseudonymised without known shapes."""
    return _pseudonymised(typed, tmp_path_factory.mktemp("alone") / "alone.parquet", resolver)[1]


def test_a_month_resolved_with_known_shapes_is_the_month_resolved_without(typed, resolver, alone, tmp_path):
    known = KnownShapesFile(tmp_path / "_locations" / f"{matcher_version(resolver)}.parquet", KEY)
    first, learning = _pseudonymised(typed, tmp_path / "first.parquet", resolver, known_shapes=known)
    second, knowing = _pseudonymised(typed, tmp_path / "second.parquet", resolver, known_shapes=known)
    assert first.shapes_learned == len(known.load()) > 100 and second.shapes_learned == 0
    assert alone[PLACE_COLUMNS].notna().any().all()  # every place column has values to compare
    pd.testing.assert_frame_equal(learning, alone)
    pd.testing.assert_frame_equal(knowing, alone)
    assert (first.counts, second.counts) == (first.counts, first.counts)


def test_worker_processes_read_the_known_shapes_and_hand_back_what_they_learn(typed, resolver, alone, tmp_path):
    known = KnownShapesFile(tmp_path / "known.parquet", KEY)
    first, learning = _pseudonymised(
        typed,
        tmp_path / "first.parquet",
        resolver,
        batch_rows=150,
        processes=2,
        known_shapes=known,
        rows_per_worker=600,
    )
    assert first.processes == 2 and first.shapes_learned == len(known.load()) > 100
    # Shapes the workers learned are those one process learns: known, none is learned again.
    second, knowing = _pseudonymised(typed, tmp_path / "second.parquet", resolver, known_shapes=known)
    assert second.shapes_learned == 0
    pd.testing.assert_frame_equal(learning, alone)
    pd.testing.assert_frame_equal(knowing, alone)


def test_known_shapes_give_each_labelled_text_its_own_resolution(resolver):
    """The labelled set, with house numbers, cases and punctuation changed: a text whose shape
    is known resolves as it resolves alone."""
    texts = [row["text"] for row in load_labelled()]
    texts += [t.upper() for t in texts] + [f"near {n} {t}" for n, t in enumerate(texts)] + [None, "", "n/k"]
    memo = ResolutionMemo(known=KnownShapes(KEY))
    alone = resolver.resolve_many(texts)
    assert resolver.resolve_many(texts, memo) == alone
    learned = memo.known.take_learned()
    assert len(learned) > 100
    digests = np.array(sorted(learned), dtype=np.uint64)
    resolutions = list(dict.fromkeys(learned.values()))
    position = {resolution: n for n, resolution in enumerate(resolutions)}
    known = KnownShapes(
        KEY,
        digests[:, 0],
        digests[:, 1],
        np.array([position[learned[tuple(d)]] for d in digests.tolist()], dtype=np.int32),
        resolutions,
    )
    warm = ResolutionMemo(known=known)
    assert resolver.resolve_many(texts, warm) == alone
    assert not warm.known.learned  # every definite shape was known
    # Only shapes whose texts all resolve alike are known: none that holds a postcode or phone.
    shapes = text_shapes(pa.array([t for t in texts if t], pa.string())).dictionary.to_pylist()
    recalled = known.recall(shape_digests(KEY, shapes))
    assert {s for s, r in zip(shapes, recalled) if r is None} == {s for s, r in warm.by_shape.items() if r is None}


def test_a_known_shape_is_taken_from_the_file_not_resolved_again(resolver):
    wrong = Resolution("venue", "venue:elsewhere", "Somewhere Else", 51.5, -3.2, None)
    digest = shape_digests(KEY, ["outside kapu"])
    known = KnownShapes(KEY, digest[:, 0], digest[:, 1], np.array([0], dtype=np.int32), [wrong])
    assert resolver.resolve_many(["O/S KAPU"], ResolutionMemo(known=known)) != [wrong]  # another shape
    assert resolver.resolve_many(["Outside Kapu"], ResolutionMemo(known=known)) == [wrong]
    # Under another key the digest is not the shape's.
    other = dataclasses.replace(known, key=derive_known_shapes_key(b"o" * 32))
    assert resolver.resolve_many(["Outside Kapu"], ResolutionMemo(known=other)) != [wrong]


@pytest.mark.parametrize("key", [KEY, b"", b"k" * 64, b"long" * 40])
def test_digests_are_hmac_sha256_of_the_shape_cut_to_16_bytes(key):
    shapes = ["near 00 castle street", "", "outside caf\u00e9 00", "x" * 300]
    digests = [hmac.digest(key, shape.encode(), "sha256")[:16] for shape in shapes]
    expected = [[int.from_bytes(d[:8], "big"), int.from_bytes(d[8:], "big")] for d in digests]
    assert shape_digests(key, shapes).tolist() == expected
    assert shape_digests(key, []).shape == (0, 2)


def test_the_file_holds_no_text_of_the_input_and_the_leak_scanner_finds_nothing(typed, resolver, tmp_path):
    known = KnownShapesFile(tmp_path / "_locations" / f"{matcher_version(resolver)}.parquet", KEY)
    _pseudonymised(typed, tmp_path / "out.parquet", resolver, known_shapes=known)
    data = known.path.read_bytes()
    texts = pq.read_table(typed, columns=["assault_location_description"]).column(0)
    shapes = text_shapes(texts).dictionary.to_pylist()
    # The memo knows shapes of planted texts (with their house number written 0) ...
    recalled = known.load().recall(shape_digests(KEY, [PLANTED[0].lower(), PLANTED[2].lower().replace("7", "0")]))
    assert None not in recalled
    # ... yet no text, shape or planted word is in it; gazetteer names are (public, and what the
    # pseudonymised rows hold too), so only texts that are not one are looked for.
    public = "\n".join(clean(name) for name in public_text())
    distinct = {t for t in texts.unique().to_pylist() if t} | set(shapes)
    private = [t for t in distinct if clean(t) not in public]
    assert len(private) > 100
    assert [t for t in private if t.encode() in data] == []
    assert [w for w in PLANTED_WORDS if w.encode() in data or w.lower().encode() in data] == []
    # The leak scanner, told the planted names and address as a month's identifiers, finds
    # nothing in the file (and does find them in the typed rows).
    scanner = LeakScanner(known_identifiers=[*PLANTED_WORDS, "Quillfeather Mews"], allowed_text=public_text())
    assert scan_path(known.path, scanner) == []
    assert {f.kind for _, f in scan_path(typed, scanner)} >= {"known_identifier", "phone", "postcode"}


def test_a_file_under_another_key_or_damaged_starts_afresh(typed, resolver, tmp_path):
    known = KnownShapesFile(tmp_path / "known.parquet", KEY)
    _pseudonymised(typed, tmp_path / "out.parquet", resolver, known_shapes=known)
    held = len(known.load())
    rotated = KnownShapesFile(known.path, derive_known_shapes_key(b"r" * 32))
    assert len(rotated.load()) == 0
    assert rotated.save({(1, 2): Resolution("unlocated", None, None, None, None, None)}) == 1  # replaced
    assert len(known.load()) == 0 and len(rotated.load()) == 1
    known.path.write_bytes(b"not parquet")
    result, _ = _pseudonymised(typed, tmp_path / "out.parquet", resolver, known_shapes=known)
    assert result.shapes_learned == held == len(known.load())
    assert [p.name for p in known.path.parent.iterdir() if p.name.endswith(".partial")] == []


def test_saving_adds_to_what_the_file_knows_and_removes_other_versions(tmp_path):
    folder = tmp_path / "_locations"
    stale = folder / "0123456789abcdef.parquet"
    known = KnownShapesFile(folder / "fedcba9876543210.parquet", KEY)
    street = Resolution("street", "street:caroline-street", "Caroline Street", 51.478, -3.176, None)
    private = Resolution("private", None, None, None, None, None)
    KnownShapesFile(stale, KEY).save({(5, 5): private})
    assert known.save({(3, 1): street, (1, 9): private}) == 2
    assert known.save({(2, 0): street, (1, 9): private}) == 3  # a shape learned twice is kept once
    loaded = known.load()
    assert (loaded.high.tolist(), loaded.low.tolist()) == ([1, 2, 3], [9, 0, 1])  # sorted, to be searched
    assert loaded.recall(np.array([[2, 0], [3, 1], [1, 9], [3, 0]], dtype=np.uint64)) == [street, street, private, None]
    assert not stale.exists()


def test_the_step_keeps_them_in_the_pseudonymised_zone_where_retention_leaves_them(istv_home, resolver, tmp_path):
    delivered = generate_month(f"{MONTH:%Y-%m}", tmp_path, seed=2, ed_rows=60, bad_rows=False)["ed"]
    accept_delivery(istv_home, "ed", delivered, None, AGREEMENT, lambda *_: None)
    parse_month(istv_home, "ed", MONTH, lambda: None, lambda *_: None)

    def pseudonymise(known_shapes_key=None):
        keys = _keys(AGREEMENT.rules_for("ed"))
        arguments = (istv_home, "ed", MONTH, AGREEMENT, keys, "key id", resolver, lambda *_: None)
        pseudonymise_month(*arguments, known_shapes_key=known_shapes_key)
        return pd.read_parquet(istv_home.pseudonymised_file("ed", MONTH))

    alone = pseudonymise()
    path = istv_home.known_shapes_file(matcher_version(resolver))
    assert not path.parent.exists()
    pd.testing.assert_frame_equal(pseudonymise(KEY), alone)
    assert path.parent == istv_home.pseudonymised / "_locations" and len(KnownShapesFile(path, KEY).load()) > 10
    pd.testing.assert_frame_equal(pseudonymise(KEY), alone)

    class NoRuns:
        def runs_updated_before(self, cutoff):
            return []

    far = dt.date.today() + dt.timedelta(days=365 * 50)
    due = [d.path for d in plan_retention(istv_home, AGREEMENT.retention, far, NoRuns()).due]
    assert istv_home.pseudonymised_file("ed", MONTH) in due
    assert [p for p in due if path.parent in (p, *p.parents)] == []


def test_the_version_changes_with_the_places_and_the_cutoff(resolver):
    places = gazetteer()
    moved = dataclasses.replace(places[0], latitude=(places[0].latitude or 0) + 0.001)
    assert matcher_version(LocationResolver(places[:50])) == matcher_version(LocationResolver(places[:50]))
    assert matcher_version(LocationResolver((moved, *places[1:50]))) != matcher_version(LocationResolver(places[:50]))
    assert matcher_version(LocationResolver(places[:50], 85)) != matcher_version(LocationResolver(places[:50]))


def test_the_key_is_for_this_purpose_alone():
    from anonymise.keys import derive_disclosure_key, derive_field_key

    master = os.urandom(32)
    key = derive_known_shapes_key(master)
    assert len(key) == 32 and key == derive_known_shapes_key(master)
    assert key not in {derive_field_key(master, AGREEMENT.id, 1, "person"), derive_disclosure_key(master, "x", "y")}
