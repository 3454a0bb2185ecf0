"""The partnership's mission, month by month: the table mission_progress.

The agreement's `mission` names a goal (halve violence that sends people to the emergency
department or is reported to the police), a baseline (months, inclusive), a reduction and a
target month. Every month this measures the metric, violence-related ED assaults plus
police-recorded violence (per 100,000 residents when outcomes/population.py holds an ONS
estimate for every year measured, else in incidents), against the target line: a straight line
from the baseline level at the end of the baseline to (1 - reduction_pct/100) x baseline at the
target month, flat after it.

It reads only the PUBLISHED, already protected warehouse table monthly_trend, never the
row-level zones: every figure here is post-processing of protected totals (their sum, a rate, a
mean, a fitted trend), so it publishes no new count and needs no disclosure control of its own.

A month is judged on its seasonally adjusted trend, not on the month's raw figure, so that a
busy December or a quiet February does not flip the verdict month to month: a Poisson
regression (negative binomial when the totals vary more than Poisson allows) of the monthly
totals on a smooth trend in time, plus month-of-year terms once 24 months are published, fitted
on the months up to the one judged; the trend is read with the seasonal terms left out. A month a
source shared nothing for (monthly_trend's not_available_reason) is not a fall: it has no
metric, is left out of baseline and fit, and is "not available", never 0.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from outcomes.count_model import Z_95, fit_counts
from outcomes.population import population
from outcomes.publish import PROVENANCE, EvaluationTable, publish_month, published_rows

SOURCE_TABLE = "monthly_trend"
TABLE = "mission_progress"
PER_100K, INCIDENTS = "per 100,000 residents", "incidents"
ON_TRACK, OFF_TRACK, NOT_AVAILABLE = "on track", "off track", "not available"
# A Dagster asset check warns when the mission has been off track this many months running.
OFF_TRACK_WARNING_MONTHS = 3
# Fewer published months than this give no trend; fewer baseline months, no baseline to judge by.
MIN_TREND_MONTHS = 6
MIN_BASELINE_MONTHS = 6
# Month-of-year terms need two years, or the season cannot be told from the trend.
SEASONAL_MONTHS = 24

# Reasons of our own, beside the source codes monthly_trend gives (no_ed_data, no_police_data).
REASONS = {
    "withheld": "a total of the month was withheld by the agreement's disclosure control",
    "not_published": "monthly_trend has no row for this month",
    "baseline_not_over": "the baseline months are not over yet",
    "baseline_not_published": f"fewer than {MIN_BASELINE_MONTHS} baseline months were published with both sources",
    "trend_not_estimable": "the months published do not give a trend",
}

DESCRIPTION = (
    "The partnership's mission (the agreement's `mission`) month by month: violence-related ED assaults plus "
    "police-recorded violence, per 100,000 residents (ONS population: outcomes/population.py), against a "
    "straight target line from the baseline level to the reduction at the target month, judged on a seasonally "
    "adjusted trend. Post-processing of the published, protected monthly_trend only: no new count is published."
)
COLUMNS: dict[str, tuple[str, str]] = {
    "month": ("DATE", "The month measured (first day): months up to it were used."),
    "metric_unit": ("VARCHAR", "Unit of metric, baseline, target and trend: incidents or per 100,000 residents."),
    "metric": (
        "DOUBLE",
        "The month's published ED assaults plus police violence (monthly_trend), in metric_unit; NULL with "
        "not_available_reason when a source shared nothing or a total was withheld (never 0).",
    ),
    "per_100k": (
        "DOUBLE",
        "The month's metric per 100,000 residents (ONS mid-year estimate of the year when bundled, else the "
        "censuses of 2011 and 2021 carried to the year); NULL when neither covers the area.",
    ),
    "baseline": ("DOUBLE", "Mean monthly metric over the published baseline months, in metric_unit."),
    "baseline_months": ("INTEGER", "How many baseline months were published with both sources."),
    "target": (
        "DOUBLE",
        "The target line at this month: from the baseline at the end of the baseline, straight down to "
        "(1 - reduction_pct/100) x baseline at the target month, flat after it.",
    ),
    "trend": (
        "DOUBLE",
        "Seasonally adjusted trend at this month (Poisson or negative binomial regression of the monthly "
        "totals up to it on a smooth trend and, from 24 months, month-of-year terms, read without them).",
    ),
    "trend_low": ("DOUBLE", "Lower end of the 95% confidence interval of trend."),
    "trend_high": ("DOUBLE", "Upper end of the 95% confidence interval of trend."),
    "status": (
        "VARCHAR",
        "on track (the trend at or below the target line), off track (above it: by above_target_pct), or not "
        "available (why: not_available_reason).",
    ),
    "above_target_pct": (
        "INTEGER",
        "When off track, how far the trend is above the target line, in whole percent (0: less than 1%); "
        "NULL otherwise.",
    ),
    "months_off_track": (
        "INTEGER",
        "Months judged off track in a row up to this one (months not available are skipped); NULL when "
        "this month is not judged.",
    ),
    "not_available_reason": (
        "VARCHAR",
        "Why status is not available (no_ed_data, no_police_data, withheld, baseline_not_over, "
        "baseline_not_published, trend_not_estimable); NULL when judged.",
    ),
    **PROVENANCE,
}
MISSION_PROGRESS = EvaluationTable(TABLE, DESCRIPTION, COLUMNS, ("month",))


class MissionError(ValueError):
    """The mission cannot be measured: no mission, not permitted, or no published month."""


@dataclass(frozen=True)
class Trend:
    """The seasonally adjusted level at the last month fitted, with its 95% interval."""

    level: float
    low: float
    high: float
    model: str  # "poisson" or "negative_binomial"
    seasonal: bool


def reason_text(code: str) -> str:
    from warehouse.tables import not_available_reasons

    return {**not_available_reasons(), **REASONS}.get(code, code)


def _first_of(month: dt.date | dt.datetime) -> dt.date:
    return dt.date(month.year, month.month, 1)


def _index(month: dt.date) -> int:
    return month.year * 12 + month.month - 1


def _mission(agreement):
    mission = getattr(agreement, "mission", None)
    if mission is None:
        raise MissionError(
            f"{agreement.label} declares no mission: there is nothing to measure. The board adds a `mission` "
            "to the agreement and signs the new version."
        )
    return mission


def _warehouse_path(home_or_warehouse) -> Path:
    return Path(getattr(home_or_warehouse, "warehouse", home_or_warehouse))


def published_totals(warehouse: Path) -> list[dict]:
    """monthly_trend's rows as published (month, ed_assaults, police_violence, reason), by month."""
    rows = published_rows(warehouse, f"SELECT * FROM {SOURCE_TABLE} ORDER BY month")
    if rows is None:
        raise MissionError(f"{warehouse} has no table {SOURCE_TABLE} (or no warehouse is there): publish a month first")
    return [
        {
            "month": _first_of(r["month"]),
            "ed_assaults": r.get("ed_assaults"),
            "police_violence": r.get("police_violence"),
            "reason": r.get("not_available_reason"),
        }
        for r in rows
    ]


