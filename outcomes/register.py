"""The interventions register: what the partnership did, where, from when, and who owns it.

One YAML file, `$ISTV_HOME/interventions.yaml`, so that the board can read and review it like
the agreement (its comments survive `istv interventions add`). Each entry names its places as
the joint zone identifies them (outcomes/places.py), so every intervention can be evaluated.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ingest.home import IstvHome
from outcomes.places import UnknownPlace, cells_of

REGISTER_FILE = "interventions.yaml"

# The kinds a Cardiff Model partnership tries; `other` for anything else (say what in the description).
Kind = Literal["toughened_glass", "taxi_marshals", "street_pastors", "licence_review", "lighting", "cctv", "other"]
KINDS: tuple[str, ...] = Kind.__args__


class RegisterError(ValueError):
    """A register or an entry istv cannot use, in words the person editing it can act on."""


class Intervention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Lower-case words joined by hyphens: it names the intervention in the published table.
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    kind: Kind
    places: list[str] = Field(min_length=1)
    start: dt.date
    end: dt.date | None = None
    owner: str = Field(min_length=1)
    description: str = ""

    @field_validator("places")
    @classmethod
    def _distinct(cls, places: list[str]) -> list[str]:
        # Ids in the zone are lower case (h3 writes cells so; venue and street ids are slugs).
        cleaned = [p.strip().lower() for p in places]
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("a place is listed twice")
        return cleaned

    @model_validator(mode="after")
    def _ends_after_start(self):
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def cells(self, resolution: int) -> set[str]:
        return cells_of(self.places, resolution)


def register_path(home: IstvHome) -> Path:
    return home.root / REGISTER_FILE


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    return yaml


def _document(path: Path):
    if not path.exists():
        return {"interventions": []}
    try:
        document = _yaml().load(path.read_text(encoding="utf-8")) or {}
    except YAMLError as exc:
        raise RegisterError(f"{path.name} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict) or not isinstance(document.get("interventions", []), list):
        raise RegisterError(f"{path.name} must hold a list under `interventions:`")
    document.setdefault("interventions", [])
    return document


def _parsed(raw, where: str) -> Intervention:
    # Loaded here, not with the module: the command line reads KINDS at start-up, and the
    # agreement's model brings disclosure control and scipy with it.
    from sharing_agreements.model import plain_values

    try:
        return Intervention.model_validate(plain_values(raw))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors())
        raise RegisterError(f"{where}: {problems}") from None


def load_register(home: IstvHome) -> list[Intervention]:
    """Every intervention in the register, in the order written; [] when there is none yet."""
    path = register_path(home)
    entries = _document(path)["interventions"]
    found = []
    for i, raw in enumerate(entries):
        line = entries.lc.item(i)[0] + 1 if hasattr(entries, "lc") else None
        found.append(_parsed(raw, f"{path.name}, {'line ' + str(line) if line else 'entry ' + str(i + 1)}"))
    ids = [i.id for i in found]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise RegisterError(f"{path.name} lists intervention {', '.join(twice)} more than once: ids must be unique")
    return found


def add_intervention(home: IstvHome, entry: dict, resolution: int) -> Intervention:
    """Append one intervention, refusing a duplicate id or a place the joint zone cannot count in."""
    path = register_path(home)
    document = _document(path)
    intervention = _parsed(entry, f"intervention {entry.get('id')!r}")
    if any(existing.id == intervention.id for existing in load_register(home)):
        raise RegisterError(f"{path.name} already holds an intervention {intervention.id!r}: choose another id")
    try:
        intervention.cells(resolution)
    except UnknownPlace as exc:
        raise RegisterError(f"intervention {intervention.id!r}: {exc}") from None
    document["interventions"].append(_as_written(intervention))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    _yaml().dump(document, text)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text.getvalue(), encoding="utf-8")
    partial.replace(path)  # a reader sees the old register or the new one, never half
    return intervention


def _as_written(intervention: Intervention) -> dict:
    """The entry as a person would write it: dates as dates, no empty end or description."""
    entry = {"id": intervention.id, "kind": intervention.kind, "places": list(intervention.places)}
    entry["start"] = intervention.start
    if intervention.end is not None:
        entry["end"] = intervention.end
    entry["owner"] = intervention.owner
    if intervention.description:
        entry["description"] = intervention.description
    return entry


def find(interventions: list[Intervention], wanted: str) -> Intervention:
    for intervention in interventions:
        if intervention.id == wanted:
            return intervention
    known = ", ".join(i.id for i in interventions) or "none yet"
    raise RegisterError(f"no intervention {wanted!r} in the register (registered: {known})")
