-- Incidents per cell and month; combined and rank are added after disclosure control.
SELECT month, cell_id,
       count(*) FILTER (WHERE source = 'ed') AS ed_assaults,
       count(*) FILTER (WHERE source IN ('police', 'police_uk')) AS police_violence,
       count(*) AS combined
FROM joint_incidents
WHERE cell_id IS NOT NULL
GROUP BY month, cell_id
ORDER BY month, cell_id
