"""The monthly schedule: on the 5th at 06:00, run the month that has just ended (providers
deliver in the first working days of the month)."""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from pipelines.jobs import monthly_job

monthly_schedule = build_schedule_from_partitioned_job(
    monthly_job, day_of_month=5, hour_of_day=6, default_status=DefaultScheduleStatus.RUNNING
)
