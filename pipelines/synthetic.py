"""Seeded synthetic ED and police extracts that look like a month of Cardiff violence.

Real extracts are identifiable, so every stage of the pipeline is built and tested on these. They
imitate what makes the real ones hard: night-time-economy hotspots, free text typed in a hurry
(abbreviations, typos, names, phone numbers), ~40% of ED assaults also known to the police, and
about 1% of malformed rows. Places come from the project gazetteer, so a resolver can be scored
against the truth: `generate_frames` keeps hidden `_incident`, `_place_id` and `_bad` columns.

Randomness is numpy; strings are built in Arrow's C++ kernels, because a million ED rows (and
three million police rows) must take seconds, and per-row Python string work would not.
"""

from __future__ import annotations

import re
import string
from dataclasses import asdict
from datetime import date, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from anonymise.reference import gazetteer
from schemas.model import load_codelist, load_schema

SITE_CODE, FORCE_CODE = "7A4BV", "SWP"
LINK_SHARE = 0.40  # share of ED assaults the police also recorded
BAD_ROW_SHARE, MIN_ROWS_FOR_BAD = 0.01, 50
CENTRE = (51.475, 51.487, -3.185, -3.165)  # lat min, lat max, lon min, lon max
# A dozen heavily weighted places, so that hotspots emerge as they do in the real data.
HOT_PLACES = (
    "Caroline Street",
    "St Mary Street",
    "Queen Street",
    "Fford Churchill",
    "Heol Y Brodyr Llwydion",
    "Heol Y Castell",
    "The Prince of Wales",
    "Popworld",
    "Great Western Lloyds Bar",
    "Tonight Josephine Cardiff",
    "PULSE",
    "The Live Lounge",
    "Kapu",
)
# What people call a street; the gazetteer (from data.police.uk) often has the Welsh name.
STREET_ALIASES = {
    "Fford Churchill": "Churchill Way",
    "Heol Y Brodyr Llwydion": "Greyfriars Road",
    "Heol Y Castell": "Castle Street",
    "Stryd Y Cei": "Quay Street",
    "Heol Siarl": "Charles Street",
    "Stryd Herbert": "Herbert Street",
    "Stryd John": "John Street",
    "St Mary Street": "St Marys Street",
}
ABBREVIATIONS = {"Street": "st", "Road": "rd", "Avenue": "ave", "Lane": "ln", "Terrace": "tce"}
METHOD_SHARES = {"01": 0.45, "02": 0.15, "03": 0.10, "04": 0.08, "05": 0.07, "06": 0.10, "99": 0.05}
OTHER_METHOD_TEXTS = (
    "headbutt",
    "bitten",
    "pushed to ground",
    "stamped on",
    "slapped",
    "pushed down stairs",
    "hit with phone",
    "strangled",
    "scratched",
)
OFFENCE_SHARES = {"105/01": 0.45, "008/01": 0.33, "008/02": 0.08, "005/01": 0.07, "008/10": 0.04, "009/01": 0.03}
# Receptionists' location text. {venue}/{street} are filled with the place as people say it.
VENUE_TEMPLATES = (
    "{venue}",
    "o/s {venue}",
    "in {venue}",
    "inside {venue}",
    "nr {venue} pub",
    "outside {venue}",
    "o/s {venue} {street}",
    "{venue} cc",
    "opp {venue}",
    "smoking area {venue}",
    "bouncers at {venue}",
    "{venue} toilets",
)
STREET_TEMPLATES = (
    "{street}",
    "{street} cc",
    "on {street}",
    "nr {street}",
    "o/s shop on {street}",
    "top of {street}",
    "taxi rank {street}",
    "bus stop {street}",
    "corner of {street}",
    "{street}, cardiff",
    "walking down {street}",
)
HOME_TEMPLATES = (
    "home",
    "at home",
    "my flat",
    "friends house",
    "{num} {street}",
    "his house on {street}",
    "flat {flat}, {num} {street} {postcode}",
    "outside {name}'s house",
    "{name}'s flat {street}",
    "partners house",
    "pt's mum {phone}",
    "at home - contact {phone}",
)
UNKNOWN_TEXTS = ("", "", "", "unknown", "n/k", "NK", "?", "can't remember", "pt unsure", "town")
ED_LOCATION_TEMPLATES = VENUE_TEMPLATES + STREET_TEMPLATES + HOME_TEMPLATES + UNKNOWN_TEXTS
POLICE_LOCATION_TEMPLATES = {
    "venue": ("O/S {venue}, {street}", "{venue}, {street}, CARDIFF", "{venue} PUBLIC HOUSE", "INSIDE {venue}"),
    "street": ("{street}, CARDIFF", "{street}", "NEAR {num} {street}"),
    "home": ("{num} {street}", "{num} {street}, CARDIFF", "FLAT {flat}, {num} {street}, CARDIFF"),
}
NAMES = ("Dave", "Gaz", "Kelly", "Jamie", "Rhys", "Ceri", "Sian", "Dai", "Lee", "Bethan")
PHONES = tuple(f"07700 900{i:03d}" for i in range(1000))  # Ofcom's range for drama: nobody's
# ED location type codes, consistent with the kind of place the text describes.
LOCATION_TYPES = {
    "venue": (("01", "02", "07"), (0.85, 0.10, 0.05)),
    "street": (("02", "06", "04", "05", "07", "99"), (0.82, 0.06, 0.03, 0.02, 0.04, 0.03)),
    "home": (("03", "99"), (0.95, 0.05)),
    "unknown": (("99", "02", "07"), (0.60, 0.25, 0.15)),
}
POSTCODE_DISTRICTS = {
    "CF10": 0.12,
    "CF11": 0.14,
    "CF14": 0.16,
    "CF15": 0.06,
    "CF23": 0.10,
    "CF24": 0.22,
    "CF3": 0.10,
    "CF5": 0.10,
}
UNIT_LETTERS = tuple("ABDEFGHJLNPQRSTUWXYZ")  # letters used in the inward code of UK postcodes
ED_BAD_KINDS = ("unknown_method", "assault_after_arrival", "impossible_date", "nhs_check_digit", "blank_attendance_id")
POLICE_BAD_KINDS = ("blank_crime_reference", "unknown_offence", "bad_latitude")
MINUTE = np.timedelta64(1, "m")
KINDS = ("venue", "street", "home", "unknown")  # what a location text describes, coded 0..3
VENUE, STREET, HOME, UNKNOWN = range(4)


