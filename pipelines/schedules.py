"""The monthly schedule: on the 5th at 06:00, run the month that has just ended (providers
deliver in the first working days of the month). The retention schedule: every night at 03:00,
delete what the agreement's retention periods say is due."""

from dagster import DefaultScheduleStatus, ScheduleDefinition, build_schedule_from_partitioned_job

from pipelines.jobs import monthly_job, retention_job

monthly_schedule = build_schedule_from_partitioned_job(
    monthly_job, day_of_month=5, hour_of_day=6, default_status=DefaultScheduleStatus.RUNNING
)

retention_schedule = ScheduleDefinition(
    name="istv_retention_schedule",
    job=retention_job,
    cron_schedule="0 3 * * *",
    execution_timezone="Europe/London",
    default_status=DefaultScheduleStatus.RUNNING,
)
