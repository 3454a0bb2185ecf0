"""Counts as published, and how the report writes them.

A published count is a number, withheld by disclosure control (suppressed), or not available
because the month's data cannot give it (with the reason). Every section writes its counts through
`count_text` or `show`, so a withheld count never reads as 0 and a not-available one never as
withheld.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from warehouse.tables import NOT_AVAILABLE, not_available_reasons


@dataclass(frozen=True)
class Count:
    """A published count: a number, withheld by disclosure control (value None, suppressed), or
    not available because the month's data cannot give it (value None, `not_available` the reason)."""

    value: int | None
    suppressed: bool = False
    not_available: str = ""

    @property
    def number(self) -> int | None:
        return None if self.suppressed else self.value


def count_of(row: dict | None, column: str) -> Count:
    if row is None:
        return Count(None)
    value = row.get(column)
    suppressed = bool(row.get(f"{column}_suppressed"))
    # A row's reason covers exactly its NULL counts that nothing withheld (warehouse/tables.py).
    reason = reason_not_available(row) if value is None and not suppressed else ""
    return Count(None if value is None else int(value), suppressed, reason)


def reason_not_available(row: dict) -> str:
    """The row's not-available code as a sentence ('' when it has none)."""
    code = row.get(NOT_AVAILABLE)
    return not_available_reasons().get(code, code) if code else ""


def reasons_not_available(rows: list[dict] | None) -> list[str]:
    """The distinct reasons, as sentences, a table's rows give for figures the month's data cannot give."""
    return list(dict.fromkeys(reason_not_available(r) for r in rows or [] if r.get(NOT_AVAILABLE)))


def count_text(count: Count | None) -> str:
    """How every count is written: '1,234', 'suppressed', 'not available' (the data cannot give
    it), or '—' when nothing was published."""
    if count is not None and count.not_available:
        return "not available"
    if count is None or (count.value is None and not count.suppressed):
        return "—"
    if count.suppressed:
        return "suppressed"
    return f"{count.value:,}"


def show(count: Count | None) -> Markup | str:
    """count_text for HTML: a suppressed or not-available count is styled so it stands apart
    from numbers and from each other."""
    if count is not None and count.not_available:
        return Markup('<span class="not-available">not available</span>')
    if count is not None and count.suppressed:
        return Markup('<span class="suppressed">suppressed</span>')
    return count_text(count)
