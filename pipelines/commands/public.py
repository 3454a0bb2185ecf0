"""`istv publish-public`: the public account for residents, one offline page a month
($ISTV_HOME/public/<YYYY-MM>.html, report/public_account.py).

It is written only under an agreement that is signed and in force, with only the sections the
board approved in its `public_account`, from published (protected) figures only; each page
written is audited. Nothing here prints a count.
"""

from __future__ import annotations

import click

from pipelines.commands import IstvFailure, agreement_file, agreement_in_force, console, parse_month, working_folder

# report/ and sharing_agreements/ are imported when the command runs.


@click.command(
    "publish-public",
    help="Write the public account for residents ($ISTV_HOME/public/YYYY-MM.html): only what the agreement approves.",
)
@click.option("--month", required=True, help="YYYY-MM: the month published")
def publish_public(month: str) -> None:
    import duckdb

    from ingest.secrets import MissingKeyError
    from report.public_account import PublicAccountError, public_file, render_public_account
    from sharing_agreements import auditing
    from sharing_agreements.model import AgreementError

    when = parse_month(month)
    home, path = working_folder(), agreement_file(None)
    try:
        # Nothing goes public but under an agreement that is signed and in force.
        agreement, signatures = agreement_in_force(path)
        audit = auditing.writer(home)  # a page that cannot be audited is not written
        out = render_public_account(
            home.warehouse,
            when,
            public_file(home.root, when),
            agreement,
            signed_by=list(dict.fromkeys(s.signer for s in signatures)),
        )
    except (AgreementError, MissingKeyError, PublicAccountError, FileNotFoundError) as exc:
        raise IstvFailure(str(exc)) from None
    except duckdb.IOException:
        raise IstvFailure(
            f"the warehouse {home.warehouse} is being written (a publish is under way): try again when it ends"
        ) from None
    audit.append(
        "public_account_published",
        {
            **auditing.agreement_details(agreement, path),
            "month": f"{when:%Y-%m}",
            "sections": list(agreement.public_account.sections),
            "page": out.name,
        },
    )
    console.print(f"Public account for {month}: {out}", highlight=False)
