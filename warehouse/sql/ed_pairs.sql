-- The ED assaults that can be compared with police records (located and timed), one row per
-- distinct (cell_id, event_hour): warehouse/spatial.py match_police works out their cells' rings.
CREATE OR REPLACE TEMP TABLE ed_pairs AS
SELECT DISTINCT cell_id, event_hour
FROM joint_incidents
WHERE source = 'ed' AND cell_id IS NOT NULL AND event_hour IS NOT NULL
