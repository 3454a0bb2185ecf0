-- Monthly totals, each protected as a whole from its own records (never the sum of protected
-- cells), so that the margin cannot be used to recover a cell by subtraction.
SELECT month,
       figure(source = 'ed', is_public, record_key) AS ed_assaults,
       figure(source IN ('police', 'police_uk'), is_public, record_key) AS police_violence
FROM joint_incidents
GROUP BY month
ORDER BY month
