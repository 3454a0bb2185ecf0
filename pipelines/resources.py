"""What every asset needs: the working folder, the agreement in force, keys and the gazetteer."""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import cache
from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from anonymise.cellkey import RecordKeys
from anonymise.disclosure import DisclosurePolicy
from anonymise.keys import derive_disclosure_key, key_id
from anonymise.locate_batches import LocationResolver
from anonymise.reference import gazetteer
from ingest.home import IstvHome
from ingest.secrets import pseudonym_master_key, quarantine_cipher
from sharing_agreements import auditing
from sharing_agreements.auditing import agreement_details
from sharing_agreements.model import Agreement, AgreementError, agreement_path
from sharing_agreements.signing import load_verified


class IstvResource(ConfigurableResource):
    """The istv working folder (ISTV_HOME when `home` is empty) and the agreement file
    (ISTV_AGREEMENT when `agreement_file` is empty, else the bundled agreement)."""

    home: str = ""
    agreement_file: str = ""  # empty: ISTV_AGREEMENT, else the bundled agreement
    _run_id: str | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # Every audit entry a run writes names the run, so the board's audit report can tell
        # runs apart (and re-runs from first runs) long after Dagster's run history is gone.
        self._run_id = context.run.run_id if context.run else None

    @property
    def istv_home(self) -> IstvHome:
        home = IstvHome(Path(self.home).resolve()) if self.home else IstvHome.from_env()
        home.create()
        return home

    def agreement_in_force(self, step: str) -> Agreement:
        """The agreement, refused unless well-formed, signed by a trusted board and in force;
        either way the audit log records it."""
        path = agreement_path(self.agreement_file)
        try:
            agreement, signatures = load_verified(path)
            agreement.check_in_force(dt.date.today())
        except AgreementError as refusal:
            self.audit("verification_failure", {"file": path.name, "step": step, "reason": str(refusal)})
            raise
        self.audit(
            "agreement_loaded",
            {
                **agreement_details(agreement, path),
                "step": step,
                "signed_by": [f"{s.signer} ({s.key_id})" for s in signatures],
            },
        )
        return agreement

    def audit(self, kind: str, details: dict) -> None:
        auditing.record(self.istv_home, kind, {**details, "run_id": self._run_id} if self._run_id else details)

    def field_keys(self, agreement: Agreement, source: str) -> tuple[dict[str, bytes], str]:
        """Pseudonym keys for the dataset's pseudonymised fields under this agreement version,
        and the master key's id."""
        master = pseudonym_master_key(self.istv_home)
        return agreement.pseudonym_keys(source, master), key_id(master)

    def record_keys(self, agreement: Agreement) -> RecordKeys:
        """The keyed hash that gives each record its permanent cell-key record key."""
        master = pseudonym_master_key(self.istv_home)
        return RecordKeys.from_secret(derive_disclosure_key(master, agreement.id, "record-key"))

    def disclosure_policy(self, agreement: Agreement, content_sha256: str) -> DisclosurePolicy:
        """The agreement's disclosure policy, with the differential-privacy noise key when it asks
        for noise (seeded by the month's content, so an unchanged month re-runs identically)."""
        policy = agreement.disclosure_control.policy()
        if policy.laplace_scale is None:
            return policy
        noise_key = derive_disclosure_key(pseudonym_master_key(self.istv_home), agreement.id, "dp-noise")
        return dataclasses.replace(policy, noise_key=noise_key, content_sha256=content_sha256)

    def quarantine_cipher(self):
        return quarantine_cipher(self.istv_home)

    @property
    def location_resolver(self) -> LocationResolver:
        return _resolver()


@cache
def _resolver() -> LocationResolver:
    # Building the fuzzy-match index takes a moment; one per process is enough.
    return LocationResolver(gazetteer())
