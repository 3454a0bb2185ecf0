"""Pseudonymising a parsed extract batch by batch gives what one apply_rules call over the whole
frame gives: the batch size bounds memory and changes nothing else (types of a batch without
values, counts, resolutions carried across batches, empty input, failed runs)."""

from __future__ import annotations

import datetime as dt
import os
import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anonymise.apply import apply_rules
from anonymise.locate_batches import LocationResolver
from anonymise.reference import gazetteer
from ingest.parse import parse_extract
from ingest.pseudonymise import (
    ROW_GROUPS_PER_WORKER,
    _row_parts,
    pseudonymise_file,
    pseudonymise_processes,
)
from pipelines.synthetic import generate_month
from schemas import load_codelist, schema_for_source
from tests.unit.anonymise.test_apply_rules import AGREEMENT, _keys, ed_frame, police_uk_frame
from tests.unit.anonymise.test_locate import _count_resolutions

# Rows 14-20 are a whole batch of 7 without NHS number, birth date, sex or postcode (a row
# without a place text is not shared: nothing says it happened in the area).
MISSING_IN_ONE_BATCH = ["nhs_number", "date_of_birth", "sex", "home_postcode"]


@pytest.fixture(scope="module")
def resolver() -> LocationResolver:
    return LocationResolver(gazetteer())


def _ed_rows() -> pd.DataFrame:
    base = ed_frame()
    blank = pd.concat([base, base.iloc[:1]], ignore_index=True)
    blank[MISSING_IN_ONE_BATCH] = None
    frame = pd.concat([base, base, base.iloc[:2], blank, base], ignore_index=True)
    frame.insert(0, "source_line", range(2, len(frame) + 2))  # as the parsed extract holds it
    return frame


def _police_uk_rows() -> pd.DataFrame:
    base = police_uk_frame()
    frame = pd.concat([base, base, base], ignore_index=True)
    frame.loc[7:13, ["latitude", "longitude"]] = None  # a batch without coordinates: placed by LSOA
    return frame


def _whole(source: str, frame: pd.DataFrame, resolver: LocationResolver):
    """One apply_rules call over the whole frame, as the asset made it before batches."""
    schema = schema_for_source(source)
    return apply_rules(
        frame,
        AGREEMENT.rules_for(source),
        field_keys=_keys(AGREEMENT.rules_for(source)),
        code_keys={f.name: load_codelist(f.codelist).key_for() for f in schema.fields if f.codelist},
        normalisers={f.name: f.check for f in schema.fields if f.check},
        resolve_places=resolver.resolve_rows,
        h3_resolution=AGREEMENT.spatial.h3_resolution,
        area=AGREEMENT.area.geography(),
        provider_field=schema.provider_field,
        lsoa_field="lsoa_code" if "lsoa_code" in schema.field_names else None,
    )


def _batched(tmp_path, source: str, frame: pd.DataFrame, resolver: LocationResolver, batch_rows: int = 7):
    typed, out = tmp_path / f"{source}_typed.parquet", tmp_path / "out" / f"{source}.parquet"
    tmp_path.mkdir(exist_ok=True)
    frame.to_parquet(typed, index=False)
    result = pseudonymise_file(
        typed, out, source, AGREEMENT, _keys(AGREEMENT.rules_for(source)), resolver, batch_rows=batch_rows
    )
    return result, out


@pytest.mark.parametrize("source, rows", [("ed", _ed_rows), ("police_uk", _police_uk_rows)])
def test_batches_give_what_one_call_over_the_whole_frame_gives(tmp_path, resolver, source, rows):
    frame = rows()
    whole = _whole(source, frame, resolver)
    result, out = _batched(tmp_path, source, frame, resolver)
    assert pq.ParquetFile(out).num_row_groups > 2
    pd.testing.assert_frame_equal(pd.read_parquet(out), whole.rows)
    assert pq.read_schema(out).equals(pa.Schema.from_pandas(whole.rows, preserve_index=False), check_metadata=False)
    assert result.counts == whole.counts
    assert result.counts_by_provider == whole.counts_by_provider
    assert result.fields == whole.fields
    counts = result.counts
    assert (
        counts["rows_in"]
        == len(frame)
        == (counts["rows_shared"] + counts["rows_out_of_scope"] + counts["rows_out_of_area"] + counts["rows_unlocated"])
    )
    assert counts["rows_shared"] == pq.ParquetFile(out).metadata.num_rows