# --- Arrow string helpers ---
def _s(values) -> pa.Array:
    return pa.array(list(values), pa.string())


def _idx(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64))


def _take(options, index) -> pa.Array:
    return pc.take(options if isinstance(options, pa.Array) else _s(options), _idx(index))


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _where(mask, a, b) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), a, b)


def _int_str(values, width: int = 1) -> pa.Array:
    return pc.utf8_lpad(_idx(values).cast(pa.string()), width, "0")


def _put(arr: pa.Array, rows: np.ndarray, values) -> pa.Array:
    """arr with arr[rows] = values (a string for all, or one value per row): Arrow is immutable."""
    values = _s([values] * len(rows)) if isinstance(values, str) else values
    index = np.arange(len(arr))
    index[rows] = len(arr) + np.arange(len(rows))
    values = values if isinstance(values, pa.Array) else _s(values)
    return pc.take(pa.concat_arrays([arr, values]), _idx(index))


def _fmt(ts: np.ndarray, fmt: str) -> pa.Array:
    """Format datetimes, each distinct value once (NaT gives ""). Big arrays are dense in a small
    range (a month of minutes, a lifetime of days), so index into the whole range: no sort."""
    valid = ~np.isnat(ts)
    ticks = ts.astype(np.int64)
    ticks = np.where(valid, ticks, ticks[valid].min() if valid.any() else 0)
    lo, hi = (ticks.min(), ticks.max()) if len(ticks) else (0, 0)
    if hi - lo < len(ticks):
        table, index = np.arange(lo, hi + 1), ticks - lo
    else:
        table, index = np.unique(ticks, return_inverse=True)
    text = pd.DatetimeIndex(table.astype(ts.dtype)).strftime(fmt).to_numpy(dtype=object)
    return _where(valid, _take(pa.array(text, pa.string()), index.ravel()), "")


