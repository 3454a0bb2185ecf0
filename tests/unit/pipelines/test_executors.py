"""Moving past one machine is a setting: ISTV_EXECUTOR picks the executor, with clear refusals."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from dagster import in_process_executor

from pipelines.executors import ExecutorSettingError, executor_from_env

REPO = Path(__file__).resolve().parents[3]
# What a Kubernetes deployment sets (the rest has defaults in pipelines/k8s/executor.yaml).
K8S_ENV = {
    "ISTV_K8S_IMAGE": "registry.example.org/istv:1.4.0",
    "ISTV_DAGSTER_POSTGRES_URL": "postgresql://istv@postgres.istv.svc:5432/dagster",
}


def test_multiprocess_is_the_default_with_two_processes():
    executor = executor_from_env({})
    assert executor.name == "multiprocess"
    assert executor_from_env({"ISTV_MAX_PROCESSES": "6"}).name == "multiprocess"


def _multiprocess_config(env: dict[str, str], run_config: dict) -> dict:
    """The multiprocess executor's config as Dagster resolves it for a run's `execution: config:`."""
    resolved = executor_from_env(env).config_schema.resolve_config({"config": run_config})
    assert resolved.success, resolved.errors
    return resolved.value["config"]


def test_a_run_says_how_many_steps_at_once_and_the_setting_is_the_default():
    assert _multiprocess_config({}, {})["max_concurrent"] == 2
    assert _multiprocess_config({"ISTV_MAX_PROCESSES": "6"}, {})["max_concurrent"] == 6
    # `istv run --processes 1` must mean one step at a time, whatever the setting
    assert _multiprocess_config({"ISTV_MAX_PROCESSES": "6"}, {"max_concurrent": 1})["max_concurrent"] == 1


def test_steps_are_forked_from_a_server_that_imported_the_code_location():
    config = _multiprocess_config({}, {})
    assert config["start_method"] == {"forkserver": {"preload_modules": ["pipelines.definitions"]}}
    assert importlib.import_module("pipelines.definitions").defs.resolve_job_def("istv_monthly")


def test_in_process_can_be_chosen():
    assert executor_from_env({"ISTV_EXECUTOR": "in_process"}) is in_process_executor


@pytest.mark.parametrize("kind, package", [("k8s", "dagster-k8s"), ("celery", "dagster-celery")])
def test_cluster_executors_name_the_package_they_need(kind, package):
    try:
        executor = executor_from_env({**K8S_ENV, "ISTV_EXECUTOR": kind})
    except ExecutorSettingError as exc:
        assert package in str(exc) and "make lock" in str(exc)
    else:  # installed after all: then it is the real executor
        assert kind in executor.name


@pytest.mark.parametrize(
    "env, says",
    [
        ({"ISTV_EXECUTOR": "spark"}, "must be one of"),
        ({"ISTV_MAX_PROCESSES": "0"}, "1 or more"),
        ({"ISTV_MAX_PROCESSES": "two"}, "whole number"),
    ],
)
def test_bad_settings_are_refused_clearly(env, says):
    with pytest.raises(ExecutorSettingError, match=says):
        executor_from_env(env)


def _k8s_config(**env: str) -> dict:
    """The k8s executor's config as Dagster resolves it (defaults filled in, schema checked)."""
    executor = executor_from_env({"ISTV_EXECUTOR": "k8s", **K8S_ENV, **env})
    assert executor.name == "k8s"
    resolved = executor.config_schema.resolve_config({})
    assert resolved.success, resolved.errors
    return resolved.value["config"]


def _env_vars(config: dict) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in config["env_vars"])


def test_k8s_runs_each_step_in_a_pod_of_the_image_the_environment_names():
    pytest.importorskip("dagster_k8s")
    config = _k8s_config(
        ISTV_K8S_NAMESPACE="hub-west",
        ISTV_K8S_HOME_CLAIM="west-home",
        ISTV_K8S_KEYS_SECRET="west-keys",
        ISTV_K8S_POSTGRES_SECRET="west-postgres",
        ISTV_K8S_MAX_CONCURRENT="3",
        ISTV_WAREHOUSE="ducklake",
        ISTV_LAKE_CATALOG="host=postgres.istv.svc dbname=lake user=istv",
        ISTV_LAKE_SCHEMA="west",
    )
    assert config["job_image"] == "registry.example.org/istv:1.4.0"
    assert config["job_namespace"] == "hub-west"
    assert config["max_concurrent"] == 3
    volumes = {volume["name"]: volume for volume in config["volumes"]}
    assert volumes["istv-home"]["persistent_volume_claim"] == {"claim_name": "west-home"}
    assert volumes["istv-keys"]["secret"]["secret_name"] == "west-keys"
    mounts = {mount["name"]: mount for mount in config["volume_mounts"]}
    assert mounts["istv-home"]["mount_path"] == "/istv_home"
    assert mounts["istv-keys"] == {"name": "istv-keys", "mount_path": "/istv_keys", "read_only": True}
    assert config["env_secrets"] == ["west-postgres"]  # PGPASSWORD
    env = _env_vars(config)
    assert env["ISTV_HOME"] == "/istv_home"
    key_files = {item["path"] for item in volumes["istv-keys"]["secret"]["items"]}
    for variable in (
        "ISTV_PSEUDONYM_KEY_FILE",
        "ISTV_QUARANTINE_KEY_FILE",
        "ISTV_AUDIT_KEY_FILE",
        "ISTV_AUDIT_PUBLIC_KEY_FILE",
    ):
        directory, name = env[variable].rsplit("/", 1)
        assert directory == "/istv_keys" and name in key_files  # a file the secret volume holds
    assert env["DAGSTER_DISABLE_TELEMETRY"] == "true" and env["GX_ANALYTICS_ENABLED"] == "false"
    assert env["ISTV_DAGSTER_POSTGRES_URL"] == "postgresql+psycopg2://istv@postgres.istv.svc:5432/dagster"
    assert env["ISTV_WAREHOUSE"] == "ducklake" and env["ISTV_LAKE_SCHEMA"] == "west"
    assert "ISTV_LAKE_DATA" not in env  # forwarded only when set
    assert config["resources"]["requests"]["memory"] == "2Gi"
    # A step's worker processes fit its CPU limit, not the node's cores (what os.cpu_count() sees).
    cpus = config["resources"]["limits"]["cpu"]
    assert env["ISTV_PSEUDONYMISE_PROCESSES"] == env["ISTV_VALIDATE_PROCESSES"] == cpus
    assert not any("PASSWORD" in entry for entry in config["env_vars"])


