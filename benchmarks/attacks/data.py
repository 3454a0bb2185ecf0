"""The data the attacks publish: the agreement and the policies compared, the real police open
data (data.police.uk, South Wales) and synthetic ED assaults, as joint_incidents rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import h3
import numpy as np
import pandas as pd

import open_data
from anonymise.cellkey import RecordKeys
from anonymise.disclosure import DisclosurePolicy
from warehouse.joint import joint_columns
from warehouse.tables import DELIVERY_SUMMARY_COLUMNS, HotspotAreas

REPO = Path(__file__).resolve().parents[2]
BUNDLED_POLICE_UK = open_data.ROOT / "police_uk"
SHARED_POLICE_UK = REPO.parent / "shared" / "data" / "police_uk"
OPEN_PUBS = open_data.ROOT / "open_pubs_cardiff.csv"
VIOLENCE = "Violence and sexual offences"
# Secrets of the attack runs: the pipeline's own come from the master key; the intruder never
# sees these, the attack code only uses them to publish.
RECORD_KEY_SECRET = b"istv-attack-suite-record-keys"
NOISE_KEY = b"istv-attack-suite-dp-noise-key"
ED_PROVIDER, POLICE_UK_PROVIDER = "7A4BV", "South Wales Police"

# --------------------------------------------------------------------------------------------
# The agreement and the policies compared
# --------------------------------------------------------------------------------------------


@cache
def agreement():
    from sharing_agreements.model import load_agreement

    return load_agreement()


def default_policy() -> DisclosurePolicy:
    """The bundled agreement's policy (cell key, max_deviation 4, variance 2 when this was written)."""
    return agreement().disclosure_control.policy()


def suppress_and_round(policy: DisclosurePolicy | None = None) -> DisclosurePolicy:
    """The old rule with the agreement's threshold and base."""
    return dataclasses.replace(policy or default_policy(), method="suppress_and_round")


def record_keys() -> RecordKeys:
    return RecordKeys.from_secret(hashlib.sha256(RECORD_KEY_SECRET).digest())


def public_sources() -> tuple[str, ...]:
    return agreement().public_sources()


def hotspot_areas() -> HotspotAreas:
    """The agreement's hotspot_areas, as warehouse.release.hotspot_areas reads them (importing
    that module loads Great Expectations, seconds the attack tests do not need; tests/attacks
    checks they agree)."""
    spatial = agreement().spatial
    return HotspotAreas(tuple(spatial.hotspot_resolutions), tuple(spatial.hotspot_windows_months))


# --------------------------------------------------------------------------------------------
# Data: real police open data, synthetic ED
# --------------------------------------------------------------------------------------------


def police_uk_dir() -> Path:
    return BUNDLED_POLICE_UK if BUNDLED_POLICE_UK.exists() else SHARED_POLICE_UK


def police_uk_months(folder: Path | None = None) -> list[str]:
    """The South Wales months available (YYYY-MM), oldest first."""
    folder = folder or police_uk_dir()
    return sorted(p.name[:7] for p in folder.glob("*-south-wales-street.csv"))


@dataclass(frozen=True)
class PoliceMonth:
    month: dt.date
    rows: pd.DataFrame  # crime_id, latitude, longitude, cell_id (None: no coordinates)
    received: int
    out_of_scope: int
    out_of_area: int


@cache
def police_uk_month(month: str, folder: Path | None = None) -> PoliceMonth:
    """The month's violence rows the agreement shares, as the pipeline keeps them: those inside
    the area (by their LSOA); rows with no location are never inside."""
    folder = folder or police_uk_dir()
    raw = pd.read_csv(folder / f"{month}-south-wales-street.csv", dtype=str, keep_default_na=False)
    violence = raw[raw["Crime type"] == VIOLENCE]
    lat = pd.to_numeric(violence["Latitude"], errors="coerce")
    lon = pd.to_numeric(violence["Longitude"], errors="coerce")
    placed = agreement().area.geography().place(lat, lon, violence["LSOA code"])
    inside = placed.inside
    kept = violence[inside]
    resolution = agreement().spatial.h3_resolution
    cells = [
        h3.latlng_to_cell(a, b, resolution) if not (math.isnan(a) or math.isnan(b)) else None
        for a, b in zip(lat[inside], lon[inside])
    ]
    rows = pd.DataFrame(
        {
            "crime_id": kept["Crime ID"].to_numpy(),
            "latitude": lat[inside].to_numpy(),
            "longitude": lon[inside].to_numpy(),
            "cell_id": cells,
        }
    )
    return PoliceMonth(
        dt.date.fromisoformat(f"{month}-01"),
        rows,
        received=len(raw),
        out_of_scope=len(raw) - len(violence),
        out_of_area=int((placed.located & ~inside).sum()),
    )


