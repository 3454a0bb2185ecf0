"""`istv mission`: the partnership's mission (the agreement's `mission`) against its target line.

Measures a month from the published, protected table monthly_trend (outcomes/mission.py) and
publishes its row of mission_progress to the warehouse; prints where the mission stands in plain
words. What it prints is post-processing of figures already published: no new count.
"""

from __future__ import annotations

import click

from pipelines.commands import IstvFailure, agreement_file, agreement_in_force, console, parse_month, working_folder

# outcomes/ is imported when the command runs: measuring loads pandas and statsmodels.


@click.command(help="Measure the partnership's mission for a month and publish mission_progress.")
@click.option("--month", default=None, help="YYYY-MM: the month measured (default: the latest monthly_trend holds)")
def mission(month: str | None) -> None:
    from ingest.secrets import MissingKeyError
    from outcomes.mission import OFF_TRACK_WARNING_MONTHS, MissionError, publish_mission_progress
    from outcomes.population import PopulationError
    from outcomes.publish import WarehouseBusy
    from sharing_agreements import auditing
    from sharing_agreements.model import AgreementError

    home, path = working_folder(), agreement_file(None)
    try:
        # Published figures only under an agreement that is signed and in force, as for a month's tables.
        agreement, _ = agreement_in_force(path)
        audit = auditing.writer(home)  # a publish that cannot be audited is not made
        (row,) = publish_mission_progress(home, agreement, parse_month(month))
    except (AgreementError, MissingKeyError, MissionError, PopulationError, WarehouseBusy) as exc:
        raise IstvFailure(str(exc)) from None
    audit.append(
        "mission_progress",
        {
            **auditing.agreement_details(agreement, path),
            "month": f"{row['month']:%Y-%m}",
            "status": row["status"],
            "above_target_pct": row["above_target_pct"],
            "months_off_track": row["months_off_track"],
        },
    )
    for line in progress_lines(agreement.mission, row):
        console.print(line, highlight=False)
    if (row["months_off_track"] or 0) >= OFF_TRACK_WARNING_MONTHS:
        console.print(
            f"Warning: off track {row['months_off_track']} months running (the board is told from "
            f"{OFF_TRACK_WARNING_MONTHS}).",
            highlight=False,
        )
    console.print(f"Published to {home.warehouse} as mission_progress.", highlight=False)


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "not available"
    return f"{value:,.0f} {unit}" if unit == "incidents" else f"{value:,.1f} {unit}"


def progress_lines(declared, row: dict) -> list[str]:
    """The month's progress in plain words."""
    from outcomes.mission import status_text

    unit = row["metric_unit"]
    lines = [
        f"Mission: {declared.goal} (by {declared.reduction_pct:g}% from the {declared.baseline_from} to "
        f"{declared.baseline_to} level by {declared.target_month}).",
        f"{row['month']:%Y-%m}: {status_text(row, declared)}.",
        f"  This month: {_figure(row['metric'], unit)} (ED assaults plus police-recorded violence).",
    ]
    if row["baseline"] is not None:
        lines.append(
            f"  Baseline: {_figure(row['baseline'], unit)} a month (mean of {row['baseline_months']} published "
            f"months); target line this month: {_figure(row['target'], unit)}."
        )
    if row["trend"] is not None:
        lines.append(
            f"  Seasonally adjusted trend: {_figure(row['trend'], unit)} (95% interval "
            f"{_figure(row['trend_low'], unit)} to {_figure(row['trend_high'], unit)})."
        )
    if unit == "incidents":
        lines.append("  In incidents: no ONS population of the area is known for every year measured.")
    return lines
