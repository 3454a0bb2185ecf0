-- ED assaults that could be compared (located and timed) and how many had no police record
-- nearby in place and time (`ed_police_matches`, one row per ED (cell_id, event_hour), is worked
-- out by warehouse/spatial.py match_police; joining it never repeats a row). Without timed police
-- records nothing can be matched: `not_available` (not_available.sql) then gives the reason.
WITH compared AS (
    SELECT j.month,
           figure(j.source = 'ed' AND m.police_match IS NOT NULL, j.is_public, j.record_key) AS ed_assaults_compared,
           figure(j.source = 'ed' AND m.police_match = false, j.is_public, j.record_key) AS ed_assaults_without_police_record,
           figure(j.source = 'police' AND j.cell_id IS NOT NULL AND j.event_hour IS NOT NULL, j.is_public, j.record_key) AS police_records_compared
    FROM joint_incidents AS j
    LEFT JOIN ed_police_matches AS m ON m.cell_id = j.cell_id AND m.event_hour = j.event_hour
    GROUP BY j.month
)
SELECT compared.*, n.hidden_violence AS not_available_reason
FROM compared
LEFT JOIN not_available AS n ON n.month = compared.month
ORDER BY compared.month