def _unavailable(total: dict) -> str | None:
    """Why the month has no metric (a source shared nothing, or a total withheld), or None."""
    if total["ed_assaults"] is not None and total["police_violence"] is not None:
        return None
    return total["reason"] or "withheld"


def mission_rows(
    warehouse: Path, agreement, month: dt.date | None = None, population_file: Path | None = None
) -> list[dict]:
    """mission_progress for every month monthly_trend holds, or (given `month`) that month's row
    only, judged from the months up to it. `population_file` overrides outcomes/population.py's."""
    mission = _mission(agreement)
    totals = published_totals(Path(warehouse))
    if month is not None:
        month = _first_of(month)
        if month not in {t["month"] for t in totals}:
            raise MissionError(f"{SOURCE_TABLE} has no row for {month:%Y-%m}: publish the month first")
        totals = [t for t in totals if t["month"] <= month]
    if not totals:
        raise MissionError(f"{SOURCE_TABLE} holds no month yet: publish a month first")
    areas = list(agreement.area.local_authorities)
    first_year = min(totals[0]["month"].year, mission.month("baseline_from").year)
    years = range(first_year, totals[-1]["month"].year + 1)
    residents = {year: population(areas, year, population_file) for year in years}
    rows: list[dict] = []
    streak = 0
    for upto in range(len(totals)):
        row = _row(totals[: upto + 1], mission, residents, first_year)
        if row["not_available_reason"] is None:
            streak = streak + 1 if row["status"] == OFF_TRACK else 0
            row["months_off_track"] = streak
        rows.append(row | {"agreement_id": agreement.id, "agreement_version": agreement.version})
    return rows[-1:] if month is not None else rows


