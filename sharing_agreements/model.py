"""Sharing agreements: what may flow, transformed how, under which disclosure rules.

An agreement is loaded, checked against the declared schemas (deny by default: every field of a
shared dataset must be declared, and no undeclared name is accepted) and against its validity
window. Problems are reported in words a governance board understands.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

import shapely
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from shapely.geometry import shape

import open_data
from anonymise.area import AreaGeography
from anonymise.disclosure import DisclosurePolicy
from anonymise.keys import derive_field_key
from schemas import schema_for_source
from schemas.model import SOURCES

AGREEMENT_DIR = Path(__file__).parent
DEFAULT_AGREEMENT = AGREEMENT_DIR / "cardiff-violence-prevention.yaml"


def agreement_path(configured: str | Path | None = None) -> Path:
    """The agreement file in force: the one configured, else ISTV_AGREEMENT, else the bundled one."""
    return Path(configured or os.environ.get("ISTV_AGREEMENT") or DEFAULT_AGREEMENT)


# Official boundaries (ONS, Open Government Licence) of the local authorities an area names.
BOUNDARIES_DIR = open_data.ROOT / "boundaries"

Generalisation = Literal["age_band", "hour", "month", "postcode_district", "place", "cell"]


class AgreementError(ValueError):
    """An agreement the pipeline must not run under."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Party(_Strict):
    name: str
    code: str
    datasets: list[str] = []
    role: str | None = None
    # How the party's files name it in their provider column when that is neither its code nor
    # its name (an ED's site codes).
    identifiers: list[str] = []

    def named_by(self, provider: str) -> bool:
        wanted = provider.strip().casefold()
        return any(wanted == known.strip().casefold() for known in (self.code, self.name, *self.identifiers))


class Parties(_Strict):
    providers: list[Party]
    recipients: list[Party]


class Area(_Strict):
    """The partnership's area as official geography: local authorities by their ONS codes
    (Cardiff: W06000015). The LSOAs each holds and its boundary are bundled in BOUNDARIES_DIR;
    they decide which rows are inside (anonymise.area)."""

    name: str
    local_authorities: list[str] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _not_a_box(cls, data):
        if isinstance(data, dict) and "bbox" in data and "local_authorities" not in data:
            raise ValueError(
                "a bounding box takes in its neighbours' streets and cannot decide who is in the area: "
                "declare local_authorities instead, by their ONS codes (Cardiff: W06000015)"
            )
        return data

    @model_validator(mode="after")
    def _boundaries_bundled(self):
        missing = [code for code in self.local_authorities if not all(path.is_file() for path in _boundary_files(code))]
        if missing:
            raise ValueError(
                f"no boundary is bundled for local authority {', '.join(missing)}: add its ONS boundary "
                f"and LSOA list to {BOUNDARIES_DIR}"
            )
        return self

    def geography(self) -> AreaGeography:
        return _geography(tuple(self.local_authorities))


def _boundary_files(code: str) -> tuple[Path, Path]:
    """A local authority's boundary (GeoJSON) and the LSOAs it holds (CSV: lsoa_code, lsoa_name, census)."""
    return BOUNDARIES_DIR / f"{code}.geojson", BOUNDARIES_DIR / f"{code}-lsoas.csv"


@cache
def _geography(codes: tuple[str, ...]) -> AreaGeography:
    lsoa_codes: set[str] = set()
    parts = []
    for code in codes:
        boundary, lsoas = _boundary_files(code)
        parts += [
            shape(feature["geometry"]) for feature in json.loads(boundary.read_text(encoding="utf-8"))["features"]
        ]
        with lsoas.open(newline="", encoding="utf-8") as rows:
            lsoa_codes.update(row["lsoa_code"] for row in csv.DictReader(rows))
    return AreaGeography(frozenset(lsoa_codes), shapely.union_all(parts))


class Spatial(_Strict):
    h3_resolution: int = 9
    # hotspot_areas: the same incidents at coarser cells and over rolling windows of months, so a
    # board sees where violence concentrates even when a month's fine cells hold few incidents.
    hotspot_resolutions: list[int] = [9, 8, 7]
    hotspot_windows_months: list[int] = [1, 3, 12]

    @model_validator(mode="after")
    def _coarser_only(self):
        if any(not 0 <= r <= self.h3_resolution for r in self.hotspot_resolutions):
            raise ValueError("hotspot_resolutions must be between 0 and h3_resolution (cells can only be merged)")
        if any(not 1 <= w <= 24 for w in self.hotspot_windows_months):
            raise ValueError("hotspot_windows_months must be between 1 and 24")
        return self


