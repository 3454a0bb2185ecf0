"""Shared fixtures: a throwaway ISTV_HOME with demo keys, and planted identifiers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["DAGSTER_DISABLE_TELEMETRY"] = "true"

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


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