# Night-time economy: assaults peak late at night and at weekends.
HOUR_WEIGHTS = np.array([9, 7, 5, 3, 2, 1, 1, 1, 1, 1, 1.5, 2, 2.5, 2.5, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6.5, 8, 9.5])
WEEKDAY_WEIGHTS = np.array([0.9, 0.8, 0.9, 1.0, 1.3, 2.0, 1.9])  # ISO 1 = Monday .. 7 = Sunday
METHODS = {
    "fist": 0.45,
    "foot": 0.15,
    "glass_or_bottle": 0.10,
    "knife": 0.08,
    "blunt_object": 0.07,
    "other": 0.10,
    "not_known": 0.05,
}
# Where an ED assault is placed: a street near police-recorded violence, a licensed premises,
# a private dwelling (no cell, as the pipeline publishes it) or nowhere known (no cell).
PLACE_SHARES = {"street": 0.45, "venue": 0.25, "private": 0.15, "unlocated": 0.15}
NEIGHBOUR_SHARE = 0.35  # street assaults put in a ring-1 neighbour of the police record's cell


@cache
def venues() -> pd.DataFrame:
    pubs = pd.read_csv(OPEN_PUBS, dtype=str, keep_default_na=False)
    lat = pd.to_numeric(pubs["latitude"], errors="coerce")
    lon = pd.to_numeric(pubs["longitude"], errors="coerce")
    ok = lat.notna() & lon.notna()
    pubs, lat, lon = pubs[ok], lat[ok], lon[ok]
    ok = agreement().area.geography().place(lat, lon).inside
    pubs = pubs[ok].drop_duplicates("fas_id")
    resolution = agreement().spatial.h3_resolution
    return pd.DataFrame(
        {
            "place_id": "venue:" + pubs["fas_id"],
            "place_name": pubs["name"],
            "cell_id": [h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat[ok], lon[ok])],
        }
    ).reset_index(drop=True)


def synthetic_ed(police: PoliceMonth, n: int, seed: int) -> pd.DataFrame:
    """`n` synthetic ED assaults for the police month's month, placed near its violence."""
    rng = np.random.default_rng(seed)
    month = police.month
    days = pd.date_range(month, periods=pd.Timestamp(month).days_in_month, freq="D")
    day_weights = WEEKDAY_WEIGHTS[days.day_of_week.to_numpy()]
    day = days[rng.choice(len(days), n, p=day_weights / day_weights.sum())]
    hour = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    event_hour = day + pd.to_timedelta(hour, unit="h")
    kind = rng.choice(list(PLACE_SHARES), n, p=list(PLACE_SHARES.values()))
    located = police.rows["cell_id"].dropna().to_numpy()
    cells = np.full(n, None, dtype=object)
    status = kind.astype(object)
    status[kind == "unlocated"] = "unlocated"
    streets = np.flatnonzero(kind == "street")
    picked = located[rng.integers(0, len(located), len(streets))]
    moved = rng.random(len(streets)) < NEIGHBOUR_SHARE
    for i, (cell, move) in enumerate(zip(picked, moved)):
        cells[streets[i]] = rng.choice(sorted(set(h3.grid_disk(cell, 1)) - {cell})) if move else cell
    pubs = venues()
    heat = pubs["cell_id"].map(pd.Series(located).value_counts()).fillna(0).to_numpy()
    weights = (1 + heat) ** 2
    at = np.flatnonzero(kind == "venue")
    chosen = rng.choice(len(pubs), len(at), p=weights / weights.sum())
    cells[at] = pubs["cell_id"].to_numpy()[chosen]
    place_id = np.full(n, None, dtype=object)
    place_name = np.full(n, None, dtype=object)
    place_id[at] = pubs["place_id"].to_numpy()[chosen]
    place_name[at] = pubs["place_name"].to_numpy()[chosen]
    pseudonyms = [rng.bytes(32).hex() for _ in range(n)]
    return pd.DataFrame(
        {
            "source": "ed",
            "month": month,
            "weekday": pd.array(day.day_of_week.to_numpy() + 1, dtype="Int64"),
            "hour": pd.array(hour, dtype="Int64"),
            "event_hour": event_hour,
            "cell_id": cells,
            "place_status": status,
            "place_id": place_id,
            "place_name": place_name,
            "age_band": rng.choice(["15-19", "20-24", "25-29", "30-34", "35-39", "40-44"], n),
            "method": rng.choice(list(METHODS), n, p=list(METHODS.values())),
            "provider": ED_PROVIDER,
            "record_pseudonym": pseudonyms,
            "person_pseudonym": [rng.bytes(32).hex() for _ in range(n)],
            "sex": rng.choice(["male", "female"], n, p=[0.7, 0.3]),
        }
    )


