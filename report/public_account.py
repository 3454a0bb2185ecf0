"""The public account: one static page for residents (`istv publish-public --month YYYY-MM`) on
what the partnership shares, under which agreement, and how it is doing against its mission.

Like the monthly report (report.page), the page is one self-contained file: CSS inline, the chart
as inline SVG, no script, no font, no link and nothing fetched. It is written with the report's
Jinja environment (autoescaped), and styled with its stylesheet.

Nothing is on it that the board has not approved for the public: each section is written only
when the agreement's signed `public_account.sections` lists it. Figures are the warehouse's
published (protected) values only: the `coverage` table's rows shared, the `mission_progress`
table's metric and target. A value published as NULL reads "withheld" when disclosure control
withheld it and "not available" otherwise, never 0. No count from the audit log (exact, for the
board) and nothing from the pseudonymised zone is read.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from report.counts import count_of
from report.data import add_months, published_agreements, rows_of
from report.mission import mission_section
from report.sections import SOURCE_NAMES
from sharing_agreements.glossary import explain
from sharing_agreements.model import Agreement
from sharing_agreements.review import ROLES, dataset_name, describe_rule, words
from warehouse.publish import connect_read_only

TEMPLATE = "public.html.j2"
# The months of deliveries the page lists: the month published and the eleven before it.
DELIVERY_MONTHS = 12


class PublicAccountError(RuntimeError):
    """A public page that must not be written (nothing published, nothing approved)."""


def public_file(root: Path, month: dt.date) -> Path:
    """Where the month's public page is written: $ISTV_HOME/public/<YYYY-MM>.html."""
    return root / "public" / f"{month:%Y-%m}.html"


def _day(date: dt.date) -> str:
    return f"{date.day} {date:%B %Y}"


def _month(date: dt.date) -> str:
    return f"{date:%B %Y}"


def published_count(row: dict | None, column: str) -> Markup:
    """A published count for residents: the number, "withheld" when disclosure control withheld
    it, "not available" when nothing was published for it. Never 0 for a missing value."""
    count = count_of(row, column)
    if count.suppressed:
        return Markup('<span class="suppressed">withheld</span>')
    if count.value is None:
        return Markup('<span class="not-available">not available</span>')
    return Markup(f"{count.value:,}")


# --- reading ------------------------------------------------------------------------------------


@dataclass
class Published:
    month: dt.date
    tables: set[str]
    agreements: list[tuple[str, int]]  # (id, version) the month's published rows carry
    coverage: list[dict] | None  # None: the warehouse holds no coverage table
    mission: list[dict] | None  # None: the warehouse holds no mission_progress table


def read_published(warehouse: Path, month: dt.date) -> Published:
    """The month's published rows the page may use, read-only: coverage for the twelve months to
    `month`, mission_progress up to `month`."""
    with connect_read_only(warehouse) as con:
        tables = {r["table_name"] for r in rows_of(con, "SELECT table_name FROM duckdb_tables() WHERE NOT internal")}
        coverage = mission = None
        if "coverage" in tables:
            coverage = rows_of(
                con,
                "SELECT * REPLACE (CAST(month AS DATE) AS month) FROM coverage "
                "WHERE CAST(month AS DATE) BETWEEN ? AND ? ORDER BY month DESC, source, provider",
                [add_months(month, 1 - DELIVERY_MONTHS), month],
            )
        if "mission_progress" in tables:
            mission = rows_of(
                con,
                "SELECT * REPLACE (CAST(month AS DATE) AS month) FROM mission_progress "
                "WHERE CAST(month AS DATE) <= ? ORDER BY month",
                [month],
            )
        return Published(month, tables, published_agreements(con, month, tables), coverage, mission)


# --- the sections ---------------------------------------------------------------------------------


def _protection(agreement: Agreement) -> str:
    """How published figures are protected, in one paragraph (the glossary's words, with the
    agreement's own parameters)."""
    dc = agreement.disclosure_control
    if dc.method == "cell_key":
        (meaning,) = explain(["cell-key"])
        text = (
            f"{meaning} Each count is moved by at most {dc.cell_key.max_deviation} up or down, so a small "
            "count does not show whether it stands for one person or a few; "
            + (
                f"the count of a place or venue that would show below {dc.cell_key.cell_minimum} is withheld."
                if dc.cell_key.cell_minimum
                else "no count is withheld."
            )
        )
    else:
        (meaning,) = explain(["suppression and rounding"])
        text = (
            f"{meaning} Here counts from 1 to {dc.suppression_threshold} are withheld (shown as "
            f'"withheld", never as 0) and the others rounded to the nearest {dc.rounding_base}.'
        )
    public = agreement.public_sources()
    if public:
        text += (
            f" {words([dataset_name(s) for s in public])} is already published by its owner, so its counts "
            "are given exactly."
        )
    if dc.differential_privacy:
        text += " Random noise (differential privacy) is also added to each published count."
    return text


