-- ED assaults that could be compared (located and timed) and how many had no police record
-- nearby in place and time (`police_match` is worked out in warehouse/spatial.py).
SELECT month,
       count(*) FILTER (WHERE source = 'ed' AND police_match IS NOT NULL) AS ed_assaults_compared,
       count(*) FILTER (WHERE source = 'ed' AND police_match = false) AS ed_assaults_without_police_record,
       count(*) FILTER (WHERE source = 'police' AND cell_id IS NOT NULL AND event_hour IS NOT NULL) AS police_records_compared
FROM joint_incidents
GROUP BY month
ORDER BY month
