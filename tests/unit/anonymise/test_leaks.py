"""The leak scanner: each detector catches planted identifiers without ever reporting them, and
pseudonyms, H3 cells, codes, month keys and counts pass clean."""

from __future__ import annotations

import datetime as dt
import pickle
import random

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from anonymise.generalise import spatial_cells
from anonymise.leaks import KINDS, Finding, LeakScanner
from anonymise.nhs_number import is_valid_nhs_number
from anonymise.pseudonyms import pseudonymise
from anonymise.scan import scan_path

KNOWN = ["EDPLANT7731", "Zebedee Quartermaine", "SW/888777/26", "Philippa Thistlewood"]
VENUE = "The Prince of Wales Wetherspoon"

# kind -> (planted values, each a leak; look-alikes that are not)
PLANTED = {
    "nhs_number": (
        ["943 476 5919", "9434765919", "943-476-5919", "NHS no 4010232137 seen"],
        ["9434765918", "943 476 591", "ref 94347659190"],
    ),
    "postcode": (["CF24 4HU", "cf244hu", "SW1A 1AA", "lives at EC1A 1BB"], ["CF24", "CF10", "SW1A", "nq64 2am"]),
    "phone": (
        ["07700 900461", "07700900461", "+44 7700 900461", "029 2074 7747", "(029) 2074 7747"],
        ["0770", "12345", "07700 9004"],
    ),
    "email": (["zq@example.org", "contact first.last+ed@nhs.wales.uk now"], ["@home", "user@localhost"]),
    "date_of_birth": (["17/04/1987", "1987-04-17", "17.4.87", "dob 17 April 1987"], ["20-24", "2018-10", "1987"]),
    "known_identifier": (
        [
            "EDPLANT7731",
            "edplant7731b",
            "bitten by Zebedee Quartermaine's dog",
            "SW 888777 26",
            "THISTLEWOOD",
            "Quartermaine",
        ],
        ["EDPLANT", "Zeb", "SW/888777/27", "EDPLANTX"],
    ),
    "free_text": (["bitten outside the club by someone", "x" * 41], ["glass_or_bottle", "venue:101380", "not known"]),
}


@pytest.fixture(scope="module")
def scanner():
    return LeakScanner(known_identifiers=KNOWN, allowed_text=[VENUE, "Philippa Street"])


@pytest.fixture(scope="module")
def h3_cells():
    rng = np.random.default_rng(3)
    lat = pd.Series(rng.uniform(51.45, 51.52, 300))
    lon = pd.Series(rng.uniform(-3.25, -3.10, 300))
    return list(spatial_cells(lat, lon, 9)) + list(spatial_cells(lat, lon, 12))


@pytest.fixture(scope="module")
def pseudonyms():
    values = [f"{random.Random(i).randrange(10**9, 10**10)}" for i in range(500)]
    hexes = pseudonymise(values, key=b"k" * 32)
    # Digests that start or end with a valid NHS number, or hold a phone-like run.
    return hexes + [
        "9434765919" + hexes[0][10:],
        hexes[1][:54] + "9434765919",
        hexes[2][:20] + "07700900461" + hexes[2][31:],
    ]