def _row(totals: list[dict], mission, residents: dict[int, int | None], first_year: int) -> dict:
    """The row of the last month of `totals`, from it and the months before."""
    month = totals[-1]["month"]
    per_100k = all(residents.get(year) for year in range(first_year, month.year + 1))
    unit = PER_100K if per_100k else INCIDENTS

    def value(total: dict) -> float:
        count = total["ed_assaults"] + total["police_violence"]
        return count / residents[total["month"].year] * 1e5 if per_100k else float(count)

    usable = [t for t in totals if _unavailable(t) is None]
    this = totals[-1] if _unavailable(totals[-1]) is None else None
    row: dict = dict.fromkeys(COLUMNS) | {"month": month, "metric_unit": unit}
    if this is not None:
        row["metric"] = _round(value(this))
        year_residents = residents.get(month.year)
        count = this["ed_assaults"] + this["police_violence"]
        row["per_100k"] = _round(count / year_residents * 1e5) if year_residents else None

    start, end, target_month = (mission.month(n) for n in ("baseline_from", "baseline_to", "target_month"))
    in_baseline = [value(t) for t in usable if start <= t["month"] <= end]
    row["baseline_months"] = len(in_baseline)
    baseline = sum(in_baseline) / len(in_baseline) if in_baseline and month >= end else None
    target = None
    if baseline is not None:
        done = min(1.0, (_index(month) - _index(end)) / (_index(target_month) - _index(end)))
        target = baseline * (1 - mission.reduction_pct / 100 * done)
        row["baseline"], row["target"] = _round(baseline), _round(target)

    trend = None
    if this is not None and len(usable) >= MIN_TREND_MONTHS:
        counts = np.array([t["ed_assaults"] + t["police_violence"] for t in usable], dtype=float)
        exposure = np.array([residents[t["month"].year] / 1e5 for t in usable]) if per_100k else None
        trend = seasonally_adjusted_trend(counts, [t["month"] for t in usable], exposure)
        if trend is not None:
            row["trend"], row["trend_low"], row["trend_high"] = map(_round, (trend.level, trend.low, trend.high))

    if this is None:
        reason = _unavailable(totals[-1])
    elif month < end:
        reason = "baseline_not_over"
    elif len(in_baseline) < MIN_BASELINE_MONTHS:
        reason = "baseline_not_published"
    elif trend is None:
        reason = "trend_not_estimable"
    else:
        reason = None
    if reason is not None:
        row["not_available_reason"], row["status"] = reason, NOT_AVAILABLE
    elif trend.level <= target:
        row["status"] = ON_TRACK
    else:
        row["status"], row["above_target_pct"] = OFF_TRACK, round((trend.level / target - 1) * 100)
    return row


def status_text(row: dict, mission=None) -> str:
    """A mission_progress row's status in plain words: on track, off track and by how much, or not
    available and why (with the baseline's end when `mission` is given and it is not over)."""
    if row["status"] == OFF_TRACK:
        above = int(row.get("above_target_pct") or 0)
        return f"off track: {f'{above}%' if above else 'less than 1%'} above the target line"
    if row["status"] != NOT_AVAILABLE:
        return row["status"]
    reason = row.get("not_available_reason")
    detail = ""
    if reason == "baseline_not_over" and mission is not None:
        detail = f" (the baseline runs to {mission.baseline_to})"
    return f"not available: {reason_text(reason) if reason else 'no reason recorded'}{detail}"


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 2)


