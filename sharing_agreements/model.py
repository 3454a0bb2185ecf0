"""Sharing agreements: what may flow, transformed how, under which disclosure rules.

An agreement is loaded, checked against the declared schemas (deny by default: every field of a
shared dataset must be declared, and no undeclared name is accepted) and against its validity
window. Problems are reported in words a governance board understands.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from anonymise.disclosure import DisclosurePolicy
from schemas import schema_for_source

AGREEMENT_DIR = Path(__file__).parent
DEFAULT_AGREEMENT = AGREEMENT_DIR / "cardiff-violence-prevention.yaml"

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


class Parties(_Strict):
    providers: list[Party]
    recipients: list[Party]


class BoundingBox(_Strict):
    min_latitude: float
    max_latitude: float
    min_longitude: float
    max_longitude: float

    def contains(self, latitude, longitude):
        return (
            (latitude >= self.min_latitude) & (latitude <= self.max_latitude)
            & (longitude >= self.min_longitude) & (longitude <= self.max_longitude)
        )


class Area(_Strict):
    name: str
    bbox: BoundingBox


class Spatial(_Strict):
    h3_resolution: int = 9


class DisclosureControl(_Strict):
    suppression_threshold: int = 7
    rounding_base: int = 5

    def policy(self) -> DisclosurePolicy:
        return DisclosurePolicy(self.suppression_threshold, self.rounding_base)


class FieldRule(_Strict):
    action: Literal["drop", "keep", "pseudonymise", "generalise"]
    to: Generalisation | None = None
    width: int | None = None
    at: str | None = None

    @model_validator(mode="after")
    def _generalise_needs_a_target(self):
        if (self.action == "generalise") != (self.to is not None):
            raise ValueError("'to' is given exactly when the action is 'generalise'")
        if self.to == "age_band" and not (self.width and self.at):
            raise ValueError("an age band needs 'width' (years) and 'at' (the event date field)")
        return self


class DatasetRules(_Strict):
    scope: dict[str, list[str]] = {}
    fields: dict[str, FieldRule]


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
    area: Area
    spatial: Spatial = Spatial()
    disclosure_control: DisclosureControl = DisclosureControl()
    datasets: dict[Literal["ed", "police", "police_uk"], DatasetRules]

    def content_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def rules_for(self, source: str) -> DatasetRules:
        if source not in self.datasets:
            raise AgreementError(
                f"agreement {self.id} v{self.version} does not cover the {source!r} dataset: "
                "nothing from it may be shared"
            )
        return self.datasets[source]

    def check_in_force(self, today: dt.date) -> None:
        where = f"agreement {self.id} v{self.version}"
        if self.status != "active":
            raise AgreementError(f"{where} is {self.status}, not active: no data may flow under it")
        if today < self.valid_from:
            raise AgreementError(f"{where} is not yet valid: it starts on {self.valid_from}")
        if today > self.valid_to:
            raise AgreementError(
                f"{where} expired on {self.valid_to}: the board must renew it before data flows"
            )

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


def load_agreement(path: Path = DEFAULT_AGREEMENT) -> Agreement:
    """Load and check an agreement file; errors name the file and the offending entry."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        agreement = Agreement.model_validate(raw)
    except FileNotFoundError as exc:
        raise AgreementError(f"no sharing agreement at {path}") from exc
    except yaml.YAMLError as exc:
        raise AgreementError(f"{path} is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise AgreementError(f"{path} is not a valid sharing agreement: {problems}") from None
    agreement.check_against_schemas()
    return agreement
