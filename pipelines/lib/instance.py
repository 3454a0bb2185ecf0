"""Dagster's instance (run history, event logs) lives in $ISTV_HOME/dagster unless DAGSTER_HOME
is set; it is written with telemetry off and one writer to the warehouse at a time."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.lib.home import IstvHome

DAGSTER_YAML = """\
# Written by istv. Nothing phones home; one run at a time writes the warehouse.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def prepare_dagster_home(home: IstvHome) -> Path:
    folder = home.dagster
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(folder)
    return folder
