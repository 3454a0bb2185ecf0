"""Shared fixtures: a throwaway ISTV_HOME with demo keys, and planted identifiers."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

import open_data

os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["DAGSTER_DISABLE_TELEMETRY"] = "true"

REPO = Path(__file__).resolve().parents[1]
DATA = open_data.ROOT


def cut_from_a_row_group(texts: list[str]):
    """`texts` (no missing ones) but the first as an Arrow string array whose offsets do not
    start at zero, as a batch cut from a Parquet row group holds them."""
    import pyarrow as pa

    whole = pa.array(texts, pa.string())
    return pa.Array.from_buffers(pa.string(), len(texts) - 1, [None, whole.buffers()[1].slice(4), whole.buffers()[2]])


@contextmanager
def readers_running(readers: list, stop):
    """Start the analysts' processes, which read until `stop` is set; however the test inside
    ends, set it and end them, so that a failed test cannot leave them reading (and the test
    session waiting for them at exit)."""
    for process in readers:
        process.start()
    try:
        yield
    finally:
        stop.set()
        for process in readers:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()


@pytest.fixture
def istv_home(tmp_path, monkeypatch):
    from ingest.home import IstvHome
    from ingest.secrets import generate_demo_keys

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


# --- record keys for joint frames built by hand ---------------------------------------------------
#
# joint_incidents carries each record's cell-key record key (warehouse/joint.py computes it
# in DuckDB from the record's pseudonym). Frames that tests build by hand get the same column here,
# from the same keyed hash, so that build_tables protects them as it protects a real month.

TEST_RECORD_KEYS_SECRET = b"istv-tests-record-keys-0001"


def _test_record_keys():
    from anonymise.cellkey import RecordKeys

    return RecordKeys.from_secret(TEST_RECORD_KEYS_SECRET)


TEST_RECORD_KEYS = _test_record_keys()


def made_up_pseudonym(row_id) -> str:
    """A made-up hexadecimal pseudonym for a row with no pseudonym of its own (as the pipeline's
    are, a 64-character hex digest), deterministic in `row_id`."""
    import hashlib

    return hashlib.sha256(f"istv-test-record/{row_id}".encode()).hexdigest()


def with_record_keys(joint, keys=None, salt: str = ""):
    """A copy of a hand-built joint frame with the `record_key` column joint_incidents has:
    `keys.of(record_pseudonym)` where the frame has a pseudonym, else the key of a pseudonym made
    up from the row's position (and `salt`, so that two frames built alike, two months say, do not
    share their keys)."""
    import pandas as pd

    keys = keys or TEST_RECORD_KEYS
    out = joint.copy()
    given = out["record_pseudonym"] if "record_pseudonym" in out else pd.Series([None] * len(out), index=out.index)
    pseudonyms = [p if isinstance(p, str) else made_up_pseudonym(f"{salt}/{i}") for i, p in enumerate(given)]
    out["record_key"] = pd.array([keys.of(p) for p in pseudonyms], dtype="int64")
    return out


def without_cell_minimum(agreement):
    """The agreement with every monthly cell shown (its cell-key cell minimum set to 0)."""
    control = agreement.disclosure_control
    cell_key = control.cell_key.model_copy(update={"cell_minimum": 0})
    return agreement.model_copy(update={"disclosure_control": control.model_copy(update={"cell_key": cell_key})})
