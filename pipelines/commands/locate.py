"""How receptionists' free-text assault locations resolve, and why: for a data officer checking what
the pipeline makes of a text before (or after) a month is run."""

from __future__ import annotations

import dataclasses
import json

import click
from rich.markup import escape

from pipelines.commands import console, table_of


@click.command(
    "locate",
    help="Show where free-text assault locations resolve (venue, street, private, ambiguous or unlocated), and why.",
)
@click.argument("texts", metavar="TEXT...", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def locate(texts: tuple[str, ...], fmt: str) -> None:
    from anonymise.locate_batches import LocationResolver
    from anonymise.reference import gazetteer

    # The matcher the pipeline resolves with (pipelines/resources.py), so the answer is the pipeline's.
    matcher = LocationResolver(gazetteer())
    explained = [(text, matcher.explain(text)) for text in texts]
    # An explanation quotes the officer's own text back to them: it goes to the terminal only,
    # never to a log or the audit trail.
    if fmt == "json":
        click.echo(
            json.dumps([{"text": text, **dataclasses.asdict(e)} for text, e in explained], indent=2, ensure_ascii=False)
        )
        return
    # The words that decided are quoted in the reason, so the table has no column of its own for them.
    rows = [
        (
            text,
            e.status,
            e.place_id and f"{e.place_name} ({e.place_id})",
            e.postcode_district,
            None if e.score is None else f"{e.score:g}",
            e.reason,
        )
        for text, e in explained
    ]
    # Texts, reasons and names may hold "[...]", which rich would read as markup.
    shown = [tuple(None if cell is None else escape(cell) for cell in row) for row in rows]
    console.print(table_of("Where the texts resolve", ["text", "status", "place", "district", "score", "why"], shown))
