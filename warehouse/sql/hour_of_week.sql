-- A full 7 x 24 grid, so that a heat map has every hour even when nothing happened in it. The
-- rows are counted per hour first (one pass, no join of every row), then laid on the grid.
-- Police counts by hour need police records with a time of day (`not_available`, not_available.sql).
WITH grid AS (
    SELECT m.month, d.weekday::INTEGER AS weekday, h.hour::INTEGER AS hour
    FROM (SELECT DISTINCT month FROM joint_incidents) AS m,
         range(1, 8) AS d(weekday), range(0, 24) AS h(hour)
),
hours AS (
    SELECT month, weekday, hour,
           figure(source = 'ed', is_public, record_key) AS ed_assaults,
           figure(source IN ('police', 'police_uk'), is_public, record_key) AS police_violence
    FROM joint_incidents
    WHERE weekday IS NOT NULL AND hour IS NOT NULL
    GROUP BY month, weekday, hour
)
SELECT grid.month, grid.weekday, grid.hour,
       coalesce(hours.ed_assaults, {'n': 0, 'key': 0, 'public': 0}) AS ed_assaults,
       coalesce(hours.police_violence, {'n': 0, 'key': 0, 'public': 0}) AS police_violence,
       n.police_hours AS not_available_reason
FROM grid
LEFT JOIN hours ON hours.month = grid.month AND hours.weekday = grid.weekday AND hours.hour = grid.hour
LEFT JOIN not_available AS n ON n.month = grid.month
ORDER BY grid.month, grid.weekday, grid.hour
