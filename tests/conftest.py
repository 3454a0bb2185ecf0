"""Shared fixtures: a throwaway ISTV_HOME with demo keys, and planted identifiers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["DAGSTER_DISABLE_TELEMETRY"] = "true"

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


def cut_from_a_row_group(texts: list[str]):
    """`texts` (no missing ones) but the first as an Arrow string array whose offsets do not
    start at zero, as a batch cut from a Parquet row group holds them."""
    import pyarrow as pa

    whole = pa.array(texts, pa.string())
    return pa.Array.from_buffers(pa.string(), len(texts) - 1, [None, whole.buffers()[1].slice(4), whole.buffers()[2]])


@pytest.fixture
def istv_home(tmp_path, monkeypatch):
    from pipelines.lib.home import IstvHome
    from pipelines.lib.secrets import generate_demo_keys

    monkeypatch.setenv("ISTV_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for name in ("ISTV_PSEUDONYM_KEY", "ISTV_PSEUDONYM_KEY_FILE", "ISTV_QUARANTINE_KEY", "ISTV_QUARANTINE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    home = IstvHome.from_env()
    home.create()
    generate_demo_keys(home)
    return home


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A throwaway governance board: its key is trusted beside the repository's, and it signs
    variants of the bundled agreement."""
    import shutil

    import yaml

    from sharing_agreements.model import DEFAULT_AGREEMENT, load_agreement
    from sharing_agreements.signing import (
        TRUSTED_KEYS_DIR,
        generate_board_key,
        load_private_key,
        sign,
    )

    trusted = tmp_path / "trusted"
    trusted.mkdir()
    for key in TRUSTED_KEYS_DIR.glob("*.pub"):
        shutil.copy(key, trusted)
    private = tmp_path / "board.pem"
    generate_board_key(private, trusted / "test-board.pub")
    monkeypatch.setenv("ISTV_TRUSTED_KEYS_DIR", str(trusted))

    class Board:
        key = private

        def variant(self, name, change=lambda a: None, signed=True):
            raw = yaml.safe_load(DEFAULT_AGREEMENT.read_text())
            change(raw)
            path = tmp_path / f"{name}.yaml"
            path.write_text(yaml.safe_dump(raw, sort_keys=False))
            if signed:
                sign(path, load_agreement(path), load_private_key(private), "Test Board")
            return path

    return Board()
