"""Apply one dataset's rules from a sharing agreement to typed extract rows.

Deny by default: the output holds only what a rule produces. `keep` copies a field (code-list
fields as their published key), `pseudonymise` replaces it by a keyed pseudonym, `generalise`
replaces it by a coarser value, and `drop` and every undeclared column produce nothing.
Free-text locations are resolved to a place and the text itself never reaches the output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from anonymise.area import AreaGeography, Placement
from anonymise.generalise import age_bands, postcode_district, spatial_cells, time_parts
from anonymise.pseudonyms import NORMALISERS, pseudonym_array, text_array

# Names of the columns each generalisation produces; one field per generalisation per dataset.
GENERALISED_COLUMNS = {
    "age_band": ["age_band"],
    "hour": ["month", "weekday", "hour", "event_hour"],
    "month": ["month"],
    "postcode_district": ["postcode_district"],
    "place": ["place_status", "place_id", "place_name"],
    "cell": ["cell_id"],
}


# What becomes of the rows, counted for each provider: rows_in = rows_out_of_scope +
# rows_out_of_area + rows_unlocated + rows_shared. Of the rows shared, rows_located have a map
# cell; of the unlocated ones (never shared: nothing says they happened in the area),
# rows_private were at a private dwelling and rows_ambiguous named several places.
COUNTS = (
    "rows_in",
    "rows_out_of_scope",
    "rows_out_of_area",
    "rows_shared",
    "rows_located",
    "rows_unlocated",
    "rows_private",
    "rows_ambiguous",
)
UNKNOWN_PROVIDER = "unknown"  # a row whose provider field is missing


@dataclass
class Pseudonymised:
    rows: pd.DataFrame
    counts_by_provider: dict[str, dict[str, int]]  # provider as delivered -> COUNTS
    fields: dict[str, list[str]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return total_counts(self.counts_by_provider)


def total_counts(counts_by_provider: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {name: sum(counts[name] for counts in counts_by_provider.values()) for name in COUNTS}


def add_counts(into: dict[str, dict[str, int]], more: Mapping[str, Mapping[str, int]]) -> None:
    """Add one part's counts for each provider to those of the parts before it."""
    for provider, counts in more.items():
        mine = into.setdefault(provider, dict.fromkeys(COUNTS, 0))
        for name in COUNTS:
            mine[name] += counts[name]