def _clean_frame(cells, hexes) -> pd.DataFrame:
    n = len(hexes)
    return pd.DataFrame(
        {
            "person_pseudonym": hexes,
            "cell_id": (cells * 3)[:n],
            "month": pd.to_datetime(["2018-10-01", "2018-11-01"] * (n // 2) + ["2018-12-01"] * (n % 2)),
            "age_band": ["20-24", "25-29", None] * (n // 3) + ["30-34"] * (n % 3),
            "method": ["glass_or_bottle", "fist", "knife", "not_known"] * (n // 4) + ["foot"] * (n % 4),
            "postcode_district": ["CF24", "CF10"] * (n // 2) + ["CF11"] * (n % 2),
            "venue_id": [f"venue:{101380 + i}" for i in range(n)],
            "venue_name": [VENUE] * n,
            "ed_assaults": np.arange(n) * 5,
            "rows_received": _ten_digit_non_nhs(n),  # ten digits, failing Modulus 11
            "cell_lat": np.linspace(51.45, 51.52, n),
        }
    )


def _ten_digit_non_nhs(n: int) -> list[int]:
    numbers = (v for v in range(1_234_567_890, 1_234_599_999) if not is_valid_nhs_number(str(v)))
    return [next(numbers) for _ in range(n)]


# ---- Detectors ----
@pytest.mark.parametrize("kind", PLANTED)
def test_each_detector_finds_planted_values_in_a_column(scanner, kind):
    planted, lookalikes = PLANTED[kind]
    frame = pd.DataFrame({"note": planted + lookalikes + ["ok", None]})
    findings = [f for f in scanner.scan_frame(frame) if f.kind == kind]
    assert findings == [Finding(kind, "note", len(planted))]
    for value in planted:
        assert value not in str(findings[0]) and value not in repr(findings[0])


@pytest.mark.parametrize("kind", [k for k in PLANTED if k != "free_text"])
def test_each_detector_finds_planted_values_in_text(scanner, kind):
    planted, lookalikes = PLANTED[kind]
    if kind == "date_of_birth":  # in text, "17.4.87" could as well be a version number
        planted, lookalikes = [p for p in planted if p != "17.4.87"], lookalikes + ["dagster 17.4.87"]
    line = "2026-08-15 23:10:01 INFO asset ed_pseudonymised: " + " ; ".join(planted + lookalikes)
    findings = scanner.scan_text(line, where="app.log:7")
    assert Finding(kind, "app.log:7", len(planted)) in findings
    assert all(v not in str(f) for f in findings for v in planted)


def test_finding_reads_without_the_value():
    assert str(Finding("nhs_number", "note", 3)) == "nhs_number in column note: 3 values"
    assert str(Finding("phone", "text", 1)) == "phone in text: 1 value"


def test_pseudonyms_h3_cells_codes_month_keys_and_counts_are_clean(scanner, h3_cells, pseudonyms):
    assert any(c.endswith("ffff") and len(c) == 15 for c in h3_cells)  # real H3 ids
    assert all(len(p) == 64 for p in pseudonyms)
    assert scanner.scan_frame(_clean_frame(h3_cells, pseudonyms)) == []
    # 51.9434765919: a coordinate whose decimals happen to pass Modulus 11.
    text = "\n".join(
        f"2018-10-01,{c},{p},20-24,glass_or_bottle,CF24,51.9434765919,15" for c, p in zip(h3_cells, pseudonyms)
    )
    assert scanner.scan_text(text) == []
    assert scanner.scan_text('{"run_id": "01234567-8901-4567-8901-def012345678", "timestamp": 1723456789.5}') == []


def test_numeric_columns_are_checked_for_nhs_numbers(scanner):
    frame = pd.DataFrame(
        {
            "n": [9434765919, 9434765918, 42],  # only the first passes Modulus 11
            "as_float": [9434765919.0, np.nan, 1.5],  # an NHS number that became a float
            "flag": [True, False, True],
        }
    )
    assert scanner.scan_frame(frame) == [Finding("nhs_number", "n", 1), Finding("nhs_number", "as_float", 1)]


def test_dates_are_allowed_only_as_month_keys_in_month_columns(scanner):
    months = pd.to_datetime(["2018-10-01", "2018-11-01"])
    hours = pd.to_datetime(["2018-10-17 23:00", "2018-11-02 01:00"])  # generalised event times
    assert scanner.scan_frame(pd.DataFrame({"month": months, "event_hour": hours})) == []
    assert scanner.scan_values("month", ["2018-10-01", dt.date(2018, 10, 1)]) == []
    assert scanner.scan_values("month", [dt.date(2018, 10, 17), "17/10/2018"]) == [Finding("date_of_birth", "month", 2)]
    assert scanner.scan_values("date_of_birth", [dt.date(1987, 4, 1)]) == [Finding("date_of_birth", "date_of_birth", 1)]
    assert scanner.scan_values("patient_dob", ["1987-04-01"]) == [Finding("date_of_birth", "patient_dob", 1)]
    assert scanner.scan_values("event_time", ["2018-10-17 23:10"]) == [Finding("date_of_birth", "event_time", 1)]
    custom = LeakScanner(date_columns_allowed=("period_start",))
    assert custom.scan_values("period_start", ["2018-10-01"]) == []
    assert custom.scan_values("month", ["2018-10-01"]) == [Finding("date_of_birth", "month", 1)]


def test_future_and_public_dates_are_not_birthdays():
    scanner = LeakScanner(allowed_text=["2024-06-30"])
    assert scanner.scan_text('{"review_date": "2099-06-30", "valid_from": "2024-06-30"}') == []
    assert scanner.scan_text("born 17/04/87") == [Finding("date_of_birth", "text", 1)]  # 1987, not 2087


def test_text_keeps_machine_dates_but_not_birthdays(scanner):
    log = "2026-08-15 23:10:01,123 partition 2026-08-01 run_time 2026-08-15T23:10:00+00:00 great_expectations 1.5.10"
    assert scanner.scan_text(log) == []
    # A parsed date of birth printed at midnight is still a date of birth.
    assert scanner.scan_text("unexpected: 1987-04-17 00:00:00") == [Finding("date_of_birth", "text", 1)]


def test_free_text_is_judged_in_columns_not_in_log_lines(scanner):
    prose = "bitten outside the club by someone"
    assert scanner.scan_values("note", [prose]) == [Finding("free_text", "note", 1)]
    assert scanner.scan_text(f"INFO validation finished: {prose}") == []


def test_allowed_text_is_not_free_text_and_public_words_are_not_name_parts(scanner):
    assert scanner.scan_values("venue_name", [VENUE, VENUE.upper(), "Philippa Street"]) == []
    # "Philippa" is a street's name as well as the planted person's: alone it identifies nobody,
    # but the full name still does.
    assert scanner.scan_text("Philippa Street") == []
    assert scanner.scan_text("philippa  thistlewood") == [Finding("known_identifier", "text", 1)]


def test_known_identifiers_are_held_only_as_digests():
    scanner = LeakScanner(known_identifiers=KNOWN)
    assert scanner.scan_text("ref: SW/888777/26, att EDPLANT7731B") == [Finding("known_identifier", "text", 2)]
    held = repr(vars(scanner)).casefold() + pickle.dumps(scanner).decode("latin-1").casefold()
    for planted in KNOWN + ["edplant7731", "zebedee", "quartermaine", "888777", "thistlewood"]:
        assert planted.casefold() not in held


MANY_KNOWN = KNOWN + [
    "Zoë Ångström",
    "ＳＷ/123456/26",
    "Straße Weißmann",
    "ŁUKASZ 77AB12",
    "ab12",
    "philippa street",
    None,
    "CF24 4HU",
    "9434765919",
    "1994-06-22 00:00:00",
    "o'brien-smythe",
    "AB-12345-CD",
    "  padded 12345  ",
    "Ref AB12CD 77",
    "x_y_zzzzz",
    "12345 67890",
]


def _built_both_ways(monkeypatch) -> tuple[LeakScanner, LeakScanner]:
    monkeypatch.setattr("anonymise.leaks.secrets.token_hex", lambda n: "5a17" * 8)  # one salt for both
    allowed = [VENUE, "Philippa Street"]
    one_by_one = LeakScanner(known_identifiers=MANY_KNOWN, allowed_text=allowed)
    arrays = [pa.array(MANY_KNOWN[:7]), pa.chunked_array([MANY_KNOWN[7:12], MANY_KNOWN[12:]], pa.large_string())]
    return one_by_one, LeakScanner(known_identifiers=arrays, allowed_text=allowed)


@pytest.mark.parametrize("bulk_rows", [1_000_000, 4])  # one query at the end, or one every few arrays
def test_arrays_of_identifiers_are_digested_as_texts_one_by_one(monkeypatch, bulk_rows):
    monkeypatch.setattr("anonymise.leak_digests.BULK_ROWS", bulk_rows)
    one_by_one, in_bulk = _built_both_ways(monkeypatch)
    for part in ("_whole", "_prefix"):
        assert getattr(in_bulk, part).tolist() == getattr(one_by_one, part).tolist()
        assert len(getattr(in_bulk, part).tolist()) > len(KNOWN)
    assert in_bulk._heads == one_by_one._heads
    assert (in_bulk._whole_lengths, in_bulk._prefix_lengths) == (one_by_one._whole_lengths, one_by_one._prefix_lengths)
    # casefold makes "weißmann" "weissmann": a part of one name, and the whole name after "straße"
    text = "seen Zoë ångström and sw 123456 26 (ref ab-12345-cd), weissmann not straße weißmann"
    assert in_bulk.scan_text(text) == one_by_one.scan_text(text) == [Finding("known_identifier", "text", 5)]


def test_pseudonyms_passed_over_in_bulk_are_found_when_they_are_known(pseudonyms):
    # A known identifier that looks like a digest: only lengths no identifier has are passed over.
    hex_reference = pseudonyms[5][:16]
    scanner = LeakScanner(known_identifiers=[pa.array([hex_reference, "EDPLANT7731"])])
    column = pd.Series(pseudonyms + [hex_reference, hex_reference.upper(), f" {pseudonyms[7]} ", None], dtype="str")
    assert scanner.scan_frame(pd.DataFrame({"ref": column})) == [Finding("known_identifier", "ref", 2)]
    assert scanner.scan_frame(pd.DataFrame({"ref": column})) == scanner.scan_values("ref", column.tolist())


def test_digests_are_told_apart_in_bulk_as_one_by_one():
    from anonymise.leaks import _MACHINE_HEX, _machine_hex

    rng = random.Random(11)
    texts = ["".join(rng.choice("0123456789abcdefgA -") for _ in range(rng.randrange(10, 20))) for _ in range(3000)]
    texts += ["0123456789abcde", "0123456789abcd", "aaaaaaaaaaaaaaaa", "1111111111111111", "89195879c33ffff"]
    values = pa.array(texts)
    in_bulk = _machine_hex(values, pc.utf8_length(values)).to_pylist()
    assert in_bulk == [bool(_MACHINE_HEX.fullmatch(t)) for t in texts]
    assert 0 < sum(in_bulk) < len(texts)


def test_a_column_named_with_an_identifier_is_withheld(scanner):
    frame = pd.DataFrame({"CF24 4HU": ["a"], "Zebedee Quartermaine": ["b"]})
    findings = scanner.scan_frame(frame)
    assert {f.kind for f in findings} == {"postcode", "known_identifier"}
    assert all("CF24 4HU" not in str(f) and "Zebedee" not in str(f) for f in findings)


def test_scanning_batches_finds_what_scanning_the_whole_frame_finds(scanner, h3_cells, pseudonyms):
    frame = _clean_frame(h3_cells, pseudonyms)
    planted = {kind: values for kind, (values, _) in PLANTED.items()}
    for n, values in enumerate(planted.values()):  # leaks spread over several batches
        frame.loc[[7 * n + 3 * i for i in range(len(values))], "venue_name"] = values
        frame.loc[[400 - 5 * n - i for i in range(len(values))], "age_band"] = values
    frame["ZQ EDPLANT7731"] = "a"  # a column named with an identifier: reported once, not per batch
    whole = scanner.scan_frame(frame)
    assert {f.kind for f in whole} == set(KINDS)
    batches = [frame.iloc[start : start + 97] for start in range(0, len(frame), 97)]
    assert scanner.scan_frames(batches) == whole
    assert scanner.scan_frames([]) == []


def _planted_frame(h3_cells, pseudonyms) -> pd.DataFrame:
    """A clean frame with every kind of leak planted in text columns and a pseudonym column."""
    frame = _clean_frame(h3_cells, pseudonyms).astype({"venue_name": "string", "age_band": "string"})
    frame["person_pseudonym"] = frame["person_pseudonym"].astype("string")
    for n, (values, _) in enumerate(PLANTED.values()):
        frame.loc[[7 * n + 3 * i for i in range(len(values))], "venue_name"] = values
        frame.loc[[400 - 5 * n - i for i in range(len(values))], "age_band"] = values
    frame.loc[[11, 250], "person_pseudonym"] = ["EDPLANT7731", "Zebedee Quartermaine"]
    return frame


def test_a_parquet_file_s_rows_give_the_findings_of_its_frame(scanner, h3_cells, pseudonyms, tmp_path):
    from anonymise.scan import scan_parquet_rows

    frame = _planted_frame(h3_cells, pseudonyms)
    whole = scanner.scan_frame(frame)
    assert {f.kind for f in whole} == set(KINDS)
    # Text columns dictionary-encoded in small row groups (each its own dictionary), pseudonyms
    # stored plain, as the pseudonymised files store them.
    path = tmp_path / "rows.parquet"
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False),
        path,
        row_group_size=64,
        use_dictionary=[c for c in frame.columns if c != "person_pseudonym"],
    )
    encodings = pq.ParquetFile(path).metadata.row_group(0).column(0).encodings
    assert "RLE_DICTIONARY" not in encodings  # the pseudonyms: read and counted as plain text
    assert scan_parquet_rows(path, scanner, batch_rows=50) == whole
    batches = pa.Table.from_pandas(frame, preserve_index=False).to_batches(max_chunksize=97)
    assert scanner.scan_batches(batches) == whole


def test_a_text_column_whose_dictionary_fell_back_to_plain_is_scanned_whole(scanner, pseudonyms, tmp_path):
    from anonymise.scan import scan_parquet_rows

    # A dictionary page limit this small makes the writer fall back to plain pages part way
    # through each row group: the column is then read as a dictionary all the same.
    notes = [f"venue:{i}" for i in range(2000)]
    notes[1500], notes[1800] = "943 476 5919", "zq@example.org"
    path = tmp_path / "fallback.parquet"
    pq.write_table(pa.table({"note": notes}), path, row_group_size=1000, dictionary_pagesize_limit=256)
    encodings = pq.ParquetFile(path).metadata.row_group(1).column(0).encodings
    assert {"RLE_DICTIONARY", "PLAIN"} <= set(encodings)
    expected = scanner.scan_frame(pd.DataFrame({"note": pd.Series(notes, dtype="string")}))
    assert {f.kind for f in expected} == {"nhs_number", "email"}
    assert scan_parquet_rows(path, scanner, batch_rows=300) == expected


def test_a_parquet_file_without_rows_still_has_its_column_names_checked(scanner, tmp_path):
    from anonymise.scan import scan_parquet_rows

    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"CF24 4HU": pa.array([], pa.string()), "cell_id": pa.array([], pa.string())}), path)
    assert [f.kind for f in scan_parquet_rows(path, scanner)] == ["postcode"]


