"""The istv code location: what `dagster dev`, `dg check defs` and `istv run` load."""

from dagster import Definitions

from pipelines.ed.assets import ed_assets
from pipelines.evaluations.assets import intervention_effects, mission_on_track, mission_progress
from pipelines.executors import executor_from_env
from pipelines.jobs import monthly_job, retention_job
from pipelines.joint.assets import (
    hotspot_report,
    joint_incidents,
    joint_k_anonymity,
    published_tables,
)
from pipelines.police.assets import police_assets, police_uk_assets
from pipelines.resources import IstvResource
from pipelines.schedules import monthly_schedule, retention_schedule
from pipelines.sensors import landing_sensor

_sources = [ed_assets, police_assets, police_uk_assets]

defs = Definitions(
    assets=[a for assets, _ in _sources for a in assets]
    + [
        joint_incidents,
        published_tables,
        mission_progress,
        intervention_effects,
        hotspot_report,
    ],
    asset_checks=[c for _, checks in _sources for c in checks] + [joint_k_anonymity, mission_on_track],
    jobs=[monthly_job, retention_job],
    schedules=[monthly_schedule, retention_schedule],
    sensors=[landing_sensor],
    resources={"istv": IstvResource()},
    # Runs launched from the UI, the schedule or the sensor execute their steps as ISTV_EXECUTOR
    # says (by default parallel processes, the sources of a month side by side); `istv run`
    # executes in process.
    executor=executor_from_env(),
)
