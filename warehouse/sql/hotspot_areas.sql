-- Incidents per cell at each declared resolution over each rolling window ending with the month.
-- `window_incidents` is the month's joint rows and the earlier months' (warehouse/tables.py),
-- `cell_areas` maps each cell to itself and its coarser parents, `hotspot_windows` lists the
-- windows. The month is the latest month of the rows; months_available is counted per window,
-- never per cell (which would tell in how many months a cell had an incident).
WITH latest AS (SELECT max(month) AS month FROM joint_incidents),
windows AS (
    SELECT w.window_months, latest.month, latest.month - to_months(w.window_months) AS after,
           (SELECT count(DISTINCT i.month) FROM window_incidents AS i
            WHERE i.month > latest.month - to_months(w.window_months) AND i.month <= latest.month) AS months_available
    FROM hotspot_windows AS w CROSS JOIN latest
)
SELECT w.month, w.window_months, w.months_available, a.resolution, a.area_id AS cell_id,
       figure(i.source = 'ed', i.is_public, i.record_key) AS ed_assaults,
       figure(i.source IN ('police', 'police_uk'), i.is_public, i.record_key) AS police_violence,
       figure(true, i.is_public, i.record_key) AS combined
FROM window_incidents AS i
JOIN windows AS w ON i.month > w.after AND i.month <= w.month
JOIN cell_areas AS a ON a.cell_id = i.cell_id
GROUP BY ALL