# ---- Files and warehouses ----
def _warehouse(path, frame: pd.DataFrame, extra: dict[str, pd.DataFrame] | None = None):
    con = duckdb.connect(str(path))
    con.register("frame", frame)
    con.execute("CREATE TABLE hotspot_cells AS SELECT * FROM frame")
    con.execute("COMMENT ON TABLE hotspot_cells IS 'Violence per spatial cell and month.'")
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.codes AS SELECT * FROM (VALUES ('04', 'glass_or_bottle')) t(code, method)")
    for name, table in (extra or {}).items():
        con.register("t", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM t")
        con.unregister("t")
    con.close()


def test_duckdb_leak_is_named_by_table_and_column(scanner, h3_cells, pseudonyms, tmp_path):
    db = tmp_path / "istv.duckdb"
    rows = 150_000  # more than one fetched chunk: counts are summed across chunks
    notes = ["fist"] * rows
    notes[5], notes[-1] = "943 476 5919", "nhs 9434765919"
    planted = pd.DataFrame({"month": pd.to_datetime(["2018-10-01"] * rows), "note": notes})
    _warehouse(db, _clean_frame(h3_cells, pseudonyms), {"incidents": planted})
    assert scan_path(db, scanner) == [(f"{db}::incidents", Finding("nhs_number", "note", 2))]

    con = duckdb.connect(str(db))
    con.execute("COMMENT ON COLUMN staging.codes.method IS 'ask zq@example.org'")
    con.close()
    assert (f"{db}::staging.codes", Finding("email", "method comment", 1)) in scan_path(db, scanner)


def test_clean_duckdb_and_parquet_give_no_findings(scanner, h3_cells, pseudonyms, tmp_path):
    frame = _clean_frame(h3_cells, pseudonyms)
    _warehouse(tmp_path / "istv.duckdb", frame)
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "month=2018-10.parquet", row_group_size=100)
    assert scan_path(tmp_path, scanner) == []