def police_joint_rows(police: PoliceMonth) -> pd.DataFrame:
    rows = police.rows
    return pd.DataFrame(
        {
            "source": "police_uk",
            "month": police.month,
            "cell_id": rows["cell_id"].to_numpy(),
            "provider": POLICE_UK_PROVIDER,
            "offence": VIOLENCE,
            "record_pseudonym": [hashlib.sha256(c.encode()).hexdigest() for c in rows["crime_id"]],
        }
    )


def joint_frame(parts: Iterable[pd.DataFrame], keys: RecordKeys | None = None) -> pd.DataFrame:
    """Rows in the columns and types of joint_incidents, record keys from the pseudonyms."""
    keys = keys or record_keys()
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True)
    out = pd.DataFrame(index=frame.index)
    for name, kind in joint_columns().items():
        if name == "record_key":
            out[name] = np.array([keys.of(p) for p in frame["record_pseudonym"]], dtype=np.int64)
        elif kind == "BIGINT":
            out[name] = pd.array(frame[name] if name in frame else [None] * len(frame), dtype="Int64")
        elif kind == "DATE":
            out[name] = pd.to_datetime(frame[name]).dt.date
        elif kind == "TIMESTAMP":
            out[name] = pd.to_datetime(frame[name]) if name in frame else pd.Series(pd.NaT, index=frame.index)
        else:
            out[name] = frame[name].astype(object).where(frame[name].notna(), None) if name in frame else None
    return out


def summaries(joint: pd.DataFrame, police: Sequence[PoliceMonth] = ()) -> pd.DataFrame:
    """Delivery summaries consistent with the joint rows (coverage.sql reads them)."""
    rows = []
    for month, part in joint.groupby("month"):
        ed = part[part["source"] == "ed"]
        if len(ed):
            private = int((ed["place_status"] == "private").sum())
            located = int(ed["cell_id"].notna().sum())
            rows.append([month, "ed", ED_PROVIDER, len(ed), 0, 0, 0, len(ed), located, len(ed) - located, private, 0])
        uk = part[part["source"] == "police_uk"]
        if len(uk):
            delivered = next((p for p in police if p.month == month), None)
            received = delivered.received if delivered else len(uk)
            scope = delivered.out_of_scope if delivered else 0
            area = delivered.out_of_area if delivered else 0
            located = int(uk["cell_id"].notna().sum())
            rows.append(
                [
                    month,
                    "police_uk",
                    POLICE_UK_PROVIDER,
                    received,
                    0,
                    scope,
                    area,
                    len(uk),
                    located,
                    len(uk) - located,
                    0,
                    0,
                ]
            )
    return pd.DataFrame(rows, columns=DELIVERY_SUMMARY_COLUMNS)


@dataclass
class Month:
    """One month's joint frame (real police, synthetic ED) and what it was made from."""

    police: PoliceMonth
    ed: pd.DataFrame
    joint: pd.DataFrame

    @property
    def month(self) -> dt.date:
        return self.police.month


def make_month(month: str, ed_rows: int, seed: int = 0, folder: Path | None = None) -> Month:
    police = police_uk_month(month, folder)
    ed = synthetic_ed(police, ed_rows, seed=seed + int(month.replace("-", "")))
    return Month(police, ed, joint_frame([police_joint_rows(police), ed]))
