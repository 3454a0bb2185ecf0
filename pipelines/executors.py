"""Which Dagster executor runs a month's steps: configuration, not code (`ISTV_EXECUTOR`).

- `multiprocess` (the default): steps in parallel processes on this machine, at most
  `ISTV_MAX_PROCESSES` at once (2: the sources of a month side by side; a run's config may say
  `execution: {config: {max_concurrent: N}}`, as `istv run --processes N` does). Each step's
  process is forked from a server that has imported the code location once per run.
- `in_process`: one process, as `istv run` and the tests use.
- `k8s`: one Kubernetes pod per step (`dagster-k8s`), configured by pipelines/k8s/executor.yaml
  with values from the environment when the code location loads: the image (`ISTV_K8S_IMAGE`,
  required), the namespace, the shared volume holding `ISTV_HOME`, the secrets holding the keys
  (passed through the same `ISTV_*_KEY_FILE` variables) and PGPASSWORD.
- `celery`: steps queued to Celery workers (`dagster-celery`), with the same shared `ISTV_HOME`.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml
from dagster import ExecutorDefinition, Field, in_process_executor, multiprocess_executor

EXTRAS = {
    "k8s": ("dagster_k8s", "k8s_job_executor", "dagster-k8s"),
    "celery": ("dagster_celery", "celery_executor", "dagster-celery"),
}

K8S_CONFIG_FILE = "pipelines/k8s/executor.yaml"
# Imported once by the run's fork server, whose forks run the steps. Started fresh, each step would
# import it again (Dagster, DuckDB, Great Expectations: about 3 s of each of a month's 20 steps).
CODE_LOCATION = "pipelines.definitions"
# ${NAME} (required) or ${NAME:-default}
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")
_K8S_HINTS = {
    "ISTV_K8S_IMAGE": "the image each step's pod runs, pinned by tag or digest (e.g. registry.example.org/istv:1.4.0)",
    "ISTV_DAGSTER_POSTGRES_URL": "the PostgreSQL database of the run history, which every step's pod reports to "
    "(postgresql://user@host:5432/database; the password in the secret's PGPASSWORD)",
}


class ExecutorSettingError(ValueError):
    pass


def executor_from_env(env: Mapping[str, str] | None = None) -> ExecutorDefinition:
    env = os.environ if env is None else env
    kind = env.get("ISTV_EXECUTOR", "multiprocess")
    if kind == "multiprocess":
        processes = env.get("ISTV_MAX_PROCESSES", "2")
        if not processes.isdigit() or int(processes) < 1:
            raise ExecutorSettingError(
                f"ISTV_MAX_PROCESSES must be a whole number of processes, 1 or more (it is {processes!r})"
            )
        return multiprocess_executor.configured(
            lambda config: {
                "max_concurrent": config.get("max_concurrent", int(processes)),
                "start_method": {"forkserver": {"preload_modules": [CODE_LOCATION]}},
            },
            name="multiprocess",
            config_schema={"max_concurrent": Field(int, is_required=False)},
        )
    if kind == "in_process":
        return in_process_executor
    if kind in EXTRAS:
        module, name, package = EXTRAS[kind]
        try:
            executor = getattr(__import__(module), name)
        except ImportError:
            raise ExecutorSettingError(
                f"ISTV_EXECUTOR={kind} needs the {package} package: add it to requirements.in, run `make lock` "
                "and reinstall"
            ) from None
        if kind == "k8s":
            return executor.configured(k8s_executor_config(env), name="k8s")
        return executor
    raise ExecutorSettingError(
        f"ISTV_EXECUTOR must be one of multiprocess, in_process, {', '.join(EXTRAS)} (it is {kind!r})"
    )


def k8s_executor_config(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """pipelines/k8s/executor.yaml's `executor:` with the environment's values filled in, and its
    `forwarded_env` variables (the required ones, those of the others that are set) added to
    env_vars as NAME=value: the k8s_job_executor's config."""
    env = os.environ if env is None else env
    document = yaml.safe_load(resources.files("pipelines.k8s").joinpath("executor.yaml").read_text())
    config = _fill(copy.deepcopy(document["executor"]), env)

    concurrent = str(config.get("max_concurrent", "")).strip()
    if not concurrent.isdigit() or int(concurrent) < 1:
        raise ExecutorSettingError(
            f"ISTV_K8S_MAX_CONCURRENT must be a whole number of step pods, 1 or more (it is {concurrent!r})"
        )
    config["max_concurrent"] = int(concurrent)

    forwarded = []
    for name in document["forwarded_env"]["required"]:
        forwarded.append(f"{name}={_forwarded_value(name, _setting(name, None, env))}")
    for name in document["forwarded_env"]["when_set"]:
        value = env.get(name, "").strip()
        if value:
            forwarded.append(f"{name}={_forwarded_value(name, value)}")
    config["env_vars"] = [*config.get("env_vars", []), *forwarded]
    return config


def _fill(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, env) for value in node]
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda match: _setting(match[1], match[2], env), node)
    return node


def _setting(name: str, default: str | None, env: Mapping[str, str]) -> str:
    value = env.get(name, "").strip()
    if value:
        return value
    if default is not None:
        return default
    hint = _K8S_HINTS.get(name, "")
    raise ExecutorSettingError(
        f"ISTV_EXECUTOR=k8s needs {name}{', ' + hint if hint else ''}: it is not set "
        f"({K8S_CONFIG_FILE} says what each setting is for)"
    )


def _forwarded_value(name: str, value: str) -> str:
    if name != "ISTV_DAGSTER_POSTGRES_URL":
        return value
    from pipelines.lib.instance import DagsterSettingError, postgres_url

    try:
        url = postgres_url({name: value})
    except DagsterSettingError as exc:
        raise ExecutorSettingError(str(exc)) from None
    assert url is not None
    try:
        password = urlsplit(url).password
    except ValueError:  # a URL that cannot be split; its value is not shown (it may hold a password)
        raise ExecutorSettingError(f"{name} is not a URL that can be read (its value is not shown)") from None
    if password:
        # It would be written into every step pod's spec: the password comes from the secret.
        raise ExecutorSettingError(
            f"with ISTV_EXECUTOR=k8s, {name} must not hold a password: give it as PGPASSWORD in the "
            "secret named by ISTV_K8S_POSTGRES_SECRET (its value is not shown)"
        )
    return url
