"""One job materialises a whole month: every source, the joint table and the published tables."""

from dagster import AssetSelection, define_asset_job

monthly_job = define_asset_job(
    "istv_monthly",
    selection=AssetSelection.all(),
    description="Ingest, validate, pseudonymise and publish one month under the agreement in force.",
)