def test_a_batch_without_values_keeps_the_types(tmp_path, resolver):
    result, out = _batched(tmp_path, "ed", _ed_rows(), resolver)
    blank_batch = pq.ParquetFile(out).read_row_group(2)
    assert blank_batch.num_rows  # its rows placed in Cardiff are shared
    for column in ("nhs_number_pseudonym", "age_band", "sex", "postcode_district"):
        assert blank_batch.column(column).null_count == blank_batch.num_rows, column
    assert blank_batch.schema == pq.read_schema(out).remove_metadata()
    assert pq.read_schema(out).field("month").type == pa.date32()


def test_an_empty_extract_gives_a_file_with_the_same_columns_and_types(tmp_path, resolver):
    _, full = _batched(tmp_path / "full", "ed", _ed_rows(), resolver)
    result, empty = _batched(tmp_path / "empty", "ed", _ed_rows().iloc[:0], resolver)
    assert pq.read_schema(empty).equals(pq.read_schema(full), check_metadata=False)
    assert pd.read_parquet(empty).empty
    assert set(result.counts.values()) == {0}


def test_each_distinct_text_is_resolved_once_across_batches(tmp_path, resolver, monkeypatch):
    calls = _count_resolutions(monkeypatch)
    frame = _ed_rows()
    _batched(tmp_path, "ed", frame, resolver)
    texts = frame["assault_location_description"]
    assert len(calls) <= texts.str.lower().nunique() + 1  # the +1: missing text
    assert len(calls) >= 4  # the base texts really were resolved in the first batch


def test_a_failed_run_leaves_the_earlier_file_and_no_partial_one(tmp_path, resolver, monkeypatch):
    _, out = _batched(tmp_path, "ed", _ed_rows(), resolver)
    before = out.read_bytes()
    batches = 0
    original = LocationResolver.resolve_rows

    def failing_in_batch_two(self, texts, memo=None):
        nonlocal batches
        batches += 1
        if batches == 3:  # the call on no rows (the output's schema), then batch one, then batch two
            raise RuntimeError("resolver failed")
        return original(self, texts, memo)

    monkeypatch.setattr(LocationResolver, "resolve_rows", failing_in_batch_two)
    with pytest.raises(RuntimeError, match="resolver failed"):
        _batched(tmp_path, "ed", _ed_rows(), resolver)
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


@pytest.mark.parametrize("source", ["ed", "police"])
def test_a_parsed_synthetic_month_gives_the_same_rows_batched(tmp_path, resolver, source):
    """The typed file as the extract asset writes it, a few hundred rows in batches of 50."""
    paths = generate_month("2026-10", tmp_path, seed=5, ed_rows=200, police_rows=300)
    typed = tmp_path / f"{source}_typed.parquet"
    parse_extract(paths[source], schema_for_source(source), dt.date(2026, 10, 1), typed, now=dt.datetime(2026, 11, 5))
    whole = _whole(source, pd.read_parquet(typed), resolver)
    out = tmp_path / f"{source}_pseudonymised.parquet"
    result = pseudonymise_file(
        typed, out, source, AGREEMENT, _keys(AGREEMENT.rules_for(source)), resolver, batch_rows=50
    )
    pd.testing.assert_frame_equal(pd.read_parquet(out), whole.rows)
    assert result.counts == whole.counts
    # Pseudonyms, random hex, are written plain: no dictionary or compression would shrink them.
    chunks = {
        c.path_in_schema: c
        for c in (pq.ParquetFile(out).metadata.row_group(0).column(i) for i in range(len(whole.rows.columns)))
    }
    pseudonyms = [name for name in chunks if name.endswith("_pseudonym")]
    assert pseudonyms and all(chunks[name].compression == "UNCOMPRESSED" for name in pseudonyms)
    assert all("RLE_DICTIONARY" not in chunks[name].encodings for name in pseudonyms)
    others = [c for name, c in chunks.items() if name not in pseudonyms]
    assert any(c.compression == "SNAPPY" and "RLE_DICTIONARY" in c.encodings for c in others)


