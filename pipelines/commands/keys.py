"""What a data officer does with the keys and with what they unlock: the pseudonym key ring, and
the rows validation rejected, held encrypted until their provider fixes them."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ingest.home import IstvHome
from pipelines.commands import IstvFailure, console, parse_month, table_of, working_folder
from schemas.model import SOURCES


@click.group(help="Keys for pseudonyms and the quarantine.")
def keys() -> None:
    pass


@keys.command("generate", help="Make throwaway demo keys in $ISTV_HOME/keys (never for real data).")
def keys_generate() -> None:
    from ingest.secrets import generate_demo_keys

    home = working_folder()
    made = generate_demo_keys(home)
    record_key_events(home, made)
    console.print("\n".join(f"made {kind} key {p}" for kind, p in made) or "demo keys already exist")


@keys.command("list", help="The pseudonym key ring: key ids, creation dates, status (never the keys).")
def keys_list() -> None:
    from ingest.secrets import MissingKeyError, pseudonym_key_ring

    try:
        ring = pseudonym_key_ring(working_folder())
    except MissingKeyError as exc:
        raise IstvFailure(str(exc)) from None
    console.print(
        table_of(
            "Pseudonym keys", ["key id", "created", "status"], [(k.key_id, k.created, k.status) for k in ring.keys]
        )
    )


@keys.command("rotate", help="Demo key ring only: make a new active pseudonym key and retire the old one.")
def keys_rotate() -> None:
    from ingest.secrets import rotate_demo_pseudonym_key

    home = working_folder()
    if os.environ.get("ISTV_PSEUDONYM_KEY") or os.environ.get("ISTV_PSEUDONYM_KEY_FILE"):
        raise IstvFailure("keys from the environment are rotated by their custodian, not by istv")
    ring = rotate_demo_pseudonym_key(home)
    _audit(
        home,
        "key_event",
        {
            "event": "rotated (demo)",
            "key": "pseudonym",
            "key_id": ring.active.key_id,
            "retired": [k.key_id for k in ring.keys if k.status == "retired"],
        },
    )
    console.print(f"new active pseudonym key {ring.active.key_id}; every pseudonym changes from the next run")


def record_key_events(home: IstvHome, made) -> None:
    from ingest.secrets import key_ids

    ids = key_ids(home)
    for kind, _ in made:
        _audit(home, "key_event", {"event": "generated (demo)", "key": kind, "key_id": ids[kind]})


def _audit(home: IstvHome, kind: str, details: dict) -> None:
    from ingest.secrets import MissingKeyError
    from sharing_agreements.auditing import record

    try:
        record(home, kind, details)
    except MissingKeyError as exc:
        raise IstvFailure(f"cannot write the audit log: {exc}") from None


@click.group(help="Rows rejected by validation, held encrypted for their provider.")
def quarantine() -> None:
    pass


@quarantine.command("list", help="Reasons and counts per file (no values).")
def quarantine_list() -> None:
    from ingest.quarantine import quarantine_summaries

    home = working_folder()
    rows = []
    for path, summary in quarantine_summaries(home.quarantine):
        where = path.relative_to(home.quarantine).parent
        for reason, count in summary["reasons"].items():
            rows.append((str(where), path.name.removesuffix(".summary.json"), reason, count))
    console.print(table_of("Quarantined rows", ["source/month", "file", "reason", "rows"], rows))


@quarantine.command("export", help="Decrypt a month's quarantined rows for the providing data officer to fix.")
@click.option("--source", required=True, type=click.Choice(list(SOURCES)))
@click.option("--month", required=True, help="YYYY-MM")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV to write (holds identifiers: keep it safe).",
)
def quarantine_export(source: str, month: str, out: Path) -> None:
    from ingest.secrets import MissingKeyError, quarantine_cipher

    when = parse_month(month)
    home = working_folder()
    files = sorted((home.quarantine / source / f"{when:%Y-%m}").glob("*.parquet.fernet"))
    if not files:
        raise IstvFailure(f"nothing quarantined for {source} {month}")
    try:
        cipher = quarantine_cipher(home)
    except MissingKeyError as exc:
        raise IstvFailure(str(exc)) from None
    rows = _rows_to_fix(source, files, cipher)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out, index=False)
    out.chmod(0o600)
    _audit(
        home,
        "quarantine_export",
        {
            "source": source,
            "month": f"{when:%Y-%m}",
            "rows": len(rows),
            "files": [f.name for f in files],
            "out": out.name,
        },
    )
    console.print(f"{len(rows)} quarantined rows written to {out} (identifiable: delete it once fixed)")
    console.print("Fix the rows in the provider's system and deliver a corrected extract for the whole month.")


def _rows_to_fix(source: str, files: list[Path], cipher):
    """The quarantined rows of the files, decrypted, under the provider's own column headers, so
    the fixed file can be ingested again."""
    import pandas as pd

    from ingest.quarantine import read_quarantine
    from schemas import schema_for_source

    rows = pd.concat([read_quarantine(f, cipher) for f in files], ignore_index=True)
    headers = {f.name: f.header for f in schema_for_source(source).fields}
    return rows.rename(columns=headers)[["source_line", "reasons", *headers.values()]]
