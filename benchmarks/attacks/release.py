"""Publishing: the production build_tables on the attacks' joint frames, with every figure's
truth kept beside it (the intruder never sees it: it scores the attacks)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

import warehouse.tables as tables_module
from anonymise.cellkey import RecordKeys
from anonymise.disclosure import PUBLIC_SUFFIX, DisclosurePolicy
from warehouse.corrections import Corrections, released_figures

from .data import Month, PoliceMonth, hotspot_areas, public_sources, record_keys, summaries


@cache
def _specs() -> dict:
    return {s.name: s for s in tables_module.table_specs()}


@dataclass
class Release:
    """One release: the published tables and, for scoring the attacks only (the intruder never
    sees them), every figure's truth. `figures` has one row per published count: table, month,
    key (the table's other key columns joined by '|'), column, protected (the count of its
    protected records: the true count, except in a corrected release, where a figure kept at its
    released value shows the released count), public (its records from public sources, which
    the intruder counts from the open data), published (NaN when withheld)."""

    tables: dict[str, pd.DataFrame]
    figures: pd.DataFrame
    policy: DisclosurePolicy

    _by_column: dict | None = field(default=None, repr=False)

    def figure(self, table: str, column: str, month: dt.date | None = None) -> pd.DataFrame:
        """The figures of one count column (of one month), indexed by key."""
        if self._by_column is None:
            self._by_column = {}
        if (table, column) not in self._by_column:
            f = self.figures
            self._by_column[table, column] = f[
                (f["table"].to_numpy() == table) & (f["column"].to_numpy() == column)
            ].set_index("key")
        chosen = self._by_column[table, column]
        return chosen if month is None else chosen[chosen["month"].to_numpy() == np.datetime64(month, "D")]

    def differs_from(self, other: Release) -> bool:
        """Whether any published figure differs (a figure in one release only counts)."""
        a, b = self.figures, other.figures
        if len(a) != len(b) or not all(
            np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in ("table", "key", "column")
        ):
            return True
        x, y = a["published"].to_numpy(), b["published"].to_numpy()
        return not np.all((x == y) | (np.isnan(x) & np.isnan(y)))


def key_strings(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    keys = [k for k in keys if k != "month"]
    if not keys:
        return [""] * len(frame)
    parts = [frame[k].astype(str).to_numpy() for k in keys]
    return ["|".join(values) for values in zip(*parts)]


def _months(values: pd.Series) -> np.ndarray:
    """Months as numpy days (DuckDB gives timestamps, frames built here dates)."""
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]")


def publish_release(
    joint: pd.DataFrame,
    policy: DisclosurePolicy,
    *,
    history: Sequence[pd.DataFrame] = (),
    public: tuple[str, ...] | None = None,
    police: Sequence[PoliceMonth] = (),
    keys: RecordKeys | None = None,
    corrections: Corrections | None = None,
) -> Release:
    """The production build_tables on `joint` (`history`: the earlier months; the agreement's
    hotspot areas; `corrections` as the pipeline passes them), keeping every raw figure it
    protects. With `corrections`, a figure kept at its released value records the released count."""
    captured: dict[str, pd.DataFrame] = {}
    # A sparse table's rows that show nothing are left out; the intruder reads a missing row as
    # the zeros and withheld counts it would have shown, and so do the figures here.
    before_left_out: list[pd.DataFrame] = []
    real_protect, real_left_out = tables_module.protect, tables_module.rows_showing_something

    def capturing(raw, counts, policy_, label=""):
        captured[label] = raw.copy()
        return real_protect(raw, counts, policy_, label=label)

    def keeping(table, counts, policy_):
        before_left_out.append(table.copy())
        return real_left_out(table, counts, policy_)

    public = public_sources() if public is None else public
    frame_for_summaries = pd.concat([joint, *history], ignore_index=True) if history else joint
    tables_module.protect, tables_module.rows_showing_something = capturing, keeping
    try:
        tables = tables_module.build_tables(
            joint,
            summaries(frame_for_summaries, police),
            policy,
            "attack-suite",
            1,
            record_keys=keys or record_keys(),
            public_sources=public,
            history=list(history),
            areas=hotspot_areas(),
            corrections=corrections,
        )
    finally:
        tables_module.protect, tables_module.rows_showing_something = real_protect, real_left_out
    whole = dict(zip([s.name for s in _specs().values() if s.sparse], before_left_out, strict=True))
    rows = []
    for name, raw in captured.items():
        spec = _specs()[name]
        table = _as_read(tables[name], whole[name], spec) if spec.sparse else tables[name]
        key = key_strings(raw, spec.keys)
        assert key == key_strings(table, spec.keys), f"{name}: published rows not in the order of the figures"
        month = _months(raw["month"])
        for column in spec.counts:
            protected = raw[column].fillna(0).astype(np.int64).to_numpy()
            pub = raw[column + PUBLIC_SUFFIX].fillna(0).astype(np.int64).to_numpy()
            shown = table[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            rows.append(
                pd.DataFrame(
                    {
                        "table": name,
                        "month": month,
                        "key": key,
                        "column": column,
                        "protected": protected,
                        "public": pub,
                        "published": shown,
                    }
                )
            )
    figures = pd.concat(rows, ignore_index=True)
    return Release(tables, figures, policy)


def _as_read(published: pd.DataFrame, whole: pd.DataFrame, spec) -> pd.DataFrame:
    """A sparse table as the intruder reads it: every row before those showing nothing were left
    out, with the published values where the row is published (the others show only zeros and
    withheld counts)."""
    at = row_ids(whole, spec.keys).get_indexer(row_ids(published, spec.keys))
    assert (at >= 0).all(), f"{spec.name}: a published row is not among the protected figures"
    left_out = np.ones(len(whole), dtype=bool)
    left_out[at] = False
    read = whole[spec.keys].copy()
    for column in spec.counts:
        values = whole[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        assert not np.any(values[left_out] > 0), f"{spec.name}: a row left out showed {column}"
        values[at] = published[column].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        read[column] = values
    return read


def row_ids(frame: pd.DataFrame, keys: list[str]) -> pd.Index:
    return pd.Index(list(zip(_months(frame["month"]), key_strings(frame, keys))))


# What the pipeline keeps of a release for correcting it (warehouse.corrections), per table: the
# figures before disclosure control. The attacks call it the ledger.
Released = dict[str, pd.DataFrame]


def first_release(
    joint: pd.DataFrame, policy: DisclosurePolicy, police: Sequence[PoliceMonth] = ()
) -> tuple[Release, Released]:
    """A month published for the first time, as the pipeline publishes it, and what the pipeline
    keeps of it for a corrected release: Corrections.save, read back by released_figures."""
    corrections = Corrections(policy.suppression_threshold)
    release = publish_release(joint, policy, police=police, corrections=corrections)
    with tempfile.TemporaryDirectory() as folder:
        kept = Path(folder) / "released"
        corrections.save(kept)
        return release, released_figures(kept)


def publish_corrected(
    versions: Sequence[pd.DataFrame],
    policy: DisclosurePolicy,
    released: Released,
    *,
    police: Sequence[PoliceMonth] = (),
) -> list[Release]:
    """Each version of a month published as the pipeline publishes a re-delivered month: one
    build_tables call each, with Corrections(the policy's threshold, `released`: what the pipeline
    kept of the month's earlier release)."""
    return [
        publish_release(version, policy, police=police, corrections=Corrections(policy.suppression_threshold, released))
        for version in versions
    ]


BATCH_LEFT_OUT = ("hotspot_areas", "coverage")
BATCH_EPOCH = 1900  # copies of a month published in one build are labelled January 1900, 1901, ...


def publish_copies(
    joints: Sequence[pd.DataFrame],
    policy: DisclosurePolicy,
    *,
    police: Sequence[PoliceMonth] = (),
    public: tuple[str, ...] | None = None,
) -> list[Release]:
    """Releases of several versions of one month, each published afresh (corrections without
    the ledger), built in one build_tables call: each version is relabelled to a month of its own
    (a figure's cell key depends on its records only, never on the month, and every table groups
    by month), then the releases are split apart and given back their month. hotspot_areas and
    coverage are left out: the windows would span the relabelled months, and a delivery figure's
    key hashes the month's label. Equal, figure for figure, to building each version alone
    (tests/attacks checks it); several times faster for many versions."""
    months = [dt.date(BATCH_EPOCH + i, 1, 1) for i in range(len(joints))]
    original = {j["month"].iloc[0] for j in joints}
    assert len(original) == 1, "publish_copies takes versions of one month"
    original = original.pop()
    relabelled = []
    for joint, month in zip(joints, months):
        copy = joint.copy()
        copy["month"] = month
        relabelled.append(copy)
    relabelled_police = [dataclasses.replace(p, month=m) for m in months for p in police if p.month == original]
    both = publish_release(pd.concat(relabelled, ignore_index=True), policy, police=relabelled_police, public=public)
    figures = both.figures[~both.figures["table"].isin(BATCH_LEFT_OUT)]
    by_month = dict(iter(figures.groupby("month")))
    tables_by_month = {
        name: dict(iter(table.groupby(_months(table["month"]))))
        for name, table in both.tables.items()
        if name not in BATCH_LEFT_OUT
    }
    releases = []
    for month in months:
        day = np.datetime64(month, "D")
        mine = by_month[day].copy()
        mine["month"] = np.datetime64(original, "D")
        tables = {}
        for name, parts in tables_by_month.items():
            part = parts[day].copy() if day in parts else both.tables[name].iloc[:0].copy()
            part["month"] = pd.Timestamp(original)
            tables[name] = part.reset_index(drop=True)
        releases.append(Release(tables, mine.reset_index(drop=True), policy))
    return releases


def table_bytes(tables: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    """Each table serialised (CSV of every column, in order): equal bytes, equal tables."""
    return {name: t.to_csv(index=False).encode() for name, t in sorted(tables.items())}


def content_sha256(joint: pd.DataFrame) -> str:
    """A digest of the month's rows that does not depend on their order (the pipeline's
    month_content_sha256 digests the joint Parquet file the same way in DuckDB)."""
    rows = np.sort(pd.util.hash_pandas_object(joint, index=False).to_numpy())
    return hashlib.sha256(f"{len(rows)}:".encode() + rows.tobytes()).hexdigest()


def as_day(value) -> np.datetime64:
    """A date or timestamp as a numpy day."""
    return np.datetime64(pd.Timestamp(value).date(), "D")


def release_month(release: Release) -> np.datetime64:
    """The month a release publishes (its latest)."""
    return as_day(release.figures.loc[release.figures["table"] == "monthly_trend", "month"].max())


def monthly_releases(
    months: Sequence[Month], policy: DisclosurePolicy, public: tuple[str, ...] | None = None
) -> list[Release]:
    """Each month published as the pipeline would, with the earlier months as its history."""
    return [
        publish_release(
            m.joint,
            policy,
            history=[x.joint for x in months[:i]],
            public=public,
            police=[x.police for x in months[: i + 1]],
        )
        for i, m in enumerate(months)
    ]
