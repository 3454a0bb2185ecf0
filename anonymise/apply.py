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


@dataclass
class Pseudonymised:
    rows: pd.DataFrame
    rows_in: int
    rows_out_of_scope: int
    rows_out_of_area: int
    fields: dict[str, list[str]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        status = self.rows.get("place_status")
        located = int(self.rows["cell_id"].notna().sum()) if "cell_id" in self.rows else 0
        return {
            "rows_in": self.rows_in,
            "rows_out_of_scope": self.rows_out_of_scope,
            "rows_out_of_area": self.rows_out_of_area,
            "rows_shared": len(self.rows),
            "rows_located": located,
            "rows_unlocated": len(self.rows) - located,
            "rows_private": int((status == "private").sum()) if status is not None else 0,
            "rows_ambiguous": int((status == "ambiguous").sum()) if status is not None else 0,
        }


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
    in_area: Callable[[pd.Series, pd.Series], pd.Series],
) -> Pseudonymised:
    """`code_keys` maps code-list fields to {code: key}; `normalisers` names each identifier's
    normaliser; `resolve_places` turns a column of free texts into anonymise.locate Resolutions
    and each row's position among them (LocationResolver.resolve_rows)."""
    rows_in = len(typed)
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

    located = point["latitude"].notna() & point["longitude"].notna()
    inside = pd.Series(True, index=typed.index)
    inside[located] = in_area(point.loc[located, "latitude"], point.loc[located, "longitude"]).astype(bool)
    out["cell_id"] = spatial_cells(point["latitude"], point["longitude"], h3_resolution)
    out = out[inside].reset_index(drop=True)
    return Pseudonymised(
        rows=out,
        rows_in=rows_in,
        rows_out_of_scope=int((~in_scope).sum()),
        rows_out_of_area=int((~inside).sum()),
        fields=actions,
    )