# Abbreviations a field's header keeps in capitals when it is written as words.
_ABBREVIATIONS = {"NHS", "A&E", "LSOA", "ID"}


def _field_name(schema, name: str) -> str:
    """A field as people read it, from the header its provider's files give it: 'NHS number'."""
    tokens = [t if t.upper() in _ABBREVIATIONS else t.lower() for t in (schema.field(name).header or name).split()]
    text = " ".join(tokens)
    return text[:1].upper() + text[1:]


def _treatment(schema, rule) -> str:
    """describe_rule's words, naming the field an age is taken at by its header."""
    text = describe_rule(rule)
    if rule.at:
        text = text.replace(f"the age on {rule.at}", f'the age on the date in "{_field_name(schema, rule.at)}"')
    return text


def agreement_section(agreement: Agreement) -> dict:
    from schemas import schema_for_source

    datasets, never = [], []
    for source, rules in agreement.datasets.items():
        schema = schema_for_source(source)
        fields = [(_field_name(schema, name), _treatment(schema, rule)) for name, rule in rules.fields.items()]
        scope = "; ".join(f"only records whose {f} is {words(v, 'or')}" for f, v in rules.scope.items())
        datasets.append({"name": dataset_name(source), "scope": scope, "public": rules.public, "fields": fields})
        dropped = [_field_name(schema, n) for n, r in rules.fields.items() if r.action == "drop"]
        hidden = [_field_name(schema, n) for n, r in rules.fields.items() if r.action == "pseudonymise"]
        never.append({"name": dataset_name(source), "dropped": words(dropped), "pseudonymised": words(hidden)})
    protection = _protection(agreement)
    used = [text for d in datasets for _, text in d["fields"]] + [protection]
    return {
        "title": agreement.title,
        "providers": agreement.parties.providers,
        "recipients": agreement.parties.recipients,
        "provider_datasets": {
            p.code: words([dataset_name(s) for s in p.datasets]) for p in agreement.parties.providers
        },
        "purpose": " ".join(agreement.purpose.split()),
        "lawful_basis": agreement.lawful_basis,
        "valid_from": _day(agreement.valid_from),
        "valid_to": _day(agreement.valid_to),
        "area": agreement.area.name,
        "datasets": datasets,
        "never": never,
        "protection": protection,
        "terms": explain(used),
        "approvals": [(a.board, ROLES.get(a.role, a.role), _day(a.date)) for a in agreement.approvals],
    }


def deliveries_section(agreement: Agreement, rows: list[dict] | None) -> dict:
    shown = [
        {
            "month": _month(r["month"]),
            "provider": agreement.provider_named(r["source"], r["provider"]),
            "source": SOURCE_NAMES.get(r["source"], r["source"]),
            "shared": published_count(r, "rows_shared"),
            "corrected": r.get("release_status") == "corrected",
        }
        for r in rows or []
    ]
    return {"published": rows is not None, "rows": shown, "months": DELIVERY_MONTHS}


# --- the page ---------------------------------------------------------------------------------------


def build_context(agreement: Agreement, published: Published, signed_by: list[str] | None = None) -> dict:
    sections = agreement.public_account.sections
    others = [(i, v) for i, v in published.agreements if (i, v) != (agreement.id, agreement.version)]
    return {
        "month_name": _month(published.month),
        "generated": _day(dt.date.today()),
        "agreement_id": agreement.id,
        "agreement_version": agreement.version,
        "area": agreement.area.name,
        "signed_by": words(signed_by or []),
        "other_agreements": others,
        "sections": sections,
        "agreement": agreement_section(agreement) if "agreement" in sections else None,
        "deliveries": deliveries_section(agreement, published.coverage) if "deliveries" in sections else None,
        "mission": mission_section(agreement.mission, published.mission) if "mission" in sections else None,
    }


def render_public_html(agreement: Agreement, published: Published, signed_by: list[str] | None = None) -> str:
    from report.page import environment  # the report's environment: autoescaped, strict, its filters

    context = build_context(agreement, published, signed_by)
    return environment().get_template(TEMPLATE).render(**context)


def render_public_account(
    warehouse: Path, month: dt.date, out: Path, agreement: Agreement, signed_by: list[str] | None = None
) -> Path:
    """Write the month's public page to `out` and return it. Raises PublicAccountError when the
    agreement approves no section or nothing is published for the month, FileNotFoundError when
    there is no warehouse."""
    month = month.replace(day=1)
    if not agreement.public_account.sections:
        raise PublicAccountError(
            f"{agreement.label} approves no section for the public page: the board lists them under "
            "public_account.sections (agreement, deliveries, mission) and signs the new version"
        )
    published = read_published(warehouse, month)
    if not published.agreements:
        raise PublicAccountError(
            f"nothing published for {month:%Y-%m} in {warehouse}: run `istv run --month {month:%Y-%m}` first"
        )
    html = render_public_html(agreement, published, signed_by)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")  # a reader never sees half a page
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, out)
    return out
