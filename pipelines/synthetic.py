"""Seeded synthetic ED and police extracts that look like a month of Cardiff violence.

Real extracts are identifiable, so every stage of the pipeline is built and tested on these. They
imitate what makes the real ones hard: night-time-economy hotspots, free text typed in a hurry
(abbreviations, typos, names, phone numbers), ~40% of ED assaults also known to the police, and
about 1% of malformed rows. Places come from the project gazetteer, so a resolver can be scored
against the truth: `generate_frames` keeps hidden `_incident`, `_place_id` and `_bad` columns.
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

from pipelines.lib.reference import gazetteer
from schemas.model import load_codelist, load_schema

SITE_CODE, FORCE_CODE = "7A4BV", "SWP"
LINK_SHARE = 0.40  # share of ED assaults the police also recorded
BAD_ROW_SHARE, MIN_ROWS_FOR_BAD = 0.01, 50
CENTRE = (51.475, 51.487, -3.185, -3.165)  # lat min, lat max, lon min, lon max
# A dozen heavily weighted places, so that hotspots emerge as they do in the real data.
HOT_PLACES = (
    "Caroline Street", "St Mary Street", "Queen Street", "Fford Churchill", "Heol Y Brodyr Llwydion",
    "Heol Y Castell", "The Prince of Wales", "Popworld", "Great Western Lloyds Bar",
    "Tonight Josephine Cardiff", "PULSE", "The Live Lounge", "Kapu",
)
# What people call a street; the gazetteer (from data.police.uk) often has the Welsh name.
STREET_ALIASES = {
    "Fford Churchill": "Churchill Way", "Heol Y Brodyr Llwydion": "Greyfriars Road",
    "Heol Y Castell": "Castle Street", "Stryd Y Cei": "Quay Street", "Heol Siarl": "Charles Street",
    "Stryd Herbert": "Herbert Street", "Stryd John": "John Street", "St Mary Street": "St Marys Street",
}
ABBREVIATIONS = {"Street": "st", "Road": "rd", "Avenue": "ave", "Lane": "ln", "Terrace": "tce"}
METHOD_SHARES = {"01": .45, "02": .15, "03": .10, "04": .08, "05": .07, "06": .10, "99": .05}
OTHER_METHOD_TEXTS = ("headbutt", "bitten", "pushed to ground", "stamped on", "slapped",
                      "pushed down stairs", "hit with phone", "strangled", "scratched")
OFFENCE_SHARES = {"105/01": .45, "008/01": .33, "008/02": .08, "005/01": .07, "008/10": .04,
                  "009/01": .03}
# Receptionists' location text. {venue}/{street} are filled with the place as people say it.
VENUE_TEMPLATES = ("{venue}", "o/s {venue}", "in {venue}", "inside {venue}", "nr {venue} pub",
                   "outside {venue}", "o/s {venue} {street}", "{venue} cc", "opp {venue}",
                   "smoking area {venue}", "bouncers at {venue}", "{venue} toilets")
STREET_TEMPLATES = ("{street}", "{street} cc", "on {street}", "nr {street}", "o/s shop on {street}",
                    "top of {street}", "taxi rank {street}", "bus stop {street}",
                    "corner of {street}", "{street}, cardiff", "walking down {street}")
HOME_TEMPLATES = ("home", "at home", "my flat", "friends house", "{num} {street}",
                  "his house on {street}", "flat {flat}, {num} {street} {postcode}",
                  "outside {name}'s house", "{name}'s flat {street}", "partners house",
                  "pt's mum {phone}", "at home - contact {phone}")
UNKNOWN_TEXTS = ("", "", "", "unknown", "n/k", "NK", "?", "can't remember", "pt unsure", "town")
ED_LOCATION_TEMPLATES = VENUE_TEMPLATES + STREET_TEMPLATES + HOME_TEMPLATES + UNKNOWN_TEXTS
POLICE_LOCATION_TEMPLATES = {
    "venue": ("O/S {venue}, {street}", "{venue}, {street}, CARDIFF", "{venue} PUBLIC HOUSE",
              "INSIDE {venue}"),
    "street": ("{street}, CARDIFF", "{street}", "NEAR {num} {street}"),
    "home": ("{num} {street}", "{num} {street}, CARDIFF", "FLAT {flat}, {num} {street}, CARDIFF"),
}
NAMES = ("Dave", "Gaz", "Kelly", "Jamie", "Rhys", "Ceri", "Sian", "Dai", "Lee", "Bethan")
# ED location type codes, consistent with the kind of place the text describes.
LOCATION_TYPES = {
    "venue": (("01", "02", "07"), (.85, .10, .05)),
    "street": (("02", "06", "04", "05", "07", "99"), (.82, .06, .03, .02, .04, .03)),
    "home": (("03", "99"), (.95, .05)),
    "unknown": (("99", "02", "07"), (.60, .25, .15)),
}
POSTCODE_DISTRICTS = ("CF10", "CF11", "CF14", "CF15", "CF23", "CF24", "CF3", "CF5")
UNIT_LETTERS = tuple("ABDEFGHJLNPQRSTUWXYZ")  # letters used in the inward code of UK postcodes
ED_BAD_KINDS = ("unknown_method", "assault_after_arrival", "impossible_date", "nhs_check_digit",
                "blank_attendance_id")
POLICE_BAD_KINDS = ("blank_crime_reference", "unknown_offence", "bad_latitude")
TRUTH_COLUMNS = ("_incident", "_place_id", "_bad")
MINUTE = np.timedelta64(1, "m")
PHONES = np.array([f"07700 900{i:03d}" for i in range(1000)], dtype=object)  # Ofcom's drama range


def _nhs_check_digit(nine_digits) -> np.ndarray:
    """Modulus 11 check digit of rows of nine digits; 10 means no valid number has that stem."""
    nine = np.atleast_2d(np.asarray(nine_digits, dtype=np.int64))
    check = 11 - (nine @ np.arange(10, 1, -1)) % 11
    return np.where(check == 11, 0, check)


@cache
def _places() -> pd.DataFrame:
    """The gazetteer plus what the generator needs: names as people say them, weights, nearest street."""
    g = pd.DataFrame([asdict(p) for p in gazetteer()])
    g["name"] = g["name"].str.replace(r"'S\b", "'s", regex=True)  # "St Andrew'S Lane"
    venue, street = g["kind"].eq("venue"), g["kind"].eq("street")
    # People say "Slug & Lettuce", not "Slug & Lettuce Cardiff Central".
    short = g["name"].str.split(r" /|\(| Cardiff\b| Ltd\b", regex=True).str[0].str.strip()
    g["spoken"] = g["name"].where(street, short)
    g["venue_short"] = g["spoken"].str.removeprefix("The ")
    g["alias"] = g["name"].map(STREET_ALIASES).fillna(g["spoken"])
    suffix = r"\b(Street|Road|Avenue|Lane|Terrace)$"
    for c in ("name", "alias"):  # "caroline st", "richmond rd"
        g[f"{c}_abbr"] = g[c].str.replace(suffix, lambda m: ABBREVIATIONS[m[1]], regex=True)
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


def _draw_places(rng, n: int, shares: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Place row numbers and category ("centre", "other", "home") for n incidents."""
    g = _places()
    cats = rng.choice(list(shares), n, p=list(shares.values()))
    idx = np.empty(n, dtype=np.int64)
    for cat in shares:
        m = cats == cat
        w = g[f"w_{cat}"].to_numpy(float)
        idx[m] = rng.choice(len(g), m.sum(), p=w / w.sum())
    return idx, cats


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


