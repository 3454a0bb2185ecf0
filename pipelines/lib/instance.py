"""Dagster's instance (run history, event logs) lives in $ISTV_HOME/dagster unless DAGSTER_HOME
is set; it is written with telemetry off.

By default its run, event-log and schedule storage are SQLite files in that folder. With
ISTV_DAGSTER_POSTGRES_URL set (a postgresql:// URL; its password in it or in PGPASSWORD, which
libpq reads), they are on PostgreSQL through dagster-postgres, and runs launched from the UI, the
schedule or the sensor are queued and run ISTV_MAX_CONCURRENT_RUNS (default 2) at a time: a
backfill of many months runs several at once. dagster.yaml names the variable, never its value,
so the URL is read from the environment by each process that opens the instance and is written
nowhere. The file is written again each time istv opens the instance, so the environment decides:
unset the variable and the next command is back on SQLite. istv hands the URL on to the processes
it starts (Dagster's, `istv ui`'s) as postgresql+psycopg2://, the driver dagster-postgres is
written for; a Dagster process started without istv needs that scheme in the variable itself.
Without the variable a dagster.yaml edited by hand (one that is not istv's) is left as it is, as it
always was; with it, a hand-edited file is kept beside as dagster.yaml.saved and replaced.

One writer at a time is guaranteed by the publish lock (warehouse/publish.py), an OS file lock
that dies with its process. A Dagster pool limit on `warehouse` would also serialise publishes,
but a run killed with SIGKILL keeps its pool slot in the instance and every later run waits for
it forever; deployments with a daemon and run monitoring may add `concurrency: pools:` here."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ingest.home import IstvHome

POSTGRES_URL_VARIABLE = "ISTV_DAGSTER_POSTGRES_URL"
MAX_CONCURRENT_RUNS_VARIABLE = "ISTV_MAX_CONCURRENT_RUNS"
DEFAULT_MAX_CONCURRENT_RUNS = 2
# SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3, on which dagster-postgres's event log
# fails (its NOTIFY takes no server-side parameter): istv hands it psycopg2, which it is written for.
PSYCOPG2_SCHEME = "postgresql+psycopg2://"
POSTGRES_SCHEMES = ("postgresql://", "postgres://", PSYCOPG2_SCHEME)

DAGSTER_YAML = """\
# Written by istv. Nothing phones home.
telemetry:
  enabled: false
"""

POSTGRES_HEADER = f"# Written by istv from {POSTGRES_URL_VARIABLE}, again each time istv opens the instance."

POSTGRES_YAML = f"""\
{POSTGRES_HEADER}
# Nothing phones home. The URL is read from the environment by each process; it is not written here.
telemetry:
  enabled: false
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_URL_VARIABLE}
run_coordinator:
  module: dagster
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {{max_concurrent_runs}}
"""


class DagsterSettingError(ValueError):
    """A setting of Dagster's instance in the environment that cannot be used (its value unsaid)."""


def max_concurrent_runs(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    value = env.get(MAX_CONCURRENT_RUNS_VARIABLE, "").strip() or str(DEFAULT_MAX_CONCURRENT_RUNS)
    if not value.isdigit() or int(value) < 1:
        raise DagsterSettingError(
            f"{MAX_CONCURRENT_RUNS_VARIABLE} must be a whole number of runs, 1 or more (it is {value!r})"
        )
    return int(value)


def postgres_url(env: Mapping[str, str] | None = None) -> str | None:
    """ISTV_DAGSTER_POSTGRES_URL as dagster-postgres must be given it (psycopg2's scheme), or None."""
    env = os.environ if env is None else env
    url = env.get(POSTGRES_URL_VARIABLE, "").strip()
    if not url:
        return None
    scheme = next((s for s in POSTGRES_SCHEMES if url.startswith(s)), None)
    if scheme is None:
        # Never the value: it may hold a password.
        raise DagsterSettingError(
            f"{POSTGRES_URL_VARIABLE} must be a postgresql://user@host:port/database URL "
            "(its value is not shown: it may hold a password)"
        )
    return PSYCOPG2_SCHEME + url.removeprefix(scheme)


# On Kubernetes (ISTV_EXECUTOR=k8s) each run is a pod of its own, launched by dagster_k8s's run
# launcher, which the step executor (pipelines/k8s/executor.yaml) also needs: its pods read this
# same dagster.yaml from the ConfigMap named here, and the PostgreSQL password from the secret.
K8S_LAUNCHER_YAML = """\
run_launcher:
  module: dagster_k8s
  class: K8sRunLauncher
  config:
    job_image: {image}
    job_namespace: {namespace}
    instance_config_map: {config_map}
    service_account_name: {service_account}
    env_secrets: [{postgres_secret}]
    load_incluster_config: true
"""


def dagster_yaml(env: Mapping[str, str] | None = None) -> str:
    """The dagster.yaml the environment asks for: SQLite in DAGSTER_HOME, or PostgreSQL (with
    Kubernetes' run launcher when ISTV_EXECUTOR=k8s)."""
    env = os.environ if env is None else env
    if postgres_url(env) is None:
        if env.get("ISTV_EXECUTOR") == "k8s":
            raise DagsterSettingError(
                f"ISTV_EXECUTOR=k8s needs {POSTGRES_URL_VARIABLE}: pods on several nodes share Dagster's run "
                "history, which SQLite files cannot hold"
            )
        return DAGSTER_YAML
    written = POSTGRES_YAML.format(max_concurrent_runs=max_concurrent_runs(env))
    if env.get("ISTV_EXECUTOR") == "k8s":
        image = env.get("ISTV_K8S_IMAGE", "").strip()
        if not image:
            raise DagsterSettingError(
                "ISTV_EXECUTOR=k8s needs ISTV_K8S_IMAGE, the istv image runs and steps start from"
            )
        written += K8S_LAUNCHER_YAML.format(
            image=image,
            namespace=env.get("ISTV_K8S_NAMESPACE", "istv"),
            config_map=env.get("ISTV_K8S_INSTANCE_CONFIG_MAP", "istv-dagster-instance"),
            service_account=env.get("ISTV_K8S_SERVICE_ACCOUNT", "istv"),
            postgres_secret=env.get("ISTV_K8S_POSTGRES_SECRET", "istv-postgres"),
        )
    return written


def prepare_dagster_home(home: IstvHome) -> Path:
    folder = home.dagster
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    wanted = dagster_yaml()
    url = postgres_url()
    if url is not None:  # for this process and those it starts: Dagster's own, `dagster dev`'s
        os.environ[POSTGRES_URL_VARIABLE] = url
    current = config.read_text() if config.exists() else None
    if current != wanted:
        ours = current is None or current == DAGSTER_YAML or current.startswith(POSTGRES_HEADER)
        if wanted != DAGSTER_YAML or ours:
            if not ours:  # edited by hand: kept, not lost
                _write_atomically(folder / "dagster.yaml.saved", current)
            _write_atomically(config, wanted)
    os.environ["DAGSTER_HOME"] = str(folder)
    return folder


def _write_atomically(path: Path, text: str) -> None:
    """Written whole or not at all: another istv process may be reading it at this moment."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
