"""Which Dagster executor runs a month's steps: configuration, not code (`ISTV_EXECUTOR`).

- `multiprocess` (the default): steps in parallel processes on this machine, at most
  `ISTV_MAX_PROCESSES` at once (2: the sources of a month side by side).
- `in_process`: one process, as `istv run` and the tests use.
- `k8s`: one Kubernetes pod per step (`dagster-k8s`); the zones must then be on a shared volume
  (`ISTV_HOME`), keys come from secrets through the same `ISTV_*_KEY_FILE` variables.
- `celery`: steps queued to Celery workers (`dagster-celery`), with the same shared `ISTV_HOME`.
"""

from __future__ import annotations

import os

from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

EXTRAS = {
    "k8s": ("dagster_k8s", "k8s_job_executor", "dagster-k8s"),
    "celery": ("dagster_celery", "celery_executor", "dagster-celery"),
}


class ExecutorSettingError(ValueError):
    pass


def executor_from_env(env: dict[str, str] | None = None) -> ExecutorDefinition:
    env = os.environ if env is None else env
    kind = env.get("ISTV_EXECUTOR", "multiprocess")
    if kind == "multiprocess":
        processes = env.get("ISTV_MAX_PROCESSES", "2")
        if not processes.isdigit() or int(processes) < 1:
            raise ExecutorSettingError(
                f"ISTV_MAX_PROCESSES must be a whole number of processes, 1 or more (it is {processes!r})"
            )
        return multiprocess_executor.configured({"max_concurrent": int(processes)})
    if kind == "in_process":
        return in_process_executor
    if kind in EXTRAS:
        module, name, package = EXTRAS[kind]
        try:
            return getattr(__import__(module), name)
        except ImportError:
            raise ExecutorSettingError(
                f"ISTV_EXECUTOR={kind} needs the {package} package: add it to requirements.in, run `make lock` "
                "and reinstall"
            ) from None
    raise ExecutorSettingError(
        f"ISTV_EXECUTOR must be one of multiprocess, in_process, {', '.join(EXTRAS)} (it is {kind!r})"
    )
