"""The pipeline's audit log: every agreement load, delivery, ingest, pseudonymisation, publish,
key event and verification failure, hash-chained with signed checkpoints.

Entries carry counts, file names, hashes, field names and key ids only: never a value from an
identifiable field, never key material.
"""

from __future__ import annotations

from ingest.home import IstvHome
from ingest.secrets import audit_public_key, audit_signing_key
from sharing_agreements.audit import AuditLog


def writer(home: IstvHome) -> AuditLog:
    return AuditLog(home.audit, audit_signing_key(home), trusted_keys=[audit_public_key(home)])


def reader(home: IstvHome) -> AuditLog:
    return AuditLog(home.audit, None, trusted_keys=[audit_public_key(home)])


def record(home: IstvHome, kind: str, details: dict) -> None:
    writer(home).append(kind, details)


def agreement_details(agreement, path) -> dict:
    return {
        "agreement_id": agreement.id,
        "agreement_version": agreement.version,
        "agreement_sha256": agreement.content_hash(),
        "file": path.name,
        "valid_to": str(agreement.valid_to),
        "review_date": str(agreement.review_date),
    }