def test_folder_scan_finds_leaks_in_parquet_text_and_binary_files(scanner, h3_cells, pseudonyms, tmp_path):
    frame = _clean_frame(h3_cells, pseudonyms)
    frame.loc[7, "method"] = "Zebedee Quartermaine"
    (tmp_path / "zone").mkdir()
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "zone" / "ed.parquet", row_group_size=64)
    (tmp_path / "run.log").write_text("started\nfailed on value 07700 900461\n")
    (tmp_path / "events.db").write_bytes(b"\x00\x01SQLite\x00" * 1000 + b"zq@example.org\x00\xff\xfe")
    (tmp_path / "9434765919.csv").write_text("month,count\n2018-10-01,5\n")
    found = scan_path(tmp_path, scanner)
    assert (str(tmp_path / "zone" / "ed.parquet"), Finding("known_identifier", "method", 1)) in found
    assert (str(tmp_path / "run.log"), Finding("phone", f"{tmp_path / 'run.log'}:2", 1)) in found
    assert any(loc == str(tmp_path / "events.db") and f.kind == "email" for loc, f in found)
    assert any(f == Finding("nhs_number", "path", 1) and "withheld" in loc for loc, f in found)
    assert len(found) == 4
    assert all(v not in loc + str(f) for loc, f in found for v in ("9434765919", "07700", "zq@", "Zebedee"))


