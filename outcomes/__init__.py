"""Outcomes: what the partnership's interventions achieved, measured on the row-level joint zone
and published only in protected form. Above the warehouse (it reads the joint zone and writes a
table), below the report; it never imports Dagster."""
