"""The `istv` commands, by what the user does, and what every command shares: the consoles, the
one-line failure, the month and working-folder arguments, tables, and the agreement in use.

The group that gathers the commands is pipelines.cli; each module here only parses arguments,
calls the stage that does the work and presents what comes back.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ingest.home import IstvHome

console = Console(soft_wrap=True)
err = Console(stderr=True)


class IstvFailure(click.ClickException):
    def show(self, file=None):
        err.print(f"[bold red]istv:[/] {self.message}", soft_wrap=True, highlight=False)


class IstvUsageError(IstvFailure):
    """A wrong argument: told in one line like every failure, with click's exit status for usage errors."""

    exit_code = 2


def parse_month(value: str | None) -> dt.date | None:
    if value is None:
        return None
    # strptime alone would take "2026-1" for January, which the stages below refuse.
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise IstvUsageError(f"--month {value!r} is not a month: write it as YYYY-MM, e.g. 2018-10")
    return dt.datetime.strptime(value, "%Y-%m").date()


def working_folder() -> IstvHome:
    home = IstvHome.from_env()
    try:
        home.create()
    except OSError as exc:
        raise IstvFailure(
            f"cannot make the working folder {home.root} ({exc.strerror}): set ISTV_HOME to a folder you can write"
        ) from None
    return home


def table_of(title: str | None, columns: list[str], rows) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("—" if v is None else str(v) for v in row))
    return table


def agreement_file(file: Path | None) -> Path:
    from sharing_agreements.model import agreement_path

    return agreement_path(file)


def read_agreement(file: Path):
    from sharing_agreements.model import AgreementError, load_agreement

    try:
        return load_agreement(file)
    except AgreementError as exc:
        raise IstvFailure(str(exc)) from None


def agreement_in_force(file: Path):
    """(agreement, signatures) of `file`, signed by a trusted board and in force today: what
    anything published or written for others is made under. AgreementError otherwise."""
    from sharing_agreements.signing import load_verified

    agreement, signatures = load_verified(file)
    agreement.check_in_force(dt.date.today())
    return agreement, signatures