def _map_distinct(values: pd.Series, function: Callable, dtype: str):
    """function(value) computed once per distinct value and spread back to the rows; missing
    values stay missing."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return pd.array([function(v) for v in uniques.tolist()] + [None], dtype=dtype).take(codes)  # -1: the None


def _spread(found: list, attribute: str, dtype: str, codes: np.ndarray):
    """One attribute of the result for each distinct value, back on the rows by their codes."""
    return pd.array([getattr(r, attribute) for r in found], dtype=dtype).take(codes)


def apply_rules(
    typed: pd.DataFrame,
    rules,  # sharing_agreements.model.DatasetRules
    *,
    field_keys: Mapping[str, bytes],
    code_keys: Mapping[str, Mapping[str, str]],
    normalisers: Mapping[str, str],
    resolve_places: Callable[[pa.Array], tuple[list, np.ndarray]] | None,
    h3_resolution: int,
    area: AreaGeography,
    provider_field: str,
    lsoa_field: str | None = None,
) -> Pseudonymised:
    """`code_keys` maps code-list fields to {code: key}; `normalisers` names each identifier's
    normaliser; `resolve_places` turns a column of free texts into anonymise.locate Resolutions
    and each row's position among them (LocationResolver.resolve_rows). Only rows inside the
    `area` are shared: by their `lsoa_field` where they name one, else by their point. Rows are
    counted for each provider, named by `provider_field` as delivered (the rules may drop it)."""
    provider = typed[provider_field].astype("string").fillna(UNKNOWN_PROVIDER)
    in_scope = pd.Series(True, index=typed.index)
    for column, allowed in rules.scope.items():
        in_scope &= typed[column].isin(allowed)
    typed = typed[in_scope].reset_index(drop=True)

    out = pd.DataFrame(index=typed.index)
    actions: dict[str, list[str]] = {"kept": [], "pseudonymised": [], "generalised": [], "dropped": []}
    point = pd.DataFrame({"latitude": pd.NA, "longitude": pd.NA}, index=typed.index, dtype="Float64")
    # Coordinates first, so that a resolved place only fills in where none were measured.
    ordered = sorted(rules.fields.items(), key=lambda item: item[1].to != "cell")
    for name, rule in ordered:
        values = typed[name]
        if rule.action == "drop":
            actions["dropped"].append(name)
        elif rule.action == "keep":
            out[name] = values.map(code_keys[name]) if name in code_keys else values
            actions["kept"].append(name)
        elif rule.action == "pseudonymise":
            normaliser = NORMALISERS[normalisers.get(name, "reference")]
            # Missing values stay missing and others are hashed as str(value), distinct ones once.
            out[f"{name}_pseudonym"] = pd.arrays.ArrowStringArray(pseudonym_array(values, field_keys[name], normaliser))
            actions["pseudonymised"].append(name)
        else:
            actions["generalised"].append(name)
            if rule.to == "age_band":
                out["age_band"] = age_bands(values, typed[rule.at], rule.width)
            elif rule.to in ("hour", "month"):
                parts = time_parts(values)
                for column in GENERALISED_COLUMNS[rule.to]:
                    out[column] = parts[column]
            elif rule.to == "postcode_district":
                out["postcode_district"] = _map_distinct(values, postcode_district, "string")
            elif rule.to == "cell":
                # The cell rule is declared on both coordinates, named latitude and longitude.
                point[name] = values.astype("Float64")
            elif rule.to == "place":
                found, codes = resolve_places(text_array(values))
                out["place_status"] = _spread(found, "status", "string", codes)
                out["place_id"] = _spread(found, "place_id", "string", codes)
                out["place_name"] = _spread(found, "place_name", "string", codes)
                for axis in ("latitude", "longitude"):
                    resolved = pd.Series(_spread(found, axis, "Float64", codes), index=typed.index)
                    point[axis] = point[axis].fillna(resolved)

    placement = area.place(point["latitude"], point["longitude"], typed[lsoa_field] if lsoa_field else None)
    out["cell_id"] = spatial_cells(point["latitude"], point["longitude"], h3_resolution)
    counts = _counts_by_provider(provider, in_scope, placement, out["cell_id"], out.get("place_status"))
    return Pseudonymised(rows=out[placement.inside].reset_index(drop=True), counts_by_provider=counts, fields=actions)


def _counts_by_provider(
    provider: pd.Series, in_scope: pd.Series, placement: Placement, cells: pd.Series, place_status: pd.Series | None
) -> dict[str, dict[str, int]]:
    """COUNTS for each provider. `provider` and `in_scope` are on every row; the rest on the
    rows in scope."""
    scoped = in_scope.to_numpy(dtype=bool)

    def on_every_row(in_scope_values) -> np.ndarray:
        values = np.zeros(len(scoped), dtype=bool)
        values[scoped] = np.asarray(in_scope_values, dtype=bool)
        return values

    def status_is(status: str) -> np.ndarray:
        if place_status is None:
            return np.zeros(len(cells), dtype=bool)
        return (place_status == status).fillna(False).to_numpy(dtype=bool)

    located, inside = placement.located.to_numpy(dtype=bool), placement.inside.to_numpy(dtype=bool)
    flags = pd.DataFrame(
        {
            "rows_in": np.ones(len(scoped), dtype=bool),
            "rows_out_of_scope": ~scoped,
            "rows_out_of_area": on_every_row(located & ~inside),
            "rows_shared": on_every_row(inside),
            "rows_located": on_every_row(inside & cells.notna().to_numpy(dtype=bool)),
            "rows_unlocated": on_every_row(~located),
            "rows_private": on_every_row(~located & status_is("private")),
            "rows_ambiguous": on_every_row(~located & status_is("ambiguous")),
        },
        columns=list(COUNTS),
    )
    sums = flags.groupby(provider.to_numpy(dtype=object)).sum()
    return {str(name): {count: int(n) for count, n in row.items()} for name, row in sums.iterrows()}
