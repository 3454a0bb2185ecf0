"""Where keys come from: the environment or key files outside git, never the repository.

Pseudonym master key: ISTV_PSEUDONYM_KEY (hex) or the file named by ISTV_PSEUDONYM_KEY_FILE.
Quarantine key (Fernet, separate so quarantine readers cannot make pseudonyms):
ISTV_QUARANTINE_KEY or the file named by ISTV_QUARANTINE_KEY_FILE.
The demo's throwaway keys live in $ISTV_HOME/keys and are used only when nothing else is set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

from anonymise.keys import check_master_secret
from pipelines.lib.home import IstvHome

PSEUDONYM_FILE = "pseudonym.key"
QUARANTINE_FILE = "quarantine.key"


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


def generate_demo_keys(home: IstvHome) -> list[Path]:
    """Throwaway keys for the demo, readable by the owner only; existing keys are kept."""
    home.keys.mkdir(parents=True, exist_ok=True)
    made = []
    for name, make in ((PSEUDONYM_FILE, lambda: secrets.token_hex(32).encode()), (QUARANTINE_FILE, Fernet.generate_key)):
        path = home.keys / name
        if not path.exists():
            path.write_bytes(make())
            path.chmod(0o600)
            made.append(path)
    return made
