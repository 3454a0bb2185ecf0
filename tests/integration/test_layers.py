"""The import contract (pyproject.toml, `make lint`) holds today and has teeth: on a copy of the
packages, a Dagster import outside pipelines/ or an import that closes a cycle breaks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def copy(tmp_path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("*.csv", "*.geojson", "__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contract_holds(copy):
    run = _lint_imports(copy)
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize(
    "module, line, contract",
    [
        ("warehouse/publish.py", "import dagster", "Dagster is imported only under pipelines/"),
        ("anonymise/disclosure.py", "import warehouse.tables", "Each stage imports only the stages below it"),
        ("ingest/landing.py", "from sharing_agreements import audit", "Each stage imports only the stages below it"),
    ],
)
def test_a_planted_import_breaks_it(copy, module, line, contract):
    path = copy / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # planted\n", encoding="utf-8")
    run = _lint_imports(copy)
    assert run.returncode != 0
    verdicts = [text for text in run.stdout.splitlines() if text.startswith(contract)]
    assert verdicts and verdicts[0].endswith("BROKEN"), run.stdout
