"""Police extracts: the force's record-management extract and data.police.uk open data."""

from pipelines.lib.source_assets import build_source_assets

police_assets = build_source_assets(
    "police",
    extract_doc=(
        "The month's recorded violent crime from the force's record-management system, read "
        "against schemas/police_extract.yaml; failing rows are quarantined with reasons. "
        "Identifiable: stays in the landing zone."
    ),
    pseudonymised_doc=(
        "Police records after the sharing agreement: crime references pseudonymised, victims' "
        "dates of birth as age bands, times as hour of the week, coordinates as spatial cells, "
        "the officer's location text resolved to a venue or street and dropped."
    ),
)

police_uk_assets = build_source_assets(
    "police_uk",
    extract_doc=(
        "The data.police.uk street-level file for the force and month, read against schemas/police_uk_street.yaml."
    ),
    pseudonymised_doc=(
        "Open police data in the agreement's scope (violence and sexual offences) and area, "
        "snapped points turned into spatial cells."
    ),
)
