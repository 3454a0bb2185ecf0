-- Incidents per cell and month (`cell_figures`, warehouse/tables.py); rank is added after
-- disclosure control. A source that shared nothing for the month has no count (`not_available`,
-- not_available.sql): combined is then the other source's records, and says so.
SELECT cells.*, n.totals AS not_available_reason
FROM cell_figures('joint_incidents') AS cells
LEFT JOIN not_available AS n ON n.month = cells.month
ORDER BY cells.month, cells.cell_id
