"""`istv`: the command line for data officers, analysts and the demo.

Every command fails with a one-line message saying what is wrong and what to do, never a bare
traceback, and never prints a value from an identifiable field. The commands live in
pipelines/commands, by what the user does; this module gathers them into the `istv` group.
"""

from __future__ import annotations

import os
import sys

import click

from pipelines.commands import err
from pipelines.commands.governance import agreements, audit, retention
from pipelines.commands.interventions import interventions
from pipelines.commands.keys import keys, quarantine
from pipelines.commands.locate import locate
from pipelines.commands.mission import mission
from pipelines.commands.month import demo, generate, ingest, run, ui
from pipelines.commands.public import publish_public
from pipelines.commands.warehouse import hotspots, query, report, risk, scan


@click.group(
    help="Share ED and police violence data the Cardiff Model way. Working folder: $ISTV_HOME (default ~/.istv).",
    commands=[
        generate,
        ingest,
        locate,
        run,
        demo,
        ui,
        hotspots,
        report,
        query,
        risk,
        scan,
        agreements,
        audit,
        retention,
        keys,
        quarantine,
        interventions,
    ],
)
# The version pip installed (importlib.metadata), not one written here that could fall behind it.
@click.version_option(package_name="istv", message="istv %(version)s")
def cli() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


cli.add_command(publish_public)
cli.add_command(mission)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        err.print("istv: interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