# --- Numbers, people, places, times ---
def _nhs_check_digit(nine_digits) -> np.ndarray:
    """Modulus 11 check digit of rows of nine digits; 10 means no valid number has that stem."""
    nine = np.atleast_2d(np.asarray(nine_digits, dtype=np.int64))
    check = 11 - (nine @ np.arange(10, 1, -1)) % 11
    return np.where(check == 11, 0, check)


def _valid_nhs_stems(rng, n: int) -> np.ndarray:
    nine = rng.integers(0, 10, (n, 9))
    nine[:, 0] = rng.integers(4, 8, n)
    while (redo := _nhs_check_digit(nine) == 10).any():  # stems with check digit 10 are never issued
        nine[redo] = np.c_[rng.integers(4, 8, redo.sum()), rng.integers(0, 10, (redo.sum(), 8))]
    return nine


def _nhs_strings(nine: np.ndarray, check: np.ndarray, spaced: np.ndarray) -> pa.Array:
    """ "943 476 5919" where `spaced`, else "9434765919"."""
    plain = _int_str(nine @ 10 ** np.arange(9, 0, -1) + check, 10)
    cut = [pc.utf8_slice_codeunits(plain, a, b) for a, b in ((0, 3), (3, 6), (6, 10))]
    return _where(spaced, _join(cut[0], " ", cut[1], " ", cut[2]), plain)


def _dobs(rng, n: int, when: np.ndarray) -> np.ndarray:
    """Dates of birth: mostly 16-45 and skewed young, a few children and older people."""
    age = np.where(rng.random(n) < 0.03, rng.uniform(10, 16, n), 16 + rng.gamma(2.0, 6.5, n))
    return when.astype("datetime64[D]") - (np.minimum(age, 90) * 365.25).astype(np.int64)


def _postcodes(rng, n: int) -> pa.Array:
    """Cardiff-style full postcodes, e.g. "CF24 4HU"."""
    district = rng.choice(len(POSTCODE_DISTRICTS), n, p=list(POSTCODE_DISTRICTS.values()))
    letters = rng.integers(0, len(UNIT_LETTERS), (n, 2))
    return _join(
        _take(list(POSTCODE_DISTRICTS), district),
        " ",
        _int_str(rng.integers(0, 10, n)),
        _take(UNIT_LETTERS, letters[:, 0]),
        _take(UNIT_LETTERS, letters[:, 1]),
    )


@cache
def _places() -> pd.DataFrame:
    """The gazetteer plus names as people say them, sampling weights and each venue's street."""
    g = pd.DataFrame([asdict(p) for p in gazetteer()])
    g["name"] = g["name"].str.replace(r"'S\b", "'s", regex=True)  # "St Andrew'S Lane"
    venue, street = g["kind"].eq("venue"), g["kind"].eq("street")
    # People say "Slug & Lettuce", not "Slug & Lettuce Cardiff Central".
    short = g["name"].str.split(r" /|\(| Cardiff\b| Ltd\b", regex=True).str[0].str.strip()
    g["spoken"] = g["name"].where(street, short)
    g["venue_short"] = g["spoken"].str.removeprefix("The ")
    g["alias"] = g["name"].map(STREET_ALIASES).fillna(g["spoken"])
    for c in ("name", "alias"):  # "caroline st", "richmond rd"
        g[f"{c}_abbr"] = g[c].str.replace(
            r"\b(Street|Road|Avenue|Lane|Terrace)$", lambda m: ABBREVIATIONS[m[1]], regex=True
        )
    lat, lon = g["latitude"].to_numpy(float), g["longitude"].to_numpy(float)
    # Officers write "O/S <venue>, <street>": give each venue its nearest street.
    d = (lat[:, None] - lat[street]) ** 2 + ((lon[:, None] - lon[street]) * 0.62) ** 2
    near = g.loc[street, "alias"].to_numpy()[np.nan_to_num(d, nan=np.inf).argmin(axis=1)]
    g["near_street"] = np.where(venue & g["latitude"].notna(), near, "Cardiff")
    centre = g["latitude"].between(*CENTRE[:2]) & g["longitude"].between(*CENTRE[2:])
    g["w_centre"] = centre * (1 + 14 * g["name"].isin(HOT_PLACES))
    g["w_other"] = ~centre * (1 + 2 * venue)
    g["w_home"] = (~centre & street).astype(int)
    return g


