"""An installed istv (`pip install .`, not editable) runs `istv demo` from another folder: every
file it reads (open data, agreement, trusted keys, SQL, templates, YAML) is package data, found
where the package is installed, never beside a source checkout."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_an_installed_istv_runs_the_demo_from_another_folder(tmp_path):
    installed, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(installed),
            str(REPO),
        ],
        check=True,
    )
    # The installed copy comes first on the path; the source checkout is not on it at all.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ISTV_AGREEMENT")}
    env |= {"PYTHONPATH": str(installed), "ISTV_HOME": str(elsewhere / "home")}
    script = (
        "import atexit, sys\n"
        f"checkout = {str(REPO) + os.sep!r}\n"
        "def from_checkout():\n"
        "    files = (getattr(m, '__file__', None) or '' for m in list(sys.modules.values()))\n"
        "    mine = sorted(f for f in files if f.startswith(checkout) and 'site-packages' not in f)\n"
        "    print('loaded from the checkout:', mine)\n"
        "atexit.register(from_checkout)\n"
        "import pipelines.cli as cli\n"
        "print(cli.__file__)\n"
        "sys.argv = ['istv', 'demo']\n"
        "cli.main()\n"
    )
    run = subprocess.run(
        [sys.executable, "-P", "-c", script], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.stdout.splitlines()[0] == str(installed / "pipelines" / "cli.py")
    assert (elsewhere / "home" / "warehouse" / "istv.duckdb").is_file()
    assert "Report for 2026-10" in run.stdout
    assert run.stdout.splitlines()[-1] == "loaded from the checkout: []"
