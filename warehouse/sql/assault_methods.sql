SELECT month, coalesce(method, 'not_known') AS method, count(*) AS ed_assaults
FROM joint_incidents
WHERE source = 'ed'
GROUP BY ALL
ORDER BY month, method
