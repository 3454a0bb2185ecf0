-- A full 7 x 24 grid, so that a heat map has every hour even when nothing happened in it.
WITH grid AS (
    SELECT m.month, d.weekday::INTEGER AS weekday, h.hour::INTEGER AS hour
    FROM (SELECT DISTINCT month FROM joint_incidents) AS m,
         range(1, 8) AS d(weekday), range(0, 24) AS h(hour)
)
SELECT grid.month, grid.weekday, grid.hour,
       figure(j.source = 'ed', j.is_public, j.record_key) AS ed_assaults,
       figure(j.source IN ('police', 'police_uk'), j.is_public, j.record_key) AS police_violence
FROM grid
LEFT JOIN joint_incidents AS j
  ON j.month = grid.month AND j.weekday = grid.weekday AND j.hour = grid.hour
GROUP BY grid.month, grid.weekday, grid.hour
ORDER BY grid.month, grid.weekday, grid.hour
