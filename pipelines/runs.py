"""Running a month through the Dagster graph, recorded in the instance: what `istv run`, the
demo, the tests and the Dagster benchmark share; and what a person reads of a run: its steps as
they start and end, what each delivery came to, the warnings, and why it failed."""

from __future__ import annotations

import datetime as dt
import multiprocessing.forkserver
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingest.home import IstvHome
from pipelines.partitions import partition_of_month
from schemas.model import SOURCES

# How often the steps' progress is read back from the event log while a run goes on.
FOLLOW_SECONDS = 0.5


@dataclass(frozen=True)
class StepProgress:
    """A stage of the month (a Dagster step that makes an asset) starting or ending."""

    step: str
    state: str  # "started", "finished" or "failed"
    seconds: float = 0.0  # since it started, once it has ended


def run_month(
    month: dt.date,
    home: IstvHome,
    processes: int = 0,
    on_step: Callable[[StepProgress], None] | None = None,
    log: Path | None = None,
):
    """Materialise every asset of the month through Dagster, recorded in the instance: in this
    process, or with `processes` > 0 each step in a process of its own, that many at once (each
    step's memory is then its own: what a national month needs to stay within 2 GiB).

    `on_step` hears each stage start and end as the run goes. With `log`, what the run's
    processes print goes to that file, not the terminal; if the run fails, Dagster's event log of
    it follows, every error with its stack trace, and if it succeeds the file is removed."""
    from dagster import DagsterInstance

    from pipelines.lib.instance import prepare_dagster_home

    prepare_dagster_home(home)
    with DagsterInstance.get() as instance:
        with _following(instance, on_step) as follow_tags, _printing_into(log):
            result = _execute(instance, partition_of_month(f"{month:%Y-%m}"), processes, follow_tags)
        if log is not None:
            if result.success:
                log.unlink()
            else:
                _write_event_log(instance, result.run_id, log)
    return result


def _execute(instance, partition: str, processes: int, tags: dict[str, str]):
    # Dagster's console logger would print a failing step's whole stack trace: the event log
    # keeps it, and the terminal gets istv's own lines.
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    if processes:
        from dagster import execute_job, reconstructable

        from pipelines.executors import ExecutorSettingError, executor_from_env

        if (kind := executor_from_env().name) != "multiprocess":
            raise ExecutorSettingError(
                f"--processes runs a month's steps in processes on this machine, but ISTV_EXECUTOR={kind} "
                "runs them its own way: run without --processes, or unset ISTV_EXECUTOR"
            )
        config = quiet | {"execution": {"config": {"max_concurrent": processes}}}
        with (
            _fork_server_of_this_run(),
            execute_job(
                reconstructable(monthly_job_definition),
                instance=instance,
                run_config=config,
                tags={"dagster/partition": partition} | tags,
                raise_on_error=False,
            ) as result,
        ):
            return _Outcome(result.success, list(result.all_events), result.run_id)
    return monthly_job_definition().execute_in_process(
        partition_key=partition, instance=instance, raise_on_error=False, run_config=quiet, tags=tags
    )


@contextmanager
def _fork_server_of_this_run():
    """The steps' fork server (pipelines.executors) ends with the run. It keeps the environment
    and standard error it started with, so in a process that runs several months (the tests) the
    next run's steps would see this run's working folder and print into this run's log."""
    try:
        yield
    finally:
        multiprocessing.forkserver._forkserver._stop()


def monthly_job_definition():
    """The monthly job as the code location defines it (importable, so other processes can rebuild it)."""
    from pipelines.definitions import defs

    return defs.resolve_job_def("istv_monthly")


@dataclass(frozen=True)
class _Outcome:
    """What a run in separate processes leaves once its result is closed."""

    success: bool
    all_events: list
    run_id: str


def run_log_file(home: IstvHome, month: dt.date) -> Path:
    """Where a run of the month started now keeps what it printed (and, failed, its event log)."""
    home.logs.mkdir(exist_ok=True)
    return home.logs / f"run-{month:%Y-%m}-{dt.datetime.now():%Y%m%dT%H%M%S}.log"