def test_k8s_defaults_the_namespace_volume_and_secrets():
    pytest.importorskip("dagster_k8s")
    config = _k8s_config()
    assert config["job_namespace"] == "istv"
    assert config["max_concurrent"] == 2
    claims = [v["persistent_volume_claim"]["claim_name"] for v in config["volumes"] if "persistent_volume_claim" in v]
    assert claims == ["istv-home"]
    assert config["env_secrets"] == ["istv-postgres"]


def test_k8s_config_makes_a_valid_kubernetes_job():
    """What the executor would submit for a step, built without a cluster."""
    pytest.importorskip("dagster_k8s")
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig, construct_dagster_k8s_job

    config = _k8s_config()
    context = K8sContainerContext(
        env_secrets=config["env_secrets"],
        env_vars=config["env_vars"],
        volume_mounts=config["volume_mounts"],
        volumes=config["volumes"],
        labels=config["labels"],
        namespace=config["job_namespace"],
        resources=config["resources"],
        security_context=config["security_context"],
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config["step_k8s_config"]),
    )
    # dagster-k8s builds a step's Job with settings of the instance's run launcher, which must be
    # its K8sRunLauncher (the Dagster instance's dagster.yaml, as a ConfigMap mounted in every pod).
    run_launcher = SimpleNamespace(
        job_image=None,
        dagster_home="/opt/dagster/dagster_home",
        instance_config_map="istv-dagster-instance",
        postgres_password_secret=None,
    )
    job_config = context.get_k8s_job_config(config["job_image"], run_launcher)
    job = construct_dagster_k8s_job(
        job_config,
        ["dagster", "api", "execute_step"],
        "dagster-step-abc",
        user_defined_k8s_config=context.run_k8s_config,
        component="step_worker",
    )
    pod = job.spec.template.spec
    (container,) = pod.containers
    assert container.image == "registry.example.org/istv:1.4.0"
    assert container.resources.limits["memory"] and container.resources.requests["memory"] == "2Gi"
    assert {m.name: m.mount_path for m in container.volume_mounts} == {
        "istv-home": "/istv_home",
        "istv-keys": "/istv_keys",
    }
    volumes = {v.name: v for v in pod.volumes}
    assert volumes["istv-home"].persistent_volume_claim.claim_name == "istv-home"
    assert volumes["istv-keys"].secret.secret_name == "istv-keys"
    assert [source.secret_ref.name for source in container.env_from] == ["istv-postgres"]
    assert {e.name: e.value for e in container.env}["ISTV_HOME"] == "/istv_home"
    assert pod.automount_service_account_token is False


@pytest.mark.parametrize(
    "env, says",
    [
        ({"ISTV_K8S_IMAGE": ""}, "needs ISTV_K8S_IMAGE"),
        ({"ISTV_DAGSTER_POSTGRES_URL": ""}, "needs ISTV_DAGSTER_POSTGRES_URL"),
        ({"ISTV_K8S_MAX_CONCURRENT": "many"}, "ISTV_K8S_MAX_CONCURRENT must be a whole number"),
        ({"ISTV_DAGSTER_POSTGRES_URL": "mysql://istv@db/dagster"}, "must be a postgresql://"),
        ({"ISTV_DAGSTER_POSTGRES_URL": "postgresql://istv:hunter2@db/dagster"}, "must not hold a password"),
    ],
)
def test_k8s_settings_that_are_missing_or_unusable_are_refused(env, says):
    pytest.importorskip("dagster_k8s")
    with pytest.raises(ExecutorSettingError, match=says) as refused:
        executor_from_env({"ISTV_EXECUTOR": "k8s", **K8S_ENV, **env})
    assert "hunter2" not in str(refused.value)


def _dg_check_defs(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ISTV_K8S_", "ISTV_DAGSTER_POSTGRES"))}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dg"), "check", "defs"],
        cwd=REPO,
        env={**clean, "ISTV_EXECUTOR": "k8s", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_dg_check_defs_loads_the_k8s_configuration():
    pytest.importorskip("dagster_k8s")
    checked = _dg_check_defs(K8S_ENV)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    refused = _dg_check_defs({k: v for k, v in K8S_ENV.items() if k != "ISTV_K8S_IMAGE"})
    assert refused.returncode != 0
    assert "needs ISTV_K8S_IMAGE" in refused.stdout + refused.stderr
