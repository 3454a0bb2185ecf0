-- Monthly totals, each total rounded as a whole (never the sum of rounded cells), so that the
-- margin cannot be used to recover a suppressed cell by subtraction.
SELECT month,
       count(*) FILTER (WHERE source = 'ed') AS ed_assaults,
       count(*) FILTER (WHERE source IN ('police', 'police_uk')) AS police_violence
FROM joint_incidents
GROUP BY month
ORDER BY month
