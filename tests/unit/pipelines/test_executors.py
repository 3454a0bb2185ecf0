"""Moving past one machine is a setting: ISTV_EXECUTOR picks the executor, with clear refusals."""

from __future__ import annotations

import pytest
from dagster import in_process_executor

from pipelines.executors import ExecutorSettingError, executor_from_env


def test_multiprocess_is_the_default_with_two_processes():
    executor = executor_from_env({})
    assert executor.name == "multiprocess"
    assert executor_from_env({"ISTV_MAX_PROCESSES": "6"}).name == "multiprocess"


def test_in_process_can_be_chosen():
    assert executor_from_env({"ISTV_EXECUTOR": "in_process"}) is in_process_executor


@pytest.mark.parametrize("kind, package", [("k8s", "dagster-k8s"), ("celery", "dagster-celery")])
def test_cluster_executors_name_the_package_they_need(kind, package):
    try:
        executor = executor_from_env({"ISTV_EXECUTOR": kind})
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
