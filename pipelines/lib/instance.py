"""Dagster's instance (run history, event logs) lives in $ISTV_HOME/dagster unless DAGSTER_HOME
is set; it is written with telemetry off.

One writer at a time is guaranteed by the publish lock (warehouse/publish.py), an OS file lock
that dies with its process. A Dagster pool limit on `warehouse` would also serialise publishes,
but a run killed with SIGKILL keeps its pool slot in the instance and every later run waits for
it forever; deployments with a daemon and run monitoring may add `concurrency: pools:` here."""

from __future__ import annotations

import os
from pathlib import Path

from ingest.home import IstvHome

DAGSTER_YAML = """\
# Written by istv. Nothing phones home.
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: IstvHome) -> Path:
    folder = home.dagster
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(folder)
    return folder