@cache
def _place_text() -> dict[str, pa.Array]:
    g = _places()
    return {
        c: _s(g[c])
        for c in ("place_id", "name", "spoken", "venue_short", "alias", "name_abbr", "alias_abbr", "near_street")
    }


def _draw_places(rng, n: int, shares: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Place row numbers and whether each is a dwelling, for n incidents."""
    g = _places()
    cats = rng.choice(list(shares), n, p=list(shares.values()))
    idx = np.empty(n, dtype=np.int64)
    for cat in shares:
        w = g[f"w_{cat}"].to_numpy(float)
        idx[cats == cat] = rng.choice(len(g), (cats == cat).sum(), p=w / w.sum())
    return idx, cats == "home"


def _night_weights(start: date, days: int) -> np.ndarray:
    """Relative assault risk for each hour of the month: Friday and Saturday nights dominate."""
    hours = np.arange(days * 24)
    h, dow = hours % 24, (start.weekday() + hours // 24) % 7
    night_of = np.where(h < 3, (dow - 1) % 7, dow)  # 01:00 Sunday belongs to Saturday night
    weekend = np.isin(night_of, (4, 5))
    night = np.array([2, 2, 2, 4, 10, 10, 3])[night_of]  # Mon..Sun nights
    return np.select([(h >= 21) | (h < 3), h < 6, h < 17], [night, 1 + 2 * weekend, 0.3], 1 + weekend)


def _times(rng, n: int, start: np.datetime64, weights: np.ndarray) -> np.ndarray:
    hour = rng.choice(len(weights), n, p=weights / weights.sum())
    return start + hour * 60 * MINUTE + rng.integers(0, 60, n) * MINUTE


# --- Free text ---
def _fill(templates, pick: np.ndarray, fields: dict[str, pa.Array]) -> pa.Array:
    """Row i gets templates[pick[i]] filled from fields[...][i]: one template at a time."""
    texts, order = [_s([])], [np.empty(0, dtype=np.int64)]
    for t, template in enumerate(templates):
        rows = np.flatnonzero(pick == t)
        pieces = [_take([""], np.zeros(len(rows)))]
        for literal, field, _, _ in string.Formatter().parse(template):
            pieces += [literal] + ([pc.take(fields[field], _idx(rows))] if field else [])
        texts.append(_join(*pieces))
        order.append(rows)
    return _take(pa.concat_arrays(texts), np.argsort(np.concatenate(order), kind="stable"))


def _pick_template(groups: dict[str, tuple[str, ...]], kind: np.ndarray, k: np.ndarray):
    """All templates in one tuple, and for each row one template of the group for its kind."""
    sizes = np.array([len(groups[kd]) for kd in KINDS if kd in groups])
    return sum(groups.values(), ()), np.r_[0, np.cumsum(sizes)[:-1]][kind] + k % sizes[kind]


def _typed(rng, text: pa.Array) -> pa.Array:
    """As a busy receptionist types: inconsistent case, now and then a letter dropped or swapped."""
    u, pos = rng.random((len(text), 2)), rng.integers(0, 10**6, len(text))
    text = pc.utf8_trim_whitespace(text)
    text = _where(u[:, 0] < 0.55, pc.utf8_lower(text), _where(u[:, 0] < 0.7, pc.utf8_upper(text), text))
    rows = np.flatnonzero(u[:, 1] < 0.07)
    slips = []
    for i, s in zip(rows.tolist(), _take(text, rows).to_pylist()):
        if len(s) > 4:
            j = 1 + pos[i] % (len(s) - 3)
            s = s[:j] + s[j + 1 :] if u[i, 1] < 0.035 else s[:j] + s[j + 1] + s[j] + s[j + 2 :]
        slips.append(s)
    return _put(text, rows, slips)


def _ed_location_text(rng, kind: np.ndarray, place: np.ndarray, num, postcode: pa.Array) -> pa.Array:
    n, p, P = len(kind), _place_text(), len(_places())
    u, k = rng.random((n, 2)), rng.integers(0, 10**6, (n, 3))
    # Four ways to say a street: alias or official name, abbreviated or not ("greyfriars rd").
    form = np.select([u[:, 1] < 0.3, u[:, 1] < 0.6, u[:, 1] < 0.8], [0, 1, 2], 3)
    streets = pa.concat_arrays([p["alias"], p["alias_abbr"], p["name_abbr"], p["name"]])
    fields = {
        "venue": _take(pa.concat_arrays([p["venue_short"], p["spoken"]]), (u[:, 0] >= 0.4) * P + place),
        "street": _where(kind == VENUE, _take(p["near_street"], place), _take(streets, form * P + place)),
        "num": _int_str(num),
        "flat": _int_str(1 + k[:, 1] % 9),
        "postcode": postcode,
        "name": _take(NAMES, k[:, 2] % len(NAMES)),
        "phone": _take(PHONES, k[:, 1] % 1000),
    }
    groups = {"venue": VENUE_TEMPLATES, "street": STREET_TEMPLATES, "home": HOME_TEMPLATES, "unknown": UNKNOWN_TEXTS}
    return _typed(rng, _fill(*_pick_template(groups, kind, k[:, 0]), fields))


def _police_location_text(rng, kind: np.ndarray, place: np.ndarray, num) -> pa.Array:
    n, p = len(kind), _place_text()
    u, k = rng.random((n, 2)), rng.integers(0, 10**6, n)
    street = _where(u[:, 0] < 0.5, _take(p["alias"], place), _take(p["name"], place))
    fields = {
        "venue": _take(p["spoken"], place),
        "num": _int_str(num),
        "flat": _int_str(1 + k % 9),
        "street": _where(kind == VENUE, _take(p["near_street"], place), street),
    }
    text = pc.utf8_upper(_fill(*_pick_template(POLICE_LOCATION_TEMPLATES, kind, k), fields))
    text = pc.replace_substring(text, ", CARDIFF, CARDIFF", ", CARDIFF")  # venue without a street
    return _where(u[:, 1] < 0.03, "", text)


# --- Assembly ---
def _month_bounds(month: str) -> tuple[date, date]:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    start = date.fromisoformat(f"{month}-01")
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    # Arrivals run up to 6 hours past the month; none may be in the future.
    if pd.Timestamp(end) + pd.Timedelta(days=2) > pd.Timestamp(datetime.now()):
        raise ValueError(f"{month} has not ended: synthetic extracts are for past months")
    return start, end


def _n_bad(n: int, bad_rows: bool | int) -> int:
    """True: about 1%, at least one from 50 rows, none below. An int asks for exactly that many."""
    if isinstance(bad_rows, bool):
        return max(1, round(BAD_ROW_SHARE * n)) if bad_rows and n >= MIN_ROWS_FOR_BAD else 0
    return min(int(bad_rows), n)


def _faults(rng, n: int, bad_rows: bool | int, kinds: tuple[str, ...]):
    """Rows to spoil, the kinds in turn: the `_bad` truth column and the rows of each kind."""
    rows = rng.choice(n, _n_bad(n, bad_rows), replace=False)
    kind = np.arange(len(rows)) % len(kinds)
    column = np.zeros(n, dtype=np.int64)
    column[rows] = kind + 1
    return _take(("",) + kinds, column), {k: np.sort(rows[kind == j]) for j, k in enumerate(kinds)}


def _pick(rng, shares: dict[str, float], n: int) -> np.ndarray:
    return rng.choice(len(shares), n, p=list(shares.values()))


def _coord(x: np.ndarray, blank: np.ndarray) -> pa.Array:
    """Fixed six decimals ("51.477629"), built from integer micro-degrees."""
    micro = np.rint(np.nan_to_num(x) * 1e6).astype(np.int64)
    whole, frac = _int_str(abs(micro) // 10**6), _int_str(abs(micro) % 10**6, 6)
    return _where(blank, "", _join(_take(("", "-"), micro < 0), whole, ".", frac))


def _generate(
    month: str, seed: int, ed_rows: int, police_rows: int | None, bad_rows: bool | int, site_code: str = SITE_CODE
):
    """Both extracts as {header: Arrow strings, or one str for every row}, plus truth columns.

    Rows are made in time order (exports are), so each row's other draws are independent of it.
    """
    start, end = _month_bounds(month)
    police_rows = 3 * ed_rows if police_rows is None else police_rows
    rng = np.random.default_rng([seed, start.year, start.month])
    g, p, t0 = _places(), _place_text(), np.datetime64(start, "m")
    weights, place_kind = _night_weights(start, end.day), np.where(g["kind"] == "venue", VENUE, STREET)

    # --- ED: when, where, who, how ---
    assault = _times(rng, ed_rows, t0, weights)
    arrival = assault + np.minimum(10 + rng.gamma(1.5, 30, ed_rows), 360).astype(np.int64) * MINUTE
    order = np.argsort(arrival, kind="stable")
    assault, arrival = assault[order], arrival[order]
    place, home = _draw_places(rng, ed_rows, {"centre": 0.61, "other": 0.22, "home": 0.17})
    kind = np.where(home, HOME, place_kind[place])
    text_kind = np.where(rng.random(ed_rows) < 0.10, UNKNOWN, kind)  # 55/20/15% + 10% useless text
    person = np.arange(ed_rows)  # ~3% are repeat victims: the same person as another row
    repeat = rng.random(ed_rows) < 0.03
    person[repeat] = rng.integers(0, max(ed_rows, 1), repeat.sum())
    nine, dob = _valid_nhs_stems(rng, ed_rows)[person], _dobs(rng, ed_rows, assault)[person]
    sex = _pick(rng, {"1": 0.75, "2": 0.23, "9": 0.01, "X": 0.01}, ed_rows)[person]
    postcode = _take(_postcodes(rng, ed_rows), person)
    spaced = rng.random(ed_rows) < 0.5
    nhs = _where(rng.random(ed_rows) < 0.03, "", _nhs_strings(nine, _nhs_check_digit(nine), spaced))
    num = rng.integers(1, 180, ed_rows)  # house numbers, for dwellings
    method = _pick(rng, METHOD_SHARES, ed_rows)
    is_other = method == list(METHOD_SHARES).index("06")
    other = rng.integers(1, len(OTHER_METHOD_TEXTS) + 1, ed_rows) * is_other  # 0 is blank
    loc_type = np.zeros(ed_rows, dtype=np.int64)
    codes = sorted({c for cs, _ in LOCATION_TYPES.values() for c in cs})
    for kd, (cs, share) in LOCATION_TYPES.items():
        rows = text_kind == KINDS.index(kd)
        loc_type[rows] = np.array([codes.index(c) for c in cs])[rng.choice(len(cs), rows.sum(), p=share)]
    ids = rng.integers(10**7, 2 * 10**7) + np.cumsum(rng.integers(1, 4, ed_rows))  # sequential, with gaps
    ed = {
        "REPORTING PERIOD START DATE": start.strftime("%d/%m/%Y"),
        "REPORTING PERIOD END DATE": end.strftime("%d/%m/%Y"),
        "SITE CODE (OF TREATMENT)": site_code,
        "ATTENDANCE IDENTIFIER": _join("ED", _int_str(ids, 8)),
        "NHS NUMBER": nhs,
        "PERSON BIRTH DATE": _fmt(dob, "%d/%m/%Y"),
        "PERSON STATED GENDER CODE": _take(("1", "2", "9", "X"), sex),
        "POSTCODE OF USUAL ADDRESS": _where(rng.random(ed_rows) < 0.04, "", postcode),
        "ARRIVAL DATE AND TIME AT A&E": _fmt(arrival, "%d/%m/%Y %H:%M"),
        "ASSAULT DATE AND TIME": _fmt(assault, "%d/%m/%Y %H:%M"),
        "ASSAULT METHOD": _take(list(METHOD_SHARES), method),
        "ASSAULT METHOD OTHER DESCRIPTION": _take(("",) + OTHER_METHOD_TEXTS, other),
        "ASSAULT LOCATION TYPE": _take(codes, loc_type),
        "ASSAULT LOCATION DESCRIPTION": _ed_location_text(rng, text_kind, place, num, postcode),
        "_incident": np.arange(ed_rows),
        "_place_id": _take(p["place_id"], place),
    }

    # --- Police: ~40% of ED assaults (same place, within 30 minutes), then police-only crimes ---
    n_link = min(round(LINK_SHARE * ed_rows), police_rows)
    n_only = police_rows - n_link
    linked = np.r_[np.sort(rng.choice(ed_rows, n_link, replace=False)), np.full(n_only, -1)]
    p_place, p_home = _draw_places(rng, n_only, {"centre": 0.45, "other": 0.25, "home": 0.30})
    p_kind = np.r_[kind[linked[:n_link]], np.where(p_home, HOME, place_kind[p_place])]
    p_place = np.r_[place[linked[:n_link]], p_place]
    drift = rng.integers(-30, 31, n_link) * MINUTE
    committed = np.r_[
        np.clip(assault[linked[:n_link]] + drift, t0, t0 + (end.day * 1440 - 1) * MINUTE),
        _times(rng, n_only, t0, weights),
    ]
    order = np.argsort(committed, kind="stable")
    linked, p_place, p_kind, committed = linked[order], p_place[order], p_kind[order], committed[order]
    known, src = linked >= 0, np.maximum(linked, 0)  # `src`: the ED row, for linked crimes
    offence = _pick(rng, OFFENCE_SHARES, police_rows)
    labels = {c.code: c.label.upper() for c in load_codelist("violent_offence").codes}
    p_dob = np.where(known, dob[src], _dobs(rng, police_rows, committed))  # the same victim as in ED
    p_sex = np.where(known, sex[src], _pick(rng, {"1": 0.60, "2": 0.38, "9": 0, "X": 0.02}, police_rows))
    gbh = offence == list(OFFENCE_SHARES).index("005/01")
    armed = np.where(known, np.isin(method[src], [2, 3, 4]), rng.random(police_rows) < np.where(gbh, 0.6, 0.15))
    p_num = np.where(known, num[src], rng.integers(1, 180, police_rows))
    jitter = rng.normal(0, 30, (police_rows, 2)) / [111_320, 111_320 * 0.62]  # ~30 m, in degrees
    lat = g["latitude"].to_numpy(float)[p_place] + jitter[:, 0]
    lon = g["longitude"].to_numpy(float)[p_place] + jitter[:, 1]
    no_point = np.isnan(lat) | (rng.random(police_rows) < 0.05)
    to = committed + rng.integers(0, 61, police_rows) * MINUTE
    refs = rng.integers(100_000, 400_000) + np.cumsum(rng.integers(1, 4, police_rows))
    police = {
        "FORCE CODE": FORCE_CODE,
        "CRIME REFERENCE": _join("SW/", _int_str(refs, 6), f"/{start.year % 100:02d}"),
        "HOME OFFICE OFFENCE CODE": _take(list(OFFENCE_SHARES), offence),
        "OFFENCE DESCRIPTION": _take([labels[c] for c in OFFENCE_SHARES], offence),
        "COMMITTED FROM": _fmt(committed, "%Y-%m-%d %H:%M:%S"),
        "COMMITTED TO": _where(rng.random(police_rows) < 0.30, "", _fmt(to, "%Y-%m-%d %H:%M:%S")),
        "LOCATION": _police_location_text(rng, p_kind, p_place, p_num),
        "LATITUDE": _coord(lat, no_point),
        "LONGITUDE": _coord(lon, no_point),
        "VICTIM DATE OF BIRTH": _where(rng.random(police_rows) < 0.10, "", _fmt(p_dob, "%d/%m/%Y")),
        "VICTIM SEX": _take(("1", "2", "9", "X"), p_sex),
        "WEAPON USED": _take(("N", "Y", ""), np.where(rng.random(police_rows) < 0.05, 2, armed)),
        "_incident": linked,
        "_place_id": _take(p["place_id"], p_place),
    }

    # --- Deliberate faults, so that validation and quarantine have something to catch ---
    ed["_bad"], rows = _faults(rng, ed_rows, bad_rows, ED_BAD_KINDS)
    for col in ("ASSAULT METHOD", "ASSAULT METHOD OTHER DESCRIPTION"):
        ed[col] = _put(ed[col], rows["unknown_method"], "7" if col == "ASSAULT METHOD" else "")
    i = rows["assault_after_arrival"]
    ed["ARRIVAL DATE AND TIME AT A&E"] = _put(
        ed["ARRIVAL DATE AND TIME AT A&E"], i, _fmt(assault[i] - 45 * MINUTE, "%d/%m/%Y %H:%M")
    )
    i = rows["impossible_date"]
    year = pc.utf8_slice_codeunits(_take(ed["PERSON BIRTH DATE"], i), 6)
    ed["PERSON BIRTH DATE"] = _put(ed["PERSON BIRTH DATE"], i, _join("31/02/", year))
    i = rows["nhs_check_digit"]  # always printed: a wrong number is worse than a missing one
    wrong = (_nhs_check_digit(nine[i]) + rng.integers(1, 10, len(i))) % 10
    ed["NHS NUMBER"] = _put(ed["NHS NUMBER"], i, _nhs_strings(nine[i], wrong, np.zeros(len(i), dtype=bool)))
    ed["ATTENDANCE IDENTIFIER"] = _put(ed["ATTENDANCE IDENTIFIER"], rows["blank_attendance_id"], "")
    police["_bad"], rows = _faults(rng, police_rows, bad_rows, POLICE_BAD_KINDS)
    police["CRIME REFERENCE"] = _put(police["CRIME REFERENCE"], rows["blank_crime_reference"], "")
    # An out-of-scope offence (burglary) slipping into the extract.
    i = rows["unknown_offence"]
    police["HOME OFFICE OFFENCE CODE"] = _put(police["HOME OFFICE OFFENCE CODE"], i, "028/01")
    police["OFFENCE DESCRIPTION"] = _put(police["OFFENCE DESCRIPTION"], i, "BURGLARY IN A DWELLING")
    police["LATITUDE"] = _put(police["LATITUDE"], rows["bad_latitude"], "abc")
    return ed, police


def _columns(data: dict, names) -> dict[str, pa.Array]:
    n = len(data["_incident"])
    return {c: _take([data[c]], np.zeros(n)) if isinstance(data[c], str) else data[c] for c in names}


def generate_frames(
    month: str, seed: int = 0, ed_rows: int = 1000, police_rows: int | None = None, bad_rows: bool | int = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two extracts as frames of strings, exactly as `generate_month` writes them, plus truth.

    After the schema headers come `_incident` (the ED row number; the same number on a
    police row means the same assault, -1 for police-only), `_place_id` (gazetteer place) and
    `_bad` (the kind of deliberate fault, "" for a good row).
    """
    frames = _generate(month, seed, ed_rows, police_rows, bad_rows)
    return tuple(pa.table(_columns(d, d)).to_pandas() for d in frames)


def _quote(col: pa.Array) -> pa.Array:
    """CSV minimal quoting (as csv.QUOTE_MINIMAL), vectorised; most columns never need it."""
    data = col.buffers()[2].to_pybytes() if col.buffers()[2] else b""  # may hold unused bytes: a hint
    if not any(ch in data for ch in (b",", b'"', b"\r", b"\n")):
        return col
    return pc.if_else(
        pc.match_substring_regex(col, r'[",\r\n]'), _join('"', pc.replace_substring(col, '"', '""'), '"'), col
    )


def generate_month(
    month: str,
    out_dir: Path,
    seed: int = 0,
    ed_rows: int = 1000,
    police_rows: int | None = None,
    bad_rows: bool | int = True,
    site_code: str = SITE_CODE,
) -> dict[str, Path]:
    """Write `ed_<month>.csv` and `police_<month>.csv` into out_dir; same seed, same bytes. An ED
    site other than the default one (a second ED of the region) writes `ed_<month>_<site>.csv`.

    `police_rows` defaults to 3 * ed_rows. `bad_rows`: True for ~1% faulty rows (none under 50
    rows), False for none, an int for exactly that many in each file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for source, data in zip(("ed", "police"), _generate(month, seed, ed_rows, police_rows, bad_rows, site_code)):
        headers = [f.header for f in load_schema(f"{source}_extract").fields]
        columns = [_quote(c) for c in _columns(data, headers).values()]
        site = f"_{site_code}" if source == "ed" and site_code != SITE_CODE else ""
        paths[source] = out_dir / f"{source}_{month}{site}.csv"
        with paths[source].open("wb") as fh:
            fh.write((",".join(_quote(_s(headers)).to_pylist()) + "\n").encode())
            for a in range(0, len(data["_incident"]), 200_000):  # chunks keep Arrow's 32-bit offsets safe
                lines = pc.binary_join_element_wise(*(c.slice(a, 200_000) for c in columns), ",")
                one = pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines)
                lines = pc.binary_join(one, "\n")  # the whole chunk as one string
                fh.write(lines[0].as_buffer())
                fh.write(b"\n")
    return paths
