"""Where keys come from: the environment or key files outside git, never the repository.

Pseudonym master key: ISTV_PSEUDONYM_KEY (hex) or the file named by ISTV_PSEUDONYM_KEY_FILE.
Quarantine key (Fernet, separate so quarantine readers cannot make pseudonyms):
ISTV_QUARANTINE_KEY or the file named by ISTV_QUARANTINE_KEY_FILE.
Audit checkpoint key (Ed25519): ISTV_AUDIT_KEY or ISTV_AUDIT_KEY_FILE (private, for the pipeline) and
ISTV_AUDIT_PUBLIC_KEY_FILE (public, for whoever verifies the log).
The demo's throwaway keys live in $ISTV_HOME/keys and are used only when nothing else is set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from anonymise.keys import check_master_secret, ed25519_key_id, key_id
from pipelines.lib.home import IstvHome

PSEUDONYM_FILE = "pseudonym.key"
QUARANTINE_FILE = "quarantine.key"
AUDIT_PRIVATE_FILE = "audit_ed25519.pem"
AUDIT_PUBLIC_FILE = "audit_ed25519.pub"


class MissingKeyError(RuntimeError):
    pass


def _read(env_value: str, env_file: str, home: IstvHome, file_name: str, what: str) -> bytes:
    if os.environ.get(env_value):
        return os.environ[env_value].strip().encode()
    path = Path(os.environ[env_file]) if os.environ.get(env_file) else home.keys / file_name
    if not path.exists():
        raise MissingKeyError(
            f"no {what} key: set {env_value} or {env_file} (a file outside the repository), "
            "or run `istv keys generate` for throwaway demo keys"
        )
    return path.read_bytes().strip()


def pseudonym_master_key(home: IstvHome) -> bytes:
    text = _read("ISTV_PSEUDONYM_KEY", "ISTV_PSEUDONYM_KEY_FILE", home, PSEUDONYM_FILE, "pseudonym")
    try:
        return check_master_secret(bytes.fromhex(text.decode()))
    except ValueError as exc:
        if "hex" in str(exc) or "non-hexadecimal" in str(exc):
            raise MissingKeyError("the pseudonym key must be hexadecimal (64 characters or more)") from None
        raise


def quarantine_cipher(home: IstvHome) -> Fernet:
    return Fernet(_read("ISTV_QUARANTINE_KEY", "ISTV_QUARANTINE_KEY_FILE", home, QUARANTINE_FILE, "quarantine"))


def audit_signing_key(home: IstvHome) -> Ed25519PrivateKey:
    pem = _read("ISTV_AUDIT_KEY", "ISTV_AUDIT_KEY_FILE", home, AUDIT_PRIVATE_FILE, "audit signing")
    return serialization.load_pem_private_key(pem, password=None)


def audit_public_key(home: IstvHome) -> Ed25519PublicKey:
    pem = _read("ISTV_AUDIT_PUBLIC_KEY", "ISTV_AUDIT_PUBLIC_KEY_FILE", home, AUDIT_PUBLIC_FILE, "audit public")
    return serialization.load_pem_public_key(pem)


def _audit_pair() -> tuple[bytes, bytes]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def generate_demo_keys(home: IstvHome) -> list[tuple[str, Path]]:
    """Throwaway keys for the demo, readable by the owner only; existing keys are kept.
    Returns (kind, path) of the keys made."""
    home.keys.mkdir(parents=True, exist_ok=True)
    made = []
    for kind, name, make in (
        ("pseudonym", PSEUDONYM_FILE, lambda: secrets.token_hex(32).encode()),
        ("quarantine", QUARANTINE_FILE, Fernet.generate_key),
    ):
        path = home.keys / name
        if not path.exists():
            path.write_bytes(make())
            path.chmod(0o600)
            made.append((kind, path))
    private, public = home.keys / AUDIT_PRIVATE_FILE, home.keys / AUDIT_PUBLIC_FILE
    if not private.exists():
        private_pem, public_pem = _audit_pair()
        private.write_bytes(private_pem)
        private.chmod(0o600)
        public.write_bytes(public_pem)
        made.append(("audit", private))
    return made


def key_ids(home: IstvHome) -> dict[str, str]:
    """Public fingerprints of the keys in use, for the audit log; never the keys."""
    quarantine = _read("ISTV_QUARANTINE_KEY", "ISTV_QUARANTINE_KEY_FILE", home, QUARANTINE_FILE, "quarantine")
    return {
        "pseudonym": key_id(pseudonym_master_key(home)),
        "quarantine": key_id(quarantine),
        "audit": ed25519_key_id(audit_public_key(home)),
    }
