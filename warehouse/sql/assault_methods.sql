SELECT month, coalesce(method, 'not_known') AS method, figure(true, is_public, record_key) AS ed_assaults
FROM joint_incidents
WHERE source = 'ed'
GROUP BY ALL
ORDER BY month, method
