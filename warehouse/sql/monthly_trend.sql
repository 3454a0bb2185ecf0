-- Monthly totals, each protected as a whole from its own records (never the sum of protected
-- cells), so that the margin cannot be used to recover a cell by subtraction. A source that
-- shared nothing for the month gives no total (`not_available`, not_available.sql), never a 0.
SELECT totals.*, n.totals AS not_available_reason
FROM (
    SELECT month,
           figure(source = 'ed', is_public, record_key) AS ed_assaults,
           figure(source IN ('police', 'police_uk'), is_public, record_key) AS police_violence
    FROM joint_incidents
    GROUP BY month
) AS totals
LEFT JOIN not_available AS n ON n.month = totals.month
ORDER BY totals.month