def test_worker_processes_write_the_file_one_process_writes(tmp_path, resolver):
    paths = generate_month("2026-10", tmp_path, seed=6, ed_rows=10, police_rows=400)
    typed = tmp_path / "police_typed.parquet"
    parse_extract(
        paths["police"], schema_for_source("police"), dt.date(2026, 10, 1), typed, now=dt.datetime(2026, 11, 5)
    )
    pq.write_table(pq.read_table(typed), typed, row_group_size=45)  # workers take a row group each
    keys = _keys(AGREEMENT.rules_for("police"))
    here, there = tmp_path / "here.parquet", tmp_path / "there.parquet"
    alone = pseudonymise_file(typed, here, "police", AGREEMENT, keys, resolver, batch_rows=30)
    together = pseudonymise_file(
        typed, there, "police", AGREEMENT, keys, resolver, batch_rows=30, processes=2, rows_per_worker=120
    )
    assert pq.ParquetFile(there).num_row_groups >= 2 * ROW_GROUPS_PER_WORKER  # enough to share out, kept in order
    pd.testing.assert_frame_equal(pd.read_parquet(there), pd.read_parquet(here))
    assert (together.processes, alone.processes) == (2, 1)
    assert not [p.name for p in tmp_path.iterdir() if ".parts-" in p.name]  # the workers' hand-over files are gone
    assert (together.counts, together.fields) == (alone.counts, alone.fields)


def test_workers_sharing_a_few_large_row_groups_write_the_rows_one_process_writes(tmp_path, resolver):
    paths = generate_month("2026-10", tmp_path, seed=7, ed_rows=400, police_rows=10)
    typed = tmp_path / "ed_typed.parquet"
    parse_extract(paths["ed"], schema_for_source("ed"), dt.date(2026, 10, 1), typed, now=dt.datetime(2026, 11, 5))
    pq.write_table(pq.read_table(typed), typed, row_group_size=200)  # two row groups for two workers
    keys = _keys(AGREEMENT.rules_for("ed"))
    here, there = tmp_path / "here.parquet", tmp_path / "there.parquet"
    alone = pseudonymise_file(typed, here, "ed", AGREEMENT, keys, resolver, batch_rows=30)
    together = pseudonymise_file(
        typed, there, "ed", AGREEMENT, keys, resolver, batch_rows=30, processes=2, rows_per_worker=120
    )
    assert together.processes == 2

    # Each row group's rows come part by part, so the same rows in another order.
    def in_order(path):
        frame = pd.read_parquet(path)
        return frame.sort_values(list(frame.columns), ignore_index=True)

    pd.testing.assert_frame_equal(in_order(there), in_order(here))
    assert (together.counts, together.fields) == (alone.counts, alone.fields)


def test_a_shared_row_group_is_parted_by_place_shape_so_each_worker_learns_its_own():
    texts = [
        "near 12 castle st",
        "near 86 Castle St",
        "o/s kapu",
        "O/S KAPU",
        None,
        "café 1",
        "home",
        "12 cathays tce",
        "14 cathays tce",
        None,
        "outside the pulse",
        "pts flat",
    ] * 5
    rows = pa.table({"place": pa.array(texts, pa.string())})
    parts = _row_parts(rows, "place", 2)
    by_shape: dict = {}
    for text, part in zip(texts, parts.tolist()):
        if text is not None and text.isascii():
            by_shape.setdefault(re.sub("[1-9]", "0", text.lower()), set()).add(part)
    assert all(len(seen) == 1 for seen in by_shape.values())  # a shape's rows all go to one worker
    assert set(parts.tolist()) == {0, 1}
    unshaped = [n for n, text in enumerate(texts) if text is None or not text.isascii()]
    assert parts[unshaped].tolist() == [n % 2 for n in unshaped]  # the rest by position
    assert _row_parts(rows, None, 3).tolist() == [n % 3 for n in range(len(texts))]


def test_the_number_of_worker_processes_is_configuration(monkeypatch):
    monkeypatch.delenv("ISTV_PSEUDONYMISE_PROCESSES", raising=False)
    assert pseudonymise_processes() == (os.cpu_count() or 1)
    monkeypatch.setenv("ISTV_PSEUDONYMISE_PROCESSES", "3")
    assert pseudonymise_processes() == 3
    monkeypatch.setenv("ISTV_PSEUDONYMISE_PROCESSES", "0")
    with pytest.raises(ValueError, match="whole number of processes"):
        pseudonymise_processes()
