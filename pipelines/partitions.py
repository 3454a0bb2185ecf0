"""Months are the unit of delivery, validation, pseudonymisation and publication."""

import datetime as dt

from dagster import MonthlyPartitionsDefinition

# The bundled police open data starts in 2018; earlier months can be back-filled by moving this.
monthly_partitions = MonthlyPartitionsDefinition(start_date="2018-01-01", end_offset=0)


def month_of_partition(partition_key: str) -> dt.date:
    return dt.date.fromisoformat(partition_key)


def partition_of_month(month: str) -> str:
    """'2018-10' -> '2018-10-01', the partition key Dagster uses."""
    try:
        return dt.datetime.strptime(month, "%Y-%m").date().isoformat()
    except ValueError:
        raise ValueError(f"month {month!r} is not in the form YYYY-MM") from None
