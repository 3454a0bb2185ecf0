"""A real PostgreSQL server for the hub's tests and benchmarks (DuckLake's catalogue, Dagster's
storage): started from the Debian packages' binaries on a loopback port in a temporary folder,
stopped at the end. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user
the package creates. Nothing is skipped: without the binaries it fails and says how to install them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
INSTALL = "apt-get install -y postgresql"
SUPERUSER = "istv_admin"


def _binary(name: str) -> str:
    found = shutil.which(name) or next((str(d / name) for d in BIN_DIRS if (d / name).exists()), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} not found: the hub needs PostgreSQL. Install it with `{INSTALL}`.")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        """A libpq connection string (key=value), as DuckDB's postgres extension and psycopg take it."""
        parts = [f"host={self.host}", f"port={self.port}", f"dbname={dbname}", f"user={user}"]
        return " ".join(parts + ([f"password={password}"] if password else []))

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True) as con:
            con.execute(sql)


@contextlib.contextmanager
def running_postgres():
    """A PostgreSQL server in a folder of its own (removed after), listening on 127.0.0.1 only;
    the superuser SUPERUSER needs no password on loopback, any other role its password."""
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Directly under the temporary directory: the postgres user must reach it, and pytest's own
    # temporary folders are private to the user running the tests.
    folder = Path(tempfile.mkdtemp(prefix="istv-postgres-"))
    data = folder / "data"
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run(
        [
            *as_postgres,
            _binary("initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-locale",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ],
        **run,
    )
    # The superuser is trusted on loopback (the tests' admin); every other role must give its password.
    hba = data / "pg_hba.conf"
    hba.write_text(f"host all {SUPERUSER} 127.0.0.1/32 trust\n" + hba.read_text())
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} -c fsync=off"
    subprocess.run(
        [
            *as_postgres,
            _binary("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "start",
            "-l",
            str(folder / "server.log"),
        ],
        **run,
    )
    try:
        yield PostgresServer("127.0.0.1", port)
    finally:
        subprocess.run([*as_postgres, _binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], **run)
        shutil.rmtree(folder, ignore_errors=True)