def _fmt(ts: np.ndarray, fmt: str) -> np.ndarray:
    """strftime over unique values only (a month has few distinct minutes, so this is fast); NaT -> ""."""
    uniq, inv = np.unique(ts, return_inverse=True)
    return pd.DatetimeIndex(uniq).strftime(fmt).fillna("").to_numpy(dtype=object)[inv.ravel()]


def _dobs(rng, n: int, when: np.ndarray) -> np.ndarray:
    """Dates of birth: mostly 16-45 and skewed young, a few children and older people."""
    age = np.where(rng.random(n) < 0.03, rng.uniform(10, 16, n), 16 + rng.gamma(2.0, 6.5, n))
    days = (np.minimum(age, 90) * 365.25).astype(np.int64)
    return when.astype("datetime64[D]") - days


def _postcodes(rng, n: int) -> np.ndarray:
    district = rng.choice(POSTCODE_DISTRICTS, n, p=[.12, .14, .16, .06, .10, .22, .10, .10])
    unit = rng.integers(0, 10, n).astype(str).astype(object) + rng.choice(UNIT_LETTERS, n) + rng.choice(UNIT_LETTERS, n)
    return district.astype(object) + " " + unit


def _nhs_numbers(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Valid NHS numbers as printed (some "943 476 5919", some plain) and their first nine digits."""
    nine = rng.integers(0, 10, (n, 9))
    nine[:, 0] = rng.integers(4, 8, n)
    while (redo := _nhs_check_digit(nine) == 10).any():  # stems with check digit 10 are unused
        nine[redo] = np.c_[rng.integers(4, 8, redo.sum()), rng.integers(0, 10, (redo.sum(), 8))]
    return _digits(nine, _nhs_check_digit(nine), spaced=rng.random(n) < 0.5), nine


def _digits(nine: np.ndarray, check: np.ndarray, spaced: np.ndarray) -> np.ndarray:
    """Ten-digit numbers from stems and check digits, "943 476 5919" where `spaced`, else plain."""
    values = (nine @ 10 ** np.arange(9, 0, -1) + check).tolist()
    return np.array([f"{v // 10**7:03d} {v // 10**4 % 1000:03d} {v % 10**4:04d}" if s else f"{v:010d}"
                     for v, s in zip(values, spaced.tolist())], dtype=object)


def _fill(templates: tuple[str, ...], pick: np.ndarray, fields: dict[str, np.ndarray]) -> np.ndarray:
    """Row i gets templates[pick[i]] filled from fields[...][i]: one template at a time, vectorised."""
    out = np.full(len(pick), "", dtype=object)
    for t, template in enumerate(templates):
        rows = np.flatnonzero(pick == t)
        text = np.full(len(rows), "", dtype=object)
        for literal, field, _, _ in string.Formatter().parse(template):
            text = text + literal + (fields[field][rows] if field else "")
        out[rows] = text
    return out


def _pick_template(groups: dict[str, tuple[str, ...]], kind: np.ndarray, k: np.ndarray):
    """All templates in one tuple, and for each row one template of the group for its kind."""
    sizes = np.array([len(t) for t in groups.values()])
    group = pd.Index(list(groups)).get_indexer(kind)
    return sum(groups.values(), ()), np.r_[0, np.cumsum(sizes)[:-1]][group] + k % sizes[group]


def _typed(text: np.ndarray, u_case: np.ndarray, u_typo: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Text as a busy receptionist types it: inconsistent case, now and then a dropped or swapped letter."""
    text = np.array([s.strip() for s in text], dtype=object)
    lower, upper = u_case < 0.55, (u_case >= 0.55) & (u_case < 0.7)
    text[lower] = [s.lower() for s in text[lower]]
    text[upper] = [s.upper() for s in text[upper]]
    for i in np.flatnonzero((u_typo < 0.07) & (np.array([len(s) for s in text], dtype=int) > 4)):
        s, j = text[i], 1 + pos[i] % (len(text[i]) - 3)
        text[i] = s[:j] + s[j + 1:] if u_typo[i] < 0.035 else s[:j] + s[j + 1] + s[j] + s[j + 2:]
    return text


def _ed_location_text(rng, kind: np.ndarray, place: np.ndarray, num, postcode) -> np.ndarray:
    n, g = len(kind), _places()
    u, k = rng.random((n, 5)), rng.integers(0, 10**6, (n, 3))
    col = lambda c: g[c].to_numpy(dtype=object)[place]  # noqa: E731
    street = np.select([u[:, 1] < 0.3, u[:, 1] < 0.6, u[:, 1] < 0.8],
                       [col("alias"), col("alias_abbr"), col("name_abbr")], col("name"))
    fields = {
        "venue": np.where(u[:, 0] < 0.4, col("venue_short"), col("spoken")),
        "street": np.where(kind == "venue", col("near_street"), street),
        "num": num.astype(str).astype(object), "flat": (1 + k[:, 1] % 9).astype(str).astype(object),
        "postcode": postcode, "name": np.array(NAMES, dtype=object)[k[:, 2] % len(NAMES)],
        "phone": PHONES[k[:, 1] % 1000],
    }
    groups = {"venue": VENUE_TEMPLATES, "street": STREET_TEMPLATES, "home": HOME_TEMPLATES,
              "unknown": UNKNOWN_TEXTS}
    templates, pick = _pick_template(groups, kind, k[:, 0])
    return _typed(_fill(templates, pick, fields), u[:, 2], u[:, 3], k[:, 2])


def _police_location_text(rng, kind: np.ndarray, place: np.ndarray, num) -> np.ndarray:
    n, g = len(kind), _places()
    u, k = rng.random((n, 2)), rng.integers(0, 10**6, n)
    col = lambda c: g[c].to_numpy(dtype=object)[place]  # noqa: E731
    fields = {
        "venue": col("spoken"),
        "street": np.where(kind == "venue", col("near_street"), np.where(u[:, 0] < 0.5, col("alias"), col("name"))),
        "num": num.astype(str).astype(object), "flat": (1 + k % 9).astype(str).astype(object),
    }
    templates, pick = _pick_template(POLICE_LOCATION_TEMPLATES, kind, k)
    text = np.array([s.upper() for s in _fill(templates, pick, fields)], dtype=object)
    no_street = (kind == "venue") & (col("near_street") == "Cardiff")  # a venue with no coordinates
    text[no_street] = [s.replace(", CARDIFF, CARDIFF", ", CARDIFF") for s in text[no_street]]
    text[u[:, 1] < 0.03] = ""
    return text


def _n_bad(n: int, bad_rows: bool | int) -> int:
    """True: about 1%, at least one from 50 rows, none below. An int asks for exactly that many."""
    if isinstance(bad_rows, bool):
        return max(1, round(BAD_ROW_SHARE * n)) if bad_rows and n >= MIN_ROWS_FOR_BAD else 0
    return min(int(bad_rows), n)


def _pick(rng, codes_shares: dict[str, float], n: int) -> np.ndarray:
    return rng.choice(list(codes_shares), n, p=list(codes_shares.values())).astype(object)


def _month_bounds(month: str) -> tuple[date, date]:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    start = date.fromisoformat(f"{month}-01")
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    # Arrivals run up to 6 hours past the month; none may be in the future.
    if pd.Timestamp(end) + pd.Timedelta(days=2) > pd.Timestamp(datetime.now()):
        raise ValueError(f"{month} has not ended: synthetic extracts are for past months")
    return start, end


def _faults(rng, n: int, bad_rows: bool | int, kinds: tuple[str, ...]):
    """Rows to spoil, the kinds in turn: the `_bad` truth column and the rows of each kind."""
    rows = rng.choice(n, _n_bad(n, bad_rows), replace=False)
    kind = np.array(kinds, dtype=object)[np.arange(len(rows)) % len(kinds)]
    column = np.full(n, "", dtype=object)
    column[rows] = kind
    return column, {k: rows[kind == k] for k in kinds}


def _fmt_coord(x: np.ndarray, blank: np.ndarray) -> np.ndarray:
    return np.array(["" if b else f"{v:.6f}" for v, b in zip(x.tolist(), blank.tolist())], dtype=object)


def _generate(month: str, seed: int, ed_rows: int, police_rows: int | None, bad_rows: bool | int):
    """Both extracts as {header: strings (array or one scalar)}, plus the hidden truth columns."""
    start, end = _month_bounds(month)
    police_rows = 3 * ed_rows if police_rows is None else police_rows
    rng = np.random.default_rng([seed, start.year, start.month])
    g, t0 = _places(), np.datetime64(start, "m")
    weights, place_ids, place_kinds = _night_weights(start, end.day), g["place_id"].to_numpy(), g["kind"].to_numpy()

    # --- ED: where, when, who, how ---
    place, cat = _draw_places(rng, ed_rows, {"centre": .61, "other": .22, "home": .17})
    kind = np.where(cat == "home", "home", place_kinds[place])
    text_kind = np.where(rng.random(ed_rows) < 0.10, "unknown", kind)  # 55/20/15% + 10% useless text
    assault = _times(rng, ed_rows, t0, weights)
    arrival = assault + np.minimum(10 + rng.gamma(1.5, 30, ed_rows), 360).astype(np.int64) * MINUTE
    nhs, nine = _nhs_numbers(rng, ed_rows)
    dob, postcode = _dobs(rng, ed_rows, assault), _postcodes(rng, ed_rows)
    sex = _pick(rng, {"1": .75, "2": .23, "9": .01, "X": .01}, ed_rows)
    repeat = np.flatnonzero(rng.random(ed_rows) < 0.03)  # repeat victims: the same person again
    src = rng.integers(0, max(ed_rows, 1), len(repeat))
    for arr in (nhs, nine, dob, sex, postcode):
        arr[repeat] = arr[src]
    nhs[rng.random(ed_rows) < 0.03] = ""
    num = rng.integers(1, 180, ed_rows)  # house numbers, for dwellings
    method = _pick(rng, METHOD_SHARES, ed_rows)
    loc_type = np.empty(ed_rows, dtype=object)
    for kd, (codes, p) in LOCATION_TYPES.items():
        loc_type[text_kind == kd] = rng.choice(codes, (text_kind == kd).sum(), p=p)
    ed = {
        "REPORTING PERIOD START DATE": start.strftime("%d/%m/%Y"),
        "REPORTING PERIOD END DATE": end.strftime("%d/%m/%Y"),
        "SITE CODE (OF TREATMENT)": SITE_CODE, "ATTENDANCE IDENTIFIER": None, "NHS NUMBER": nhs,
        "PERSON BIRTH DATE": _fmt(dob, "%d/%m/%Y"), "PERSON STATED GENDER CODE": sex,
        "POSTCODE OF USUAL ADDRESS": np.where(rng.random(ed_rows) < 0.04, "", postcode),
        "ARRIVAL DATE AND TIME AT A&E": _fmt(arrival, "%d/%m/%Y %H:%M"),
        "ASSAULT DATE AND TIME": _fmt(assault, "%d/%m/%Y %H:%M"),
        "ASSAULT METHOD": method,
        "ASSAULT METHOD OTHER DESCRIPTION": np.where(method == "06", rng.choice(OTHER_METHOD_TEXTS, ed_rows), ""),
        "ASSAULT LOCATION TYPE": loc_type,
        "ASSAULT LOCATION DESCRIPTION": _ed_location_text(rng, text_kind, place, num, postcode),
        "_incident": np.arange(ed_rows), "_place_id": place_ids[place],
    }

    # --- Police: ~40% of ED assaults (same place, within 30 minutes), then police-only crimes ---
    n_link = min(round(LINK_SHARE * ed_rows), police_rows)
    n_only = police_rows - n_link
    linked = np.sort(rng.choice(ed_rows, n_link, replace=False))
    p_place, p_cat = _draw_places(rng, n_only, {"centre": .45, "other": .25, "home": .30})
    p_kind = np.r_[kind[linked], np.where(p_cat == "home", "home", place_kinds[p_place])].astype(str)
    p_place = np.r_[place[linked], p_place]
    last = t0 + (end.day * 24 * 60 - 1) * MINUTE
    drift = rng.integers(-30, 31, n_link) * MINUTE
    committed = np.r_[np.clip(assault[linked] + drift, t0, last), _times(rng, n_only, t0, weights)]
    to = committed + rng.integers(0, 61, police_rows) * MINUTE
    offence = _pick(rng, OFFENCE_SHARES, police_rows)
    labels = {c.code: c.label.upper() for c in load_codelist("violent_offence").codes}
    p_dob = np.r_[dob[linked], _dobs(rng, n_only, committed[n_link:])]  # the same victim as in ED
    p_sex = np.r_[sex[linked], _pick(rng, {"1": .60, "2": .38, "X": .02}, n_only)]
    armed = np.r_[np.isin(method[linked], ("03", "04", "05")),
                  rng.random(n_only) < np.where(offence[n_link:] == "005/01", .6, .15)]
    jitter = rng.normal(0, 30, (police_rows, 2)) / [111_320, 111_320 * 0.62]  # ~30 m, in degrees
    lat = g["latitude"].to_numpy(float)[p_place] + jitter[:, 0]
    lon = g["longitude"].to_numpy(float)[p_place] + jitter[:, 1]
    no_point = np.isnan(lat) | (rng.random(police_rows) < 0.05)
    police = {
        "FORCE CODE": FORCE_CODE, "CRIME REFERENCE": None, "HOME OFFICE OFFENCE CODE": offence,
        "OFFENCE DESCRIPTION": pd.Series(offence, dtype=object).map(labels).to_numpy(dtype=object),
        "COMMITTED FROM": _fmt(committed, "%Y-%m-%d %H:%M:%S"),
        "COMMITTED TO": np.where(rng.random(police_rows) < 0.30, "", _fmt(to, "%Y-%m-%d %H:%M:%S")),
        "LOCATION": _police_location_text(rng, p_kind, p_place, np.r_[num[linked], rng.integers(1, 180, n_only)]),
        "LATITUDE": _fmt_coord(lat, no_point), "LONGITUDE": _fmt_coord(lon, no_point),
        "VICTIM DATE OF BIRTH": np.where(rng.random(police_rows) < 0.10, "", _fmt(p_dob, "%d/%m/%Y")),
        "VICTIM SEX": p_sex,
        "WEAPON USED": np.where(rng.random(police_rows) < 0.05, "", np.where(armed, "Y", "N")),
        "_incident": np.r_[linked, np.full(n_only, -1)], "_place_id": place_ids[p_place],
    }

    # Exports come in time order, with sequential local identifiers (gaps, as in real systems).
    order = np.argsort(arrival, kind="stable")
    ed = {c: v[order].astype(object) if isinstance(v, np.ndarray) else v for c, v in ed.items()}
    nine, assault = nine[order], assault[order]
    ids = rng.integers(10**7, 2 * 10**7) + np.cumsum(rng.integers(1, 4, ed_rows))
    ed["ATTENDANCE IDENTIFIER"] = np.array([f"ED{v:08d}" for v in ids.tolist()], dtype=object)
    order = np.argsort(committed, kind="stable")
    police = {c: v[order].astype(object) if isinstance(v, np.ndarray) else v for c, v in police.items()}
    refs = rng.integers(100_000, 400_000) + np.cumsum(rng.integers(1, 4, police_rows))
    police["CRIME REFERENCE"] = np.array([f"SW/{v:06d}/{start.year % 100:02d}" for v in refs.tolist()], dtype=object)

    # --- Deliberate faults, so that validation and quarantine have something to catch ---
    ed["_bad"], rows = _faults(rng, ed_rows, bad_rows, ED_BAD_KINDS)
    ed["ASSAULT METHOD"][rows["unknown_method"]] = "7"
    ed["ASSAULT METHOD OTHER DESCRIPTION"][rows["unknown_method"]] = ""
    i = rows["assault_after_arrival"]
    ed["ARRIVAL DATE AND TIME AT A&E"][i] = _fmt(assault[i] - 45 * MINUTE, "%d/%m/%Y %H:%M")
    i = rows["impossible_date"]
    ed["PERSON BIRTH DATE"][i] = ["31/02/" + s[-4:] for s in ed["PERSON BIRTH DATE"][i]]
    i = rows["nhs_check_digit"]  # always printed: a wrong number is worse than a missing one
    wrong = (_nhs_check_digit(nine[i]) + rng.integers(1, 10, len(i))) % 10
    ed["NHS NUMBER"][i] = _digits(nine[i], wrong, spaced=np.zeros(len(i), dtype=bool))
    ed["ATTENDANCE IDENTIFIER"][rows["blank_attendance_id"]] = ""
    police["_bad"], rows = _faults(rng, police_rows, bad_rows, POLICE_BAD_KINDS)
    police["CRIME REFERENCE"][rows["blank_crime_reference"]] = ""
    # An out-of-scope offence (burglary) slipping into the extract.
    police["HOME OFFICE OFFENCE CODE"][rows["unknown_offence"]] = "028/01"
    police["OFFENCE DESCRIPTION"][rows["unknown_offence"]] = "BURGLARY IN A DWELLING"
    police["LATITUDE"][rows["bad_latitude"]] = "abc"
    return ed, police


def generate_frames(month: str, seed: int = 0, ed_rows: int = 1000, police_rows: int | None = None,
                    bad_rows: bool | int = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ED and police extracts for `month` as string frames, with hidden truth columns.

    Columns are the schema headers, then `_incident` (ED row number before sorting; the same
    number on a police row means the same assault, -1 for police-only), `_place_id` and `_bad`
    (the kind of deliberate fault, "" for a good row). `bad_rows`: see `_n_bad`.
    """
    ed, police = _generate(month, seed, ed_rows, police_rows, bad_rows)
    return pd.DataFrame(ed), pd.DataFrame(police)


def _quoted(values: list[str]) -> list[str]:
    """CSV minimal quoting, checking the whole column in one pass: csv.writer is too slow here."""
    if not any(ch in "\x00".join(values) for ch in ',"\n\r'):
        return values
    return ['"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n\r') else v for v in values]


def generate_month(month: str, out_dir: Path, seed: int = 0, ed_rows: int = 1000,
                   police_rows: int | None = None, bad_rows: bool | int = True) -> dict[str, Path]:
    """Write `ed_<month>.csv` and `police_<month>.csv` into out_dir; same seed, same bytes.

    `police_rows` defaults to 3 * ed_rows. `bad_rows`: True for ~1% faulty rows (none under 50
    rows), False for none, an int for exactly that many in each file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for source, data in zip(("ed", "police"), _generate(month, seed, ed_rows, police_rows, bad_rows)):
        headers = [f.header for f in load_schema(f"{source}_extract").fields]
        n = len(data["_incident"])
        columns = [_quoted(data[h].tolist() if isinstance(data[h], np.ndarray) else [data[h]] * n) for h in headers]
        paths[source] = out_dir / f"{source}_{month}.csv"
        with paths[source].open("w", encoding="utf-8", newline="") as fh:
            fh.write(",".join(_quoted(headers)) + "\n")
            for a in range(0, n, 100_000):  # in chunks, to bound memory
                fh.write("".join(",".join(row) + "\n" for row in zip(*(c[a:a + 100_000] for c in columns))))
    return paths
