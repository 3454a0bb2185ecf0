SELECT month, place_id AS venue_id, min(place_name) AS venue_name, min(cell_id) AS cell_id,
       figure(source = 'ed', is_public, record_key) AS ed_assaults,
       figure(source IN ('police', 'police_uk'), is_public, record_key) AS police_violence
FROM joint_incidents
WHERE place_status = 'venue'
GROUP BY month, place_id
ORDER BY month, venue_id
