"""Accept a delivered extract into the landing zone, all or nothing.

Every check comes before the file is landed: it can be read, every provider it names is a party
to the agreement for its dataset, its rows are in the month it is declared for, and the same
bytes were not delivered before. A failure after it (the audit entry) withdraws it, so a retry
is never refused as already ingested. `istv ingest` calls `accept_delivery`; the agreement and
the audit log are handed in, as governance sits above ingestion.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from anonymise.leaks import LeakScanner
from ingest.home import IstvHome
from ingest.landing import Delivery, DuplicateDelivery, place, withdraw
from ingest.layout import ExtractError
from ingest.parse import Survey, survey
from schemas import schema_for_source

if TYPE_CHECKING:  # the agreement is passed in: governance sits above ingestion
    from sharing_agreements.model import Agreement

# Writes an entry (kind, details) to the audit log, which belongs to governance, above ingestion.
Audit = Callable[[str, dict], None]

_ORGANISATION = re.compile(
    r"^[A-Z0-9]{2,12}$|\b(police|constabulary|health|hospital|board|trust|service)\b", re.IGNORECASE
)


class RefusedDelivery(ValueError):
    """A file that must not be landed under the agreement or for the month it was declared for;
    the message says why and what to do, and that nothing was landed."""


def accept_delivery(
    home: IstvHome, source: str, file: Path, month: dt.date | None, agreement: Agreement, audit: Audit
) -> Delivery:
    """Land `file` as the `source` extract for `month` (when None, the month most of its rows
    are in) and audit it, or land nothing. Raises ExtractError for a file that cannot be read,
    RefusedDelivery for a provider outside the agreement or a file of another month, and
    DuplicateDelivery for bytes delivered before; every refusal is audited with its kind."""
    with _refused(audit, source, file, month, _kind_of_unreadable):
        found = survey(file, schema_for_source(source))  # reads the whole file once
    with _refused(audit, source, file, month, lambda _: "wrong_month"):
        month = month or found.likeliest_month()
    _check_providers(found, source, agreement, audit)
    with _refused(audit, source, file, month, lambda _: "wrong_month"):
        _check_month(found, month, source)
    try:
        delivery = place(home, source, month, file, providers=found.providers)
    except DuplicateDelivery:
        audit("duplicate_refused", {"source": source, "month": f"{month:%Y-%m}", "file": file.name})
        raise
    try:
        audit(
            "delivery",
            {
                "source": source,
                "month": f"{month:%Y-%m}",
                "file": delivery.path.name,
                "providers": list(delivery.providers),
                "size": delivery.size,
                "sha256": delivery.sha256,
                "superseded": [d.sha256 for d in delivery.superseded],
            },
        )
    except BaseException:
        withdraw(delivery)
        raise
    return delivery


def _kind_of_unreadable(error: ExtractError) -> str:
    """A file that cannot be read as the declared extract: the wrong kind of file (another
    extract, or no CSV at all), or one that is damaged. Told apart by ingest.layout's words."""
    message = str(error)
    return "wrong_kind" if "kind of file" in message or "is not a CSV file" in message else "unreadable"


@contextmanager
def _refused(
    audit: Audit, source: str, file: Path, month: dt.date | None, kind: Callable[[Exception], str]
) -> Iterator[None]:
    """Audits a refusal raised inside, with its kind, then lets it go on. The reason is the
    message the data officer reads, which names the file, lines and headers, never a value; one
    the leak scanner would flag is left out all the same, as the audit log is kept for ever."""
    try:
        yield
    except (ExtractError, RefusedDelivery) as refusal:
        reason = str(refusal)
        if LeakScanner().scan_text(reason):
            reason = "not recorded: the message may quote the file"
        audit(
            "delivery_refused",
            {
                "source": source,
                "file": file.name,
                "month": f"{month:%Y-%m}" if month else None,
                "refusal": kind(refusal),
                "reason": reason,
            },
        )
        raise


def _check_month(found: Survey, month: dt.date, source: str) -> None:
    """A file declared for a month most of its rows are not in was sent for the wrong month (or
    with the wrong --month): every row would be quarantined as outside the month."""
    if not found.months:
        raise RefusedDelivery(
            f"{found.file}: no row has a readable {found.month_header!r}, so it cannot be placed in "
            f"{month:%Y-%m}; nothing was landed. Ask the provider for a file with that column filled in"
        )
    seems = found.likeliest_month()
    if seems != month:
        total = sum(found.months.values())
        raise RefusedDelivery(
            f"{found.file}: declared as the {source} extract for {month:%Y-%m}, but it seems to hold {seems:%Y-%m} "
            f"({found.rows_in(seems)} of {total} rows by {found.month_header!r}; "
            f"{found.rows_in(month)} in {month:%Y-%m}); "
            f"nothing was landed. If it is the {seems:%Y-%m} extract, ingest it with --month {seems:%Y-%m}"
        )


def _provider_shown(name: str) -> str:
    """A provider as messages and the audit log may name it: an organisation's code or name, or,
    when the column holds anything else (a shifted column may hold a person's details), not the value."""
    if len(name) <= 60 and _ORGANISATION.search(name) and not LeakScanner().scan_text(name):
        return name
    return "a value that is not an organisation's name or code"


def _check_providers(found: Survey, source: str, agreement: Agreement, audit: Audit) -> None:
    """Deny by default, for providers as for fields: every provider the file names must be a party
    to the agreement for this dataset."""
    strangers = {
        _provider_shown(name): rows
        for name, rows in found.providers.items()
        if agreement.provider_party(source, name) is None
    }
    if not found.providers or strangers:
        parties = ", ".join(p.name for p in agreement.providers_of(source)) or "none"
        named = "; ".join(f"{name!r} ({rows} rows)" for name, rows in sorted(strangers.items())) or "no provider at all"
        audit(
            "provider_refused",
            {
                "source": source,
                "file": found.file,
                "providers": sorted(strangers),
                "agreement_id": agreement.id,
                "agreement_version": agreement.version,
            },
        )
        raise RefusedDelivery(
            f"{found.file}: names {named} as provider, not a party to {agreement.label} for {source} data "
            f"(its {source} providers: {parties}); nothing was landed. If this provider should share, the board "
            "must add it to the agreement and sign it again; otherwise do not ingest this file"
        )
