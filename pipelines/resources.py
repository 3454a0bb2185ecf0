"""What every asset needs: the working folder, the agreement in force, keys and the gazetteer."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from dagster import ConfigurableResource

from anonymise.keys import derive_field_key, key_id
from anonymise.locate import LocationResolver
from pipelines.lib.home import IstvHome
from pipelines.lib.reference import gazetteer
from pipelines.lib.secrets import pseudonym_master_key, quarantine_cipher
from sharing_agreements.model import DEFAULT_AGREEMENT, Agreement, load_agreement


class IstvResource(ConfigurableResource):
    """The istv working folder (ISTV_HOME when `home` is empty) and the agreement file."""

    home: str = ""
    agreement_file: str = str(DEFAULT_AGREEMENT)

    @property
    def istv_home(self) -> IstvHome:
        home = IstvHome(Path(self.home).resolve()) if self.home else IstvHome.from_env()
        home.create()
        return home

    def agreement_in_force(self) -> Agreement:
        agreement = load_agreement(Path(self.agreement_file))
        agreement.check_in_force(dt.date.today())
        return agreement

    def field_keys(self, agreement: Agreement, fields: list[str]) -> tuple[dict[str, bytes], str]:
        """Per-field pseudonym keys under this agreement version, and the master key's id."""
        master = pseudonym_master_key(self.istv_home)
        keys = {f: derive_field_key(master, agreement.id, agreement.version, f) for f in fields}
        return keys, key_id(master)

    def quarantine_cipher(self):
        return quarantine_cipher(self.istv_home)

    @property
    def location_resolver(self) -> LocationResolver:
        return _resolver()


@cache
def _resolver() -> LocationResolver:
    # Building the fuzzy-match index takes a moment; one per process is enough.
    return LocationResolver(gazetteer())