class DifferentialPrivacy(_Strict):
    epsilon: float  # privacy loss per published count; smaller is more private and noisier
    # The most privacy loss the board accepts for one month, over every release of it (each
    # corrected release draws fresh noise and spends epsilon again; a re-run of the same content
    # draws the same noise and spends nothing).
    budget_per_month: float

    @model_validator(mode="after")
    def _positive(self):
        if self.epsilon <= 0:
            raise ValueError("epsilon must be positive")
        if self.budget_per_month < self.epsilon:
            raise ValueError("budget_per_month must allow at least one release (epsilon)")
        return self


class CellKey(_Strict):
    """The perturbation table's parameters: every published count moves by at most
    `max_deviation`, with mean 0 and this variance (ABS / ONS cell-key method)."""

    max_deviation: int = 4
    variance: float = 2.0
    # hotspot_areas rows (coarser areas, longer windows) with a published combined count below
    # this show their public counts only (anonymise.disclosure.withhold_quiet_areas); 0: all shown.
    area_minimum: int = Field(default=20, ge=0)
    # Cells', areas' and venues' counts whose protected part would show below this are withheld
    # (anonymise.disclosure.withhold_small_counts); 0: none, at the cost the README's attack
    # figures give.
    cell_minimum: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _reachable(self):
        if self.max_deviation < 1 or not 0 < self.variance < self.max_deviation**2:
            raise ValueError("cell_key needs max_deviation >= 1 and 0 < variance < max_deviation squared")
        return self


class DisclosureControl(_Strict):
    # cell_key (default): consistent perturbation of every figure. suppress_and_round: the
    # weaker rule (1 to the threshold withheld, the rest rounded), for agreements that ask for it.
    method: Literal["cell_key", "suppress_and_round"] = "cell_key"
    # Also the fewest changed records for which a corrected month's figure is published afresh
    # (warehouse/corrections.py); smaller changes keep the figure's earlier value.
    suppression_threshold: int = 7
    rounding_base: int = 5
    cell_key: CellKey = CellKey()
    differential_privacy: DifferentialPrivacy | None = None

    def policy(self) -> DisclosurePolicy:
        scale = 1 / self.differential_privacy.epsilon if self.differential_privacy else None
        return DisclosurePolicy(
            method=self.method,
            suppression_threshold=self.suppression_threshold,
            rounding_base=self.rounding_base,
            max_deviation=self.cell_key.max_deviation,
            variance=self.cell_key.variance,
            area_minimum=self.cell_key.area_minimum,
            cell_minimum=self.cell_key.cell_minimum,
            laplace_scale=scale,
        )


class FieldRule(_Strict):
    action: Literal["drop", "keep", "pseudonymise", "generalise"]
    to: Generalisation | None = None
    width: int | None = None
    at: str | None = None
    # Fields pseudonymised under the same key scope can be joined (e.g. one person across
    # datasets); by default each field has its own key.
    key_scope: str | None = None

    @model_validator(mode="after")
    def _generalise_needs_a_target(self):
        if (self.action == "generalise") != (self.to is not None):
            raise ValueError("'to' is given exactly when the action is 'generalise'")
        if self.key_scope is not None and self.action != "pseudonymise":
            raise ValueError("'key_scope' applies only to the action 'pseudonymise'")
        if self.to == "age_band" and not (self.width and self.at):
            raise ValueError("an age band needs 'width' (years) and 'at' (the event date field)")
        return self


class DatasetRules(_Strict):
    # A public source (police open data, published by data.police.uk) is counted exactly: its
    # counts are already public, and perturbing them would only invite subtraction.
    public: bool = False
    scope: dict[str, list[str]] = {}
    fields: dict[str, FieldRule]

    @model_validator(mode="after")
    def _one_field_per_generalisation(self):
        targets = [r.to for r in self.fields.values() if r.to and r.to != "cell"]
        repeated = sorted({t for t in targets if targets.count(t) > 1})
        if repeated:
            raise ValueError(f"more than one field generalised to {', '.join(repeated)}; their outputs would collide")
        cells = sorted(n for n, r in self.fields.items() if r.to == "cell")
        if cells and cells != ["latitude", "longitude"]:
            raise ValueError("'to: cell' is declared on the pair of fields latitude and longitude")
        return self


class Risk(_Strict):
    """Row-level re-identification risk the board accepts in the pseudonymised zone."""

    quasi_identifiers: list[str] = ["age_band", "sex", "cell_id", "hour"]
    k: int = 5


class Approval(_Strict):
    board: str
    role: Literal[
        "caldicott_guardian", "data_protection_officer", "senior_information_risk_owner", "community_safety_board"
    ]
    date: dt.date