@contextmanager
def _printing_into(log: Path | None):
    """The standard error of this process, and so of the step processes it starts, into `log`:
    in a step process Dagster's own console logger prints at DEBUG whatever the run's config says."""
    if log is None:
        yield
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    try:
        with log.open("ab") as file:
            log.chmod(0o600)  # a stack trace may quote what a step read: the pipeline's eyes only
            os.dup2(file.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        os.close(terminal)


def _write_event_log(instance, run_id: str, log: Path) -> None:
    """Every event and log line of the run, each error with its whole stack trace."""
    with log.open("a", encoding="utf-8") as file:
        file.write(f"Dagster's event log of run {run_id}\n")
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            when = dt.datetime.fromtimestamp(entry.timestamp).isoformat(sep=" ", timespec="seconds")
            file.write(
                f"{when} {entry.step_key or '-'} {event.event_type_value if event else 'LOG'} {entry.user_message}\n"
            )
            error = getattr(event.event_specific_data, "error", None) if event else None
            if error is not None:
                file.write(error.to_string() + "\n")


@contextmanager
def _following(instance, on_step: Callable[[StepProgress], None] | None):
    """Tell `on_step` of the stages of the run while it goes; yields the tags that mark the run
    followed. The events are read back from the instance's event log, where the steps store them
    whether they run in this process or in processes of their own."""
    if on_step is None:
        yield {}
        return
    stages = _stage_steps()
    # execute_job makes the run's id itself: a tag of this call's own finds the run.
    tags = {"istv/followed_by": uuid.uuid4().hex}
    done = threading.Event()
    follower = threading.Thread(target=_follow, args=(instance, tags, stages, on_step, done), daemon=True)
    follower.start()
    try:
        yield tags
    finally:
        done.set()
        follower.join()


def _follow(
    instance, tags: dict[str, str], stages: set[str], on_step: Callable[[StepProgress], None], done: threading.Event
) -> None:
    from dagster import DagsterEventType, RunsFilter

    followed = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    run_id, cursor, started = None, None, {}
    try:
        finished = False
        while not finished:
            finished = done.wait(FOLLOW_SECONDS)  # once the run is over, one last read
            if run_id is None:
                run_id = next(iter(instance.get_run_ids(filters=RunsFilter(tags=tags), limit=1)), None)
                if run_id is None:
                    continue
            more = True
            while more:
                page = instance.get_records_for_run(run_id, cursor=cursor, of_type=followed)
                cursor, more = page.cursor, page.has_more
                for record in page.records:
                    entry = record.event_log_entry
                    if entry.step_key not in stages:
                        continue
                    if entry.dagster_event_type == DagsterEventType.STEP_START:
                        started[entry.step_key] = entry.timestamp
                        on_step(StepProgress(entry.step_key, "started"))
                    else:
                        state = "finished" if entry.dagster_event_type == DagsterEventType.STEP_SUCCESS else "failed"
                        seconds = entry.timestamp - started.get(entry.step_key, entry.timestamp)
                        on_step(StepProgress(entry.step_key, state, seconds))
    except Exception:  # progress is a courtesy: failing to read it must never stop the run
        return


def _stage_steps() -> set[str]:
    """The steps that make the month's assets; the others evaluate their asset checks."""
    from pipelines.definitions import defs

    return {asset.node_def.name for asset in defs.assets}


@dataclass(frozen=True)
class DeliveredSource:
    """What a source's deliveries of the month came to, as its assets recorded it."""

    source: str
    files: int
    rows_received: int
    rows_quarantined: int
    rows_shared: int


@dataclass(frozen=True)
class CheckWarning:
    """An asset check that did not pass but, being a warning, let the month through."""

    asset: str
    check: str
    metadata: dict[str, object]


def delivered_sources(events: Iterable) -> list[DeliveredSource]:
    """Each source the month had a delivery of, from its assets' materialisation metadata."""
    recorded = {}
    for event in events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            materialisation = event.event_specific_data.materialization
            recorded[materialisation.asset_key.to_user_string()] = {
                k: v.value for k, v in materialisation.metadata.items()
            }
    found = []
    for source in SOURCES:
        extract, shared = recorded.get(f"{source}_extract", {}), recorded.get(f"{source}_pseudonymised", {})
        if extract.get("files"):
            found.append(
                DeliveredSource(
                    source,
                    extract["files"],
                    extract["rows_received"],
                    extract["rows_quarantined"],
                    shared.get("rows_shared", 0),
                )
            )
    return found


def check_warnings(events: Iterable) -> list[CheckWarning]:
    """The warnings of the run's asset checks (k-anonymity below the agreement's k, say)."""
    from dagster import AssetCheckSeverity

    return [
        CheckWarning(
            check.asset_key.to_user_string(), check.check_name, {k: v.value for k, v in check.metadata.items()}
        )
        for check in (e.event_specific_data for e in events if e.event_type_value == "ASSET_CHECK_EVALUATION")
        if not check.passed and check.severity == AssetCheckSeverity.WARN
    ]


def failures(events: Iterable) -> list[tuple[str | None, str]]:
    """(step, cause) of each step that failed (None: the run itself), the cause as the last line
    of the error that made it."""
    found = []
    for event in events:
        error = getattr(event.event_specific_data, "error", None) if event.is_failure else None
        if error is not None:
            cause = (error.cause or error).message.strip().splitlines()[-1]
            found.append((event.step_key, _without_exception_path(cause)))
    return found


def _without_exception_path(message: str) -> str:
    """'ingest.secrets.MissingKeyError: no pseudonym key…' -> 'no pseudonym key…': istv's own
    errors are written to be read; a built-in one ('KeyError: …') keeps its name."""
    name, colon, rest = message.partition(": ")
    return rest if colon and "." in name and " " not in name else message
