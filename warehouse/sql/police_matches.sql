-- For each ED (cell_id, event_hour) in ed_pairs, whether a police record-management record lies
-- in a cell of its ring (cell_rings: cell_id -> near, from h3) within $window (an INTERVAL).
-- Police records are looked up by (cell, clock hour): an ED pair only visits the clock hours its
-- window touches, so the join is on equality and never compares every record of a busy cell.
CREATE OR REPLACE TEMP TABLE ed_police_matches AS
WITH police AS (
    SELECT DISTINCT cell_id, event_hour, date_trunc('hour', event_hour) AS clock_hour
    FROM joint_incidents
    WHERE source = 'police' AND cell_id IS NOT NULL AND event_hour IS NOT NULL
),
searched AS (
    SELECT ed.cell_id, ed.event_hour, rings.near,
           unnest(generate_series(date_trunc('hour', ed.event_hour - $window),
                                  date_trunc('hour', ed.event_hour + $window), INTERVAL 1 HOUR)) AS clock_hour
    FROM ed_pairs AS ed
    JOIN cell_rings AS rings USING (cell_id)
),
matched AS (
    SELECT DISTINCT searched.cell_id, searched.event_hour
    FROM searched
    JOIN police ON police.cell_id = searched.near AND police.clock_hour = searched.clock_hour
    WHERE police.event_hour BETWEEN searched.event_hour - $window AND searched.event_hour + $window
)
SELECT ed.cell_id, ed.event_hour, matched.cell_id IS NOT NULL AS police_match
FROM ed_pairs AS ed
LEFT JOIN matched USING (cell_id, event_hour)
