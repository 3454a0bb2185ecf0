-- Why a figure cannot be worked out for a month from the sources shared for it (NULL: it can),
-- as a code that tables.yaml (`not_available_reasons`) explains. Only the police record-management
-- extract (`police`) gives a record's time of day and its location description; data.police.uk
-- open data (`police_uk`) gives the month and a map point only. So matching ED assaults to police
-- records, police counts by hour and police counts at venues need the extract: where the month's
-- sources cannot give such a figure, it is published NULL with its code (warehouse/tables.py),
-- never as 0 or as a share of 100%. Codes, not sentences: the leak scan takes free text in a
-- published table for an identifier.
CREATE OR REPLACE TEMP TABLE not_available AS
WITH shared AS (
    SELECT month,
           count(*) FILTER (WHERE source = 'ed') AS ed,
           count(*) FILTER (WHERE source = 'ed' AND cell_id IS NOT NULL AND event_hour IS NOT NULL) AS ed_placed_and_timed,
           count(*) FILTER (WHERE source = 'police') AS police,
           count(*) FILTER (WHERE source = 'police' AND cell_id IS NOT NULL AND event_hour IS NOT NULL) AS police_placed_and_timed,
           count(*) FILTER (WHERE source = 'police' AND hour IS NOT NULL) AS police_timed,
           count(*) FILTER (WHERE source = 'police' AND place_status IS NOT NULL) AS police_described,
           count(*) FILTER (WHERE source = 'police_uk') AS police_uk
    FROM joint_incidents
    GROUP BY month
)
SELECT month,
       -- Without ED assaults there is nothing to match, whatever the police delivered.
       CASE WHEN ed = 0 THEN 'no_ed_data'
            WHEN ed_placed_and_timed = 0 THEN 'no_ed_place_and_time'
            WHEN police_placed_and_timed > 0 THEN NULL
            WHEN police > 0 THEN 'police_extract_has_no_place_and_time'
            WHEN police_uk > 0 THEN 'police_open_data_has_no_time'
            ELSE 'no_police_data' END AS hidden_violence,
       CASE WHEN police_timed > 0 THEN NULL
            WHEN police > 0 THEN 'police_extract_has_no_time'
            WHEN police_uk > 0 THEN 'police_open_data_has_no_time'
            ELSE 'no_police_data' END AS police_hours,
       CASE WHEN police_described > 0 THEN NULL
            WHEN police > 0 THEN 'police_extract_has_no_location'
            WHEN police_uk > 0 THEN 'police_open_data_has_no_location'
            ELSE 'no_police_data' END AS police_venues,
       -- A month's totals lack a source only when none of its rows came (a month of neither has no row).
       CASE WHEN ed = 0 THEN 'no_ed_data'
            WHEN police = 0 AND police_uk = 0 THEN 'no_police_data' END AS totals
FROM shared