class Retention(_Strict):
    """Days each zone keeps data: landing, quarantine, pseudonymised and reports after the end of
    the month the data is about; Dagster's run history after the run ended; the board's audit
    reports (which cover every month) after they were written. Published tables are kept while
    the agreement stands, and the audit log always."""

    landing: int
    quarantine: int
    pseudonymised: int
    # Agreements signed before these two were declared keep loading with these periods.
    dagster: int = 180
    reports: int = 365

    @model_validator(mode="after")
    def _periods_hold(self) -> Retention:
        short = [zone for zone, days in self.model_dump().items() if days < 1]
        if short:
            raise ValueError(f"retention of {', '.join(short)} must be at least 1 day")
        # The landing sensor runs a landed month again once its run is gone from Dagster's history.
        if self.dagster < self.landing:
            raise ValueError(
                f"Dagster's run history (dagster: {self.dagster} days) must be kept at least as long as the "
                f"landing zone (landing: {self.landing} days), or a landed month would be run again"
            )
        return self


class Mission(_Strict):
    """The partnership's goal, which `mission_progress` measures every month: the metric (violence-
    related ED attendances and police-recorded violence, per 100,000 residents where the bundled
    population estimates cover the year) falling by `reduction_pct` percent from its level over
    the baseline months (first to last, YYYY-MM, inclusive) by the target month."""

    goal: str
    baseline_from: str
    baseline_to: str
    reduction_pct: float
    target_month: str

    @model_validator(mode="after")
    def _dates_hold(self) -> Mission:
        months = {}
        for name in ("baseline_from", "baseline_to", "target_month"):
            text = getattr(self, name)
            try:
                months[name] = dt.date.fromisoformat(f"{text}-01")
            except ValueError:
                raise ValueError(f"mission {name} {text!r} is not a month: write it as YYYY-MM") from None
        if not months["baseline_from"] <= months["baseline_to"] < months["target_month"]:
            raise ValueError("the mission's baseline must run from baseline_from to baseline_to, before target_month")
        if not 0 < self.reduction_pct < 100:
            raise ValueError("the mission's reduction_pct is a percentage between 0 and 100")
        return self

    def month(self, name: str) -> dt.date:
        """baseline_from, baseline_to or target_month as the first day of the month."""
        return dt.date.fromisoformat(f"{getattr(self, name)}-01")


PublicSection = Literal["agreement", "deliveries", "mission"]


class PublicAccount(_Strict):
    """What the board approves for residents on the public page (`istv publish-public`): the
    agreement in force (parties, purpose, lawful basis, what is shared and what never is), what
    was shared each month (deliveries and protected row counts), the mission against its target.
    A section not listed is not written."""

    sections: list[PublicSection] = []


