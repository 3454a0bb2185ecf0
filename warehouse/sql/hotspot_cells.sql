-- Incidents per cell and month; rank is added after disclosure control. Each count is a figure
-- (warehouse/tables.py): its protected records, their summed record keys and its public records.
SELECT month, cell_id,
       figure(source = 'ed', is_public, record_key) AS ed_assaults,
       figure(source IN ('police', 'police_uk'), is_public, record_key) AS police_violence,
       figure(true, is_public, record_key) AS combined
FROM joint_incidents
WHERE cell_id IS NOT NULL
GROUP BY month, cell_id
ORDER BY month, cell_id