def test_digesting_a_month_of_identifiers_prints_nothing(capfd):
    # DuckDB draws a progress bar for a query that runs long: digesting a national month's
    # identifiers would draw one on the terminal of whoever runs the month.
    from anonymise.leak_digests import KnownForms

    forms = KnownForms("salt", lambda text: hash(text) & (2**63 - 1), set())
    forms.add_array(pa.array([f"SW/{n:06d}/26" for n in range(1_000)]))
    connection = forms._connection()
    assert connection.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    forms.close()
    assert capfd.readouterr() == ("", "")


# ---- A scanner scoped to the frames it is made for (a release's tables) ----
def _scoped_and_full(frames: list[pd.DataFrame], known: list) -> tuple[LeakScanner, LeakScanner]:
    from anonymise.leaks import heads_in

    allowed = [VENUE, "Philippa Street"]
    scoped = LeakScanner(known_identifiers=known, allowed_text=allowed, scope=heads_in(frames))
    return scoped, LeakScanner(known_identifiers=known, allowed_text=allowed)


def _month_of_identifiers(rng: random.Random, n: int) -> list:
    """References, names and numbers as a month's identifier columns hold them, some in bulk."""
    first = ["Zebedee", "Philippa", "Aneurin", "Gwenllian", "Bartholomew", "Ceridwen"]
    last = ["Quartermaine", "Thistlewood", "Prydderch", "Vaughan-Hughes", "Weißmann", "Ångström"]
    references = [f"{rng.choice(['SW', 'GW', 'ED'])}/{rng.randrange(10**6):06d}/26" for _ in range(n)]
    names = [f"{rng.choice(first)} {rng.choice(last)}" for _ in range(n // 10)]
    return [pa.array(references), pa.array(names), "EDPLANT7731", "ab-12345-cd", "4010232137"]


def test_a_scoped_scanner_finds_in_its_frames_what_a_full_one_finds(h3_cells, pseudonyms):
    rng = random.Random(19)
    known = [*_month_of_identifiers(rng, 5_000), "20000000000000000"]  # an id a float prints as 2e+16
    references = known[0].to_pylist()
    tables = [_planted_frame(h3_cells, pseudonyms), _clean_frame(h3_cells, pseudonyms)]
    # Each way an identifier can be found: whole, run together, lower case, starting a longer
    # token, a name part, a number (whole float too), a digest-like token, a column's name, a list.
    odd = pd.DataFrame(
        {
            "place": [references[3], references[4].replace("/", " ").lower(), references[5].replace("/", "") + "X"],
            "note": ["seen by Aneurin Prydderch", "weissmann", "ref AB 12345 cd"],
            "count": [4010232137, 12, 7],
            "share": [4010232137.0, 2e16, None],
            "cells": [[references[6], "x"], ["89195879b5bffff"], []],
            # A category no row has is still examined (and counted 0 times).
            "method": pd.Categorical(["fist"] * 3, categories=["fist", references[8]]),
            references[7]: ["a", "b", "c"],
        }
    )
    for frame in [*tables, odd]:
        scoped, full = _scoped_and_full([frame], known)
        assert scoped.scan_frame(frame) == full.scan_frame(frame)
        assert any(f.kind == "known_identifier" for f in full.scan_frame(frame)) or frame is tables[1]
    assert {f.column for f in full.scan_frame(odd) if f.kind == "known_identifier"} == {
        "place",
        "note",
        "count",
        "share",
        "cells",
        "[column name withheld]",
    }


def test_a_scoped_scanner_agrees_with_a_full_one_on_random_tables():
    rng = random.Random(23)
    known = _month_of_identifiers(rng, 2_000)
    pool = known[0].to_pylist() + known[1].to_pylist() + ["Cathays", "Queen Street", "fist", "20-24", "SW/000001/27"]

    def text() -> str:
        parts = [rng.choice(pool) for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.3:  # run together, or cut short
            return "".join(parts).replace("/", rng.choice(["", " ", "-"]))[: rng.randrange(3, 40)]
        return rng.choice([" ", ", ", "/"]).join(parts)

    for _ in range(20):
        frame = pd.DataFrame({"a": [text() for _ in range(30)], "b": [text().upper() for _ in range(30)]})
        scoped, full = _scoped_and_full([frame], known)
        assert scoped.scan_frame(frame) == full.scan_frame(frame)


def test_a_scoped_scanner_knows_only_identifiers_its_frames_could_show(pseudonyms):
    from anonymise.leaks import OutOfScope

    known = [pa.array(["SW/888777/26", "SW/555444/26"]), "Zebedee Quartermaine"]
    shown = pd.DataFrame({"place": ["SW/888777/26 outside"]})
    elsewhere = pd.DataFrame({"place": ["SW/555444/26", "Quartermaine"]})
    scoped, full = _scoped_and_full([shown], known)
    assert scoped.scan_frame(shown) == full.scan_frame(shown) == [Finding("known_identifier", "place", 1)]
    # Made for `shown`, it digested neither the other reference nor the name: shown other text, it
    # refuses rather than miss them, and says so without the text.
    assert full.scan_frame(elsewhere) == [Finding("known_identifier", "place", 2)]
    for other in (elsewhere, pd.DataFrame({"Quartermaine": [1]}), pd.DataFrame({"ref": [pseudonyms[0]]})):
        with pytest.raises(OutOfScope) as refused:
            scoped.scan_frame(other)
        assert "555444" not in str(refused.value) and "artermaine" not in str(refused.value)
    with pytest.raises(OutOfScope):
        scoped.scan_text("seen with Quartermaine")
    # Made for text holding no identifier's beginning, it knows none, and still refuses other text.
    empty, _ = _scoped_and_full([pd.DataFrame({"place": ["Queen Street"]})], known)
    assert empty.scan_frame(pd.DataFrame({"place": ["Queen Street"]})) == []
    with pytest.raises(OutOfScope):
        empty.scan_frame(elsewhere)
