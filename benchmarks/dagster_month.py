"""The whole Dagster graph for one month, as `istv run` does it, in a throwaway ISTV_HOME."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

ISTV_KEY_VARIABLES = (
    "ISTV_PSEUDONYM_KEY",
    "ISTV_PSEUDONYM_KEY_FILE",
    "ISTV_QUARANTINE_KEY",
    "ISTV_QUARANTINE_KEY_FILE",
    "ISTV_AGREEMENT",
    "DAGSTER_HOME",
)


def run_dagster_month(month: str, inputs: dict) -> dict:
    """seconds: run_month alone, on a working folder whose Dagster instance exists, as every
    month's run after a deployment's first finds it; import_seconds: loading the Dagster
    definitions first; instance_seconds: creating the instance's storage, once a working folder."""
    when = dt.datetime.strptime(month, "%Y-%m").date()
    with tempfile.TemporaryDirectory(prefix="istv-bench-home-") as folder:
        os.environ["ISTV_HOME"] = str(Path(folder) / "home")
        os.environ["GX_ANALYTICS_ENABLED"] = "false"
        os.environ["DAGSTER_DISABLE_TELEMETRY"] = "true"
        for name in ISTV_KEY_VARIABLES:
            os.environ.pop(name, None)
        started = time.perf_counter()
        from dagster import DagsterInstance

        import pipelines.definitions  # noqa: F401  (what `istv run` imports before running)
        from ingest.home import IstvHome
        from ingest.landing import place
        from ingest.secrets import generate_demo_keys
        from pipelines.lib.instance import prepare_dagster_home
        from pipelines.runs import run_month

        import_seconds = time.perf_counter() - started
        home = IstvHome.from_env()
        home.create()
        generate_demo_keys(home)
        for source in ("ed", "police"):
            place(home, source, when, Path(inputs[source]))
        started = time.perf_counter()
        prepare_dagster_home(home)
        with DagsterInstance.get() as instance:
            instance.get_run_records(limit=1)  # opens, so creates, its run and event-log storage
        instance_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = run_month(when, home)
        seconds = time.perf_counter() - started
        if not result.success:
            raise RuntimeError(f"the Dagster run for {month} failed")
    return {
        "seconds": seconds,
        "import_seconds": import_seconds,
        "instance_seconds": instance_seconds,
        "total_seconds": import_seconds + instance_seconds + seconds,
        "target_seconds": 30,
    }
