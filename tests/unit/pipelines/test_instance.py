"""dagster.yaml as the environment decides: SQLite in the working folder by default, PostgreSQL with
ISTV_DAGSTER_POSTGRES_URL (named in the file, never its value), and back again without it."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.lib.instance import DAGSTER_YAML, DagsterSettingError, dagster_yaml, prepare_dagster_home

SECRET_URL = "postgresql://istv:Pw-unit-93b1@db.example:5432/dagster"


@pytest.fixture
def home(istv_home, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(istv_home.root / "dagster"))  # what prepare sets is undone
    monkeypatch.delenv("ISTV_DAGSTER_POSTGRES_URL", raising=False)
    monkeypatch.delenv("ISTV_MAX_CONCURRENT_RUNS", raising=False)
    return istv_home


def test_without_the_variable_dagster_yaml_is_as_it_always_was(home):
    config = prepare_dagster_home(home) / "dagster.yaml"
    assert config.read_text() == DAGSTER_YAML


def test_with_the_variable_storage_and_queue_are_configured_by_name(home, monkeypatch):
    monkeypatch.setenv("ISTV_DAGSTER_POSTGRES_URL", SECRET_URL)
    text = (prepare_dagster_home(home) / "dagster.yaml").read_text()
    config = yaml.safe_load(text)
    assert config["telemetry"] == {"enabled": False}
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "ISTV_DAGSTER_POSTGRES_URL"}}}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_coordinator"]["config"] == {"max_concurrent_runs": 2}
    assert "Pw-unit-93b1" not in text and "db.example" not in text


def test_the_environment_decides_each_time(home, monkeypatch):
    monkeypatch.setenv("ISTV_DAGSTER_POSTGRES_URL", SECRET_URL)
    monkeypatch.setenv("ISTV_MAX_CONCURRENT_RUNS", "5")
    config = prepare_dagster_home(home) / "dagster.yaml"
    assert yaml.safe_load(config.read_text())["run_coordinator"]["config"]["max_concurrent_runs"] == 5
    monkeypatch.delenv("ISTV_DAGSTER_POSTGRES_URL")
    prepare_dagster_home(home)
    assert config.read_text() == DAGSTER_YAML


def test_a_hand_edited_file_is_kept(home, monkeypatch):
    config = prepare_dagster_home(home) / "dagster.yaml"
    edited = DAGSTER_YAML + "run_queue:\n  max_concurrent_runs: 4\n"
    config.write_text(edited)
    prepare_dagster_home(home)
    assert config.read_text() == edited  # without the variable, left alone as before
    monkeypatch.setenv("ISTV_DAGSTER_POSTGRES_URL", SECRET_URL)
    prepare_dagster_home(home)
    assert "storage:" in config.read_text()
    assert (config.parent / "dagster.yaml.saved").read_text() == edited


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ISTV_DAGSTER_POSTGRES_URL", "mysql://istv:Pw-unit-93b1@db.example/dagster"),
        ("ISTV_MAX_CONCURRENT_RUNS", "0"),
        ("ISTV_MAX_CONCURRENT_RUNS", "many"),
    ],
)
def test_a_setting_that_cannot_be_used_is_refused(home, monkeypatch, variable, value):
    env = {"ISTV_DAGSTER_POSTGRES_URL": SECRET_URL, variable: value}
    with pytest.raises(DagsterSettingError, match=variable) as refused:
        dagster_yaml(env)
    assert "Pw-unit-93b1" not in str(refused.value)


def test_istv_run_refuses_a_bad_url_in_one_line_without_its_password(home, monkeypatch, tmp_path):
    from pipelines.synthetic import generate_month

    runner = CliRunner()
    extract = generate_month("2018-10", tmp_path, seed=4, ed_rows=20)["ed"]
    assert runner.invoke(cli, ["ingest", str(extract), "--source", "ed"]).exit_code == 0
    monkeypatch.setenv("ISTV_DAGSTER_POSTGRES_URL", "mysql://istv:Pw-unit-93b1@db.example/dagster")
    result = runner.invoke(cli, ["run", "--month", "2018-10"])
    assert result.exit_code == 1
    assert "ISTV_DAGSTER_POSTGRES_URL must be a postgresql://" in result.stderr
    assert "Pw-unit-93b1" not in result.output and "Traceback" not in result.output


def test_on_kubernetes_runs_are_launched_as_pods_by_dagster_k8s():
    """ISTV_EXECUTOR=k8s: the instance launches each run as a pod (K8sRunLauncher, which the step
    executor needs), its configuration valid for dagster_k8s; no password written."""
    import yaml
    from dagster._config import process_config
    from dagster_k8s import K8sRunLauncher

    from pipelines.lib.instance import dagster_yaml

    env = {
        "ISTV_DAGSTER_POSTGRES_URL": "postgresql://istv:s3cret-pw@db:5432/dagster",
        "ISTV_EXECUTOR": "k8s",
        "ISTV_K8S_IMAGE": "registry.example/istv:2026.12",
    }
    written = dagster_yaml(env)
    assert "s3cret-pw" not in written
    launcher = yaml.safe_load(written)["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    checked = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert checked.success, checked.errors
    assert checked.value["job_image"] == "registry.example/istv:2026.12"
    assert checked.value["job_namespace"] == "istv" and checked.value["env_secrets"] == ["istv-postgres"]


def test_kubernetes_needs_postgres_and_an_image():
    import pytest

    from pipelines.lib.instance import DagsterSettingError, dagster_yaml

    with pytest.raises(DagsterSettingError, match="needs ISTV_DAGSTER_POSTGRES_URL"):
        dagster_yaml({"ISTV_EXECUTOR": "k8s", "ISTV_K8S_IMAGE": "istv:1"})
    with pytest.raises(DagsterSettingError, match="needs ISTV_K8S_IMAGE"):
        dagster_yaml({"ISTV_EXECUTOR": "k8s", "ISTV_DAGSTER_POSTGRES_URL": "postgresql://istv@db/dagster"})
