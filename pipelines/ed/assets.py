"""Emergency department extracts: the ISTV minimum data set from the hospital."""

from pipelines.lib.source_assets import build_source_assets

ed_assets = build_source_assets(
    "ed",
    extract_doc=(
        "The month's ED assault attendances as delivered by the hospital, read against "
        "schemas/ed_extract.yaml. Rows that fail a rule (bad date, unknown code, invalid NHS "
        "number, assault after arrival, wrong month) are quarantined, encrypted, with their "
        "reasons; every row is accounted for. Identifiable: stays in the landing zone."
    ),
    pseudonymised_doc=(
        "The ED rows after the sharing agreement is applied: identifiers replaced by keyed "
        "pseudonyms, dates of birth by age bands, times by hour of the week, home postcodes by "
        "district, and the free-text location resolved to a venue, street or private dwelling "
        "and then dropped. Undeclared fields never pass."
    ),
)