class Agreement(_Strict):
    id: str
    version: int
    title: str
    status: Literal["draft", "active", "suspended", "retired"]
    parties: Parties
    purpose: str
    lawful_basis: list[str]
    valid_from: dt.date
    valid_to: dt.date
    review_date: dt.date
    area: Area
    spatial: Spatial = Spatial()
    disclosure_control: DisclosureControl = DisclosureControl()
    retention: Retention
    risk: Risk = Risk()
    published_tables: list[str]
    approvals: list[Approval]
    datasets: dict[str, DatasetRules]
    # Agreements signed before these were declared have no mission and publish no public page.
    mission: Mission | None = None
    public_account: PublicAccount = PublicAccount()
    _document: dict | None = PrivateAttr(default=None)

    @field_validator("datasets")
    @classmethod
    def _known_sources(cls, datasets: dict[str, DatasetRules]) -> dict[str, DatasetRules]:
        unknown = sorted(set(datasets) - set(SOURCES))
        if unknown:
            raise ValueError(f"no schema for dataset {', '.join(unknown)}: the datasets are {', '.join(SOURCES)}")
        return datasets

    @property
    def label(self) -> str:
        return f"agreement {self.id} v{self.version}"

    def canonical_bytes(self) -> bytes:
        """The form that is hashed and signed: the document as written, as sorted compact JSON.
        Re-formatting the YAML or adding comments keeps it; any change of a value does not."""
        document = self._document if self._document is not None else self.model_dump(mode="json", exclude_unset=True)
        return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()

    def content_hash(self) -> str:
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    def public_sources(self) -> tuple[str, ...]:
        return tuple(name for name, rules in self.datasets.items() if rules.public)

    def providers_of(self, source: str) -> list[Party]:
        return [party for party in self.parties.providers if source in party.datasets]

    def provider_party(self, source: str, provider: str) -> Party | None:
        """The party that may provide `source` and that a file's provider column names, if any:
        deny by default holds for providers as for fields."""
        return next((party for party in self.providers_of(source) if party.named_by(provider)), None)

    def provider_named(self, source: str, written: str) -> str:
        """How a file's provider (an ED's site code, a force) is shown to people: by the name this
        agreement gives its party, with what the file wrote when that is another identifier of it."""
        party = self.provider_party(source, written)
        if party is None:
            return written
        if written.strip().casefold() in (party.name.casefold(), party.code.casefold()):
            return party.name
        return f"{party.name} ({written})"

    def rules_for(self, source: str) -> DatasetRules:
        if source not in self.datasets:
            raise AgreementError(
                f"agreement {self.id} v{self.version} does not cover the {source!r} dataset: "
                "nothing from it may be shared"
            )
        return self.datasets[source]

    def pseudonym_keys(self, source: str, master: bytes) -> dict[str, bytes]:
        """The keys of the dataset's pseudonymised fields under this agreement version, derived
        from the master secret (fields sharing a key scope share a key, so they can be linked)."""
        return {
            name: derive_field_key(master, self.id, self.version, rule.key_scope or name)
            for name, rule in self.rules_for(source).fields.items()
            if rule.action == "pseudonymise"
        }

    def check_in_force(self, today: dt.date) -> None:
        where = f"agreement {self.id} v{self.version}"
        if self.status != "active":
            raise AgreementError(f"{where} is {self.status}, not active: no data may flow under it")
        if today < self.valid_from:
            raise AgreementError(f"{where} is not yet valid: it starts on {self.valid_from}")
        if today > self.valid_to:
            raise AgreementError(f"{where} expired on {self.valid_to}: the board must renew it before data flows")

    def check_against_schemas(self) -> None:
        """Deny by default: each declared field must exist, and each schema field be declared."""
        for source, rules in self.datasets.items():
            schema = schema_for_source(source)
            declared, known = set(rules.fields), set(schema.field_names)
            unknown = sorted(declared - known)
            if unknown:
                raise AgreementError(
                    f"agreement {self.id} v{self.version} names field(s) {', '.join(unknown)} in "
                    f"dataset {source!r}, which the {schema.name} schema does not declare"
                )
            for name, rule in rules.fields.items():
                if rule.at is not None and rule.at not in known:
                    raise AgreementError(
                        f"agreement {self.id}: {source}.{name} is aged at {rule.at!r}, "
                        f"which the {schema.name} schema does not declare"
                    )
            for name in rules.scope:
                if name not in known:
                    raise AgreementError(
                        f"agreement {self.id}: the scope of {source!r} filters on {name!r}, "
                        f"which the {schema.name} schema does not declare"
                    )
        # Imported here: a pseudonymise worker unpickles an agreement and needs none of the
        # warehouse's table builders (nor DuckDB's library, 32 MB in each worker).
        from warehouse.tables import permitted_table_names

        unknown_tables = sorted(set(self.published_tables) - set(permitted_table_names()))
        if unknown_tables:
            raise AgreementError(
                f"{self.label} permits table(s) {', '.join(unknown_tables)}, which the warehouse does not publish"
            )


def _line_of(document, loc: tuple) -> int | None:
    """1-based line of the deepest part of `loc` found in a ruamel document."""
    node, line = document, None
    for part in loc:
        try:
            if isinstance(node, dict) and part in node:
                line = node.lc.key(part)[0] + 1
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
            else:
                break
            node = node[part]
        except (AttributeError, KeyError, TypeError):
            break
    return line


def load_agreement(path: Path = DEFAULT_AGREEMENT) -> Agreement:
    """Load and check an agreement file; errors name the file, the line and the entry."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise AgreementError(f"no sharing agreement at {path}") from exc
    return _parsed_agreement(path.name, text)


# A month's run reads the agreement at every step that needs it, so that each sees the file in
# force: the same text is parsed once (round-trip YAML, kept for its line numbers, is slow).
# Agreements are frozen, so the one object can be shared.
@lru_cache(maxsize=8)
def _parsed_agreement(name: str, text: str) -> Agreement:
    try:
        document = YAML(typ="rt").load(text)
        agreement = Agreement.model_validate(plain_values(document))
        agreement._document = plain_values(document)
    except YAMLError as exc:
        raise AgreementError(f"{name} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            line = _line_of(document, error["loc"])
            where = f"line {line}, " if line else ""
            problems.append(f"{name}, {where}{'.'.join(str(p) for p in error['loc'])}: {error['msg']}")
        raise AgreementError("not a valid sharing agreement: " + "; ".join(problems)) from None
    agreement.check_against_schemas()
    return agreement


def plain_values(node):
    """ruamel's round-trip types as plain Python values (dates stay dates)."""
    if isinstance(node, dict):
        return {str(k): plain_values(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain_values(v) for v in node]
    return node
