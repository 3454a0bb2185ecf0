-- Incidents per cell and month; rank is added after disclosure control. Each count is a figure
-- (warehouse/tables.py): its protected records, their summed record keys and its public records.
-- A source that shared nothing for the month has no count (`not_available`, not_available.sql):
-- combined is then the other source's records, and says so.
SELECT cells.*, n.totals AS not_available_reason
FROM (
    SELECT month, cell_id,
           figure(source = 'ed', is_public, record_key) AS ed_assaults,
           figure(source IN ('police', 'police_uk'), is_public, record_key) AS police_violence,
           figure(true, is_public, record_key) AS combined
    FROM joint_incidents
    WHERE cell_id IS NOT NULL
    GROUP BY month, cell_id
) AS cells
LEFT JOIN not_available AS n ON n.month = cells.month
ORDER BY cells.month, cells.cell_id
