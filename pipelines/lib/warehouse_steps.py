"""One step at a time on the embedded warehouse file, across runs: what lets several months run at
once (a backfill, two `istv run`s, queued runs on a PostgreSQL-backed instance).

DuckDB lets one process open a file to write, or any number to read, never both: a month's
evaluations writing their tables in place (outcomes/publish.py) fail while another month's
steps read the file, and the other way round. The steps that open the live warehouse hold this
lock while they do. It is an OS file lock, so it dies with its process: a run killed with SIGKILL
never leaves the next one waiting, as a Dagster pool slot would (pipelines/lib/instance.py). It
is another file than the publish lock (warehouse/publish.py, outcomes/publish.py), which the
steps take inside it as they always did. A DuckLake warehouse (warehouse/lake.py) needs none:
its readers and writers work at once, each commit one transaction."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse import lake


@contextmanager
def warehouse_steps_lock(warehouse: Path) -> Iterator[None]:
    if lake.configured(warehouse.parent) is not None:
        yield
        return
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with warehouse.with_name(f".{warehouse.name}.steps.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