def _trend_degrees(months: int) -> int:
    """Degrees of freedom of the smooth trend: a straight line (on the log scale, a steady
    percentage change) until four years are published, then about one more every two years."""
    return 1 if months < 48 else min(months // 24, 4)


def seasonally_adjusted_trend(
    counts: np.ndarray, months: list[dt.date], exposure: np.ndarray | None = None
) -> Trend | None:
    """The level of `counts` (monthly totals) at the last of `months`, seasonal terms left out,
    per unit of `exposure` when given (residents / 100,000: a rate per 100,000). None with fewer
    than MIN_TREND_MONTHS months or when the fit fails."""
    import patsy
    import statsmodels.api as sm  # slow to import: only when something is measured
    from threadpoolctl import threadpool_limits

    if len(counts) < MIN_TREND_MONTHS:
        return None
    years = np.array([_index(m) for m in months], dtype=float) / 12.0
    x = years - years.mean()
    df = _trend_degrees(len(counts))
    smooth = x[:, None] if df == 1 else np.asarray(patsy.dmatrix(f"cr(x, df={df}, constraints='center') - 1", {"x": x}))
    calendar = np.array([m.month for m in months])
    seasonal = len(counts) >= SEASONAL_MONTHS and len(set(calendar)) == 12
    columns = [np.ones(len(counts)), *smooth.T]
    trend_columns = len(columns)
    if seasonal:
        # Effects coding: the twelve month-of-year terms sum to zero, so the rest is the trend.
        for calendar_month in range(1, 12):
            columns.append((calendar == calendar_month).astype(float) - (calendar == 12).astype(float))
    design = np.column_stack(columns)
    offset = None if exposure is None else np.log(exposure)
    # A design of a few dozen rows: BLAS threads only wait on each other.
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            result, model = _fit(sm, counts, design, offset)
        except (ValueError, np.linalg.LinAlgError):
            return None
    params, cov = np.asarray(result.params), np.asarray(result.cov_params())
    last = design[-1, :trend_columns]
    eta = float(last @ params[:trend_columns])
    se = float(math.sqrt(max(last @ cov[:trend_columns, :trend_columns] @ last, 0.0)))
    # The seasonal terms average zero on the log scale; the mean month on the original scale is a
    # little above: scale by it, so the trend is comparable with the baseline (a mean of months).
    scale = 1.0
    if seasonal:
        effects = np.append(params[trend_columns:], -params[trend_columns:].sum())
        scale = float(np.exp(effects).mean())
    values = [scale * math.exp(v) for v in (eta, eta - Z_95 * se, eta + Z_95 * se)]
    if not all(math.isfinite(v) for v in values):
        return None
    return Trend(*values, model, seasonal)


def _fit(sm, y: np.ndarray, design: np.ndarray, offset: np.ndarray | None):
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    with warnings.catch_warnings():
        # Totals the trend fits exactly (a flat series) are no separation problem: the fit stands.
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        return fit_counts(sm, y, design, offset)


def months_off_track(rows: list[dict], month: dt.date) -> int:
    """Months judged off track in a row up to `month` (rows of mission_progress, as published or
    from mission_rows): the month's own months_off_track when it has one, else counted from the
    rows' statuses, skipping months not available. 0 when the month is on track or not judged."""
    month = _first_of(month)
    earlier = sorted((r for r in rows if _first_of(r["month"]) <= month), key=lambda r: r["month"])
    if not earlier or _first_of(earlier[-1]["month"]) != month:
        return 0
    if earlier[-1].get("months_off_track") is not None:
        return int(earlier[-1]["months_off_track"])
    if earlier[-1].get("not_available_reason") is not None:
        return 0
    streak = 0
    for row in reversed(earlier):
        if row.get("not_available_reason") is not None:
            continue
        if row.get("status") != OFF_TRACK:
            break
        streak += 1
    return streak


def published_progress(warehouse: Path) -> list[dict]:
    """mission_progress as published, by month (empty when nothing is)."""
    return published_rows(Path(warehouse), f"SELECT * FROM {TABLE} ORDER BY month") or []


def publish_mission_progress(
    home_or_warehouse, agreement, month: dt.date | None = None, population_file: Path | None = None
) -> list[dict]:
    """Measure `month` (default: the latest monthly_trend holds) and publish its row of
    mission_progress; returns the rows published. Refuses (MissionError) an agreement with no
    mission or that does not list mission_progress in its published_tables."""
    _mission(agreement)
    if TABLE not in agreement.published_tables:
        raise MissionError(
            f"{agreement.label} does not permit the table {TABLE}: nothing was measured or published. The board "
            "adds it to the agreement's published_tables and signs the new version."
        )
    warehouse = _warehouse_path(home_or_warehouse)
    if month is None:
        totals = published_totals(warehouse)
        if not totals:
            raise MissionError(f"{SOURCE_TABLE} holds no month yet: publish a month first")
        month = totals[-1]["month"]
    rows = mission_rows(warehouse, agreement, _first_of(month), population_file)
    publish_month(warehouse, MISSION_PROGRESS, rows[0]["month"], rows)
    return rows
